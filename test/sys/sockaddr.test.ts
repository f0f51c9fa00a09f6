import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AF_INET, AF_INET6 } from '../../src/sys/constants.ts';
import {
  decodeSockaddr,
  encodeSockaddr,
  formatIPv6,
  parseIPv4,
  parseIPv6,
  SOCKADDR_IN_SIZE,
  SOCKADDR_IN6_SIZE,
} from '../../src/sys/sockaddr.ts';

test('sockaddr_in layout and round trip', () => {
  const b = encodeSockaddr('127.0.0.1', 0x1f90);
  assert.equal(b.length, SOCKADDR_IN_SIZE);
  assert.deepEqual([...b.subarray(0, 8)], [AF_INET, 0, 0x1f, 0x90, 127, 0, 0, 1]);
  assert.deepEqual(decodeSockaddr(b, b.length), { family: 'IPv4', address: '127.0.0.1', port: 8080 });
  assert.deepEqual(decodeSockaddr(encodeSockaddr('255.255.255.255', 65535)), {
    family: 'IPv4',
    address: '255.255.255.255',
    port: 65535,
  });
});

test('sockaddr_in6 layout and round trip', () => {
  const b = encodeSockaddr('::1', 443);
  assert.equal(b.length, SOCKADDR_IN6_SIZE);
  assert.equal(b.readUInt16LE(0), AF_INET6);
  assert.equal(b.readUInt16BE(2), 443);
  assert.equal(b[23], 1);
  assert.deepEqual(decodeSockaddr(b), { family: 'IPv6', address: '::1', port: 443 });
  assert.deepEqual(decodeSockaddr(encodeSockaddr('fe80::1%3', 1)), {
    family: 'IPv6',
    address: 'fe80::1',
    port: 1,
    scopeId: 3,
  });
  assert.equal(decodeSockaddr(encodeSockaddr('[2001:db8::7]', 9)).address, '2001:db8::7');
});

test('IPv6 text formatting follows Node/libuv', () => {
  const cases: [string, string][] = [
    ['::', '::'],
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1'],
    ['::ffff:7f00:1', '::ffff:127.0.0.1'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['1::', '1::'],
    ['fe80::', 'fe80::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['ff02::1:ff00:1', 'ff02::1:ff00:1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6::', '1:2:3:4:5:6::'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ];
  for (const [input, want] of cases) {
    const bytes = parseIPv6(input);
    assert.ok(bytes, input);
    assert.equal(formatIPv6(bytes), want, input);
  }
});

test('invalid literals are rejected', () => {
  for (const bad of ['1.2.3', '1.2.3.256', '01.2.3.4', 'a.b.c.d', ''])
    assert.equal(parseIPv4(bad), null, bad);
  for (const bad of [':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '1.2.3.4::', '::1.2.3']) {
    assert.equal(parseIPv6(bad), null, bad);
  }
  assert.throws(() => encodeSockaddr('localhost', 80), TypeError);
  assert.throws(() => encodeSockaddr('127.0.0.1', 70000), RangeError);
  assert.throws(() => decodeSockaddr(Buffer.from([1, 0, 0, 0])), /unsupported address family 1/);
});
