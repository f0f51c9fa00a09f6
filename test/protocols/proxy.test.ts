import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAddress, parseAddress, parseCidrList } from '../../src/protocols/cidr.ts';
import { ProtocolError } from '../../src/protocols/codec.ts';
import {
  encodeProxyHeader,
  type ProxyHeader,
  parseProxyHeader,
  proxyPreface,
} from '../../src/protocols/proxy.ts';

const v2 = (hex: string) => Buffer.from(`0d0a0d0a000d0a515549540a${hex.replace(/\s/g, '')}`, 'hex');

const valid: [string, Buffer, ProxyHeader][] = [
  [
    'v1 TCP4',
    Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n'),
    {
      version: 1,
      command: 'PROXY',
      family: 'IPv4',
      source: { address: '1.2.3.4', port: 1111 },
      destination: { address: '5.6.7.8', port: 2222 },
    },
  ],
  [
    'v1 TCP6',
    Buffer.from('PROXY TCP6 2001:db8::1 ::1 65535 0\r\n'),
    {
      version: 1,
      command: 'PROXY',
      family: 'IPv6',
      source: { address: '2001:db8::1', port: 65535 },
      destination: { address: '::1', port: 0 },
    },
  ],
  ['v1 UNKNOWN', Buffer.from('PROXY UNKNOWN\r\n'), { version: 1, command: 'PROXY', family: 'unknown' }],
  [
    'v1 UNKNOWN with junk',
    Buffer.from('PROXY UNKNOWN ffff::1 ::2 1 2\r\n'),
    { version: 1, command: 'PROXY', family: 'unknown' },
  ],
  [
    'v2 PROXY TCP4',
    v2('21 11 000c 01020304 05060708 0457 08ae'),
    {
      version: 2,
      command: 'PROXY',
      family: 'IPv4',
      source: { address: '1.2.3.4', port: 1111 },
      destination: { address: '5.6.7.8', port: 2222 },
    },
  ],
  [
    'v2 PROXY TCP4 with a TLV',
    v2('21 11 0013 01020304 05060708 0457 08ae 04 0004 deadbeef'),
    {
      version: 2,
      command: 'PROXY',
      family: 'IPv4',
      source: { address: '1.2.3.4', port: 1111 },
      destination: { address: '5.6.7.8', port: 2222 },
    },
  ],
  [
    'v2 PROXY TCP6',
    v2(`21 21 0024 20010db8000000000000000000000001 00000000000000000000ffff0a000001 0050 01bb`),
    {
      version: 2,
      command: 'PROXY',
      family: 'IPv6',
      source: { address: '2001:db8::1', port: 80 },
      destination: { address: '::ffff:10.0.0.1', port: 443 },
    },
  ],
  ['v2 LOCAL', v2('20 00 0000'), { version: 2, command: 'LOCAL', family: 'unknown' }],
  [
    'v2 LOCAL ignores addresses',
    v2('20 11 000c 01020304 05060708 0457 08ae'),
    { version: 2, command: 'LOCAL', family: 'IPv4' },
  ],
  ['v2 PROXY UNSPEC', v2('21 00 0000'), { version: 2, command: 'PROXY', family: 'unknown' }],
  ['v2 PROXY unix', v2(`21 31 00d8 ${'00'.repeat(216)}`), { version: 2, command: 'PROXY', family: 'unix' }],
];

test('valid headers parse at every prefix length and through the preface', () => {
  for (const [name, bytes, header] of valid) {
    const tail = Buffer.from('GET / HTTP/1.1\r\n');
    const input = Buffer.concat([bytes, tail]);
    assert.deepEqual(parseProxyHeader(input), { done: true, consumed: bytes.length, header }, name);
    for (let i = 0; i < bytes.length; i++)
      assert.deepEqual(parseProxyHeader(input.subarray(0, i)), { done: false }, `${name} at ${i}`);
    for (let split = 1; split < input.length; split++) {
      const preface = proxyPreface();
      assert.deepEqual(
        preface.push(input.subarray(0, split)),
        split < bytes.length
          ? { state: 'need-more' }
          : { state: 'done', header, rest: input.subarray(bytes.length, split) },
        `${name} split ${split}`,
      );
      if (split < bytes.length) {
        assert.equal(preface.buffered, split);
        const done = preface.push(input.subarray(split));
        assert.equal(done.state, 'done');
        if (done.state === 'done') {
          assert.deepEqual(done.header, header);
          assert.equal(done.rest.toString(), tail.toString());
        }
      }
    }
  }
});

test('encodeProxyHeader round-trips', () => {
  for (const [, , header] of valid.filter(
    ([n]) => !n.includes('ignores') && !n.includes('unix') && !n.includes('junk'),
  )) {
    const again = parseProxyHeader(encodeProxyHeader(header));
    assert.ok(again.done);
    assert.deepEqual(again.header, header);
  }
});

test('malformed headers throw ProtocolError', () => {
  const bad = [
    'GET / HTTP/1.1\r\n',
    'PROXZ TCP4',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1111\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222 3333\r\n',
    'PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n',
    'PROXY TCP4 ::1 5.6.7.8 1 2\r\n',
    'PROXY TCP6 1.2.3.4 ::1 1 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
    'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n',
    'PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n',
    `PROXY UNKNOWN ${'x'.repeat(100)}\r\n`,
    `PROXY ${'x'.repeat(120)}`,
  ].map((s) => Buffer.from(s));
  bad.push(
    v2('11 11 000c 01020304 05060708 0457 08ae'), // version 1
    v2('22 11 000c 01020304 05060708 0457 08ae'), // command 2
    v2('21 41 000c 01020304 05060708 0457 08ae'), // family 4
    v2('21 13 000c 01020304 05060708 0457 08ae'), // transport 3
    v2('21 11 0008 01020304 05060708'), // too short for AF_INET
    v2('21 21 000c 01020304 05060708 0457 08ae'), // too short for AF_INET6
    v2('21 11 ffff'), // longer than the bound
    Buffer.from('0d0a0d0a000d0a515549540b', 'hex'), // signature off by one bit
  );
  for (const input of bad) {
    assert.throws(() => parseProxyHeader(input), ProtocolError, JSON.stringify(input.toString('latin1')));
    assert.throws(() => proxyPreface().push(input), ProtocolError);
  }
  assert.throws(() => parseProxyHeader(v2('21 11 0100'), { maxV2Length: 255 }), ProtocolError);
});

test('CIDR lists match IPv4, IPv6 and IPv4-mapped addresses', () => {
  const trusted = parseCidrList('127.0.0.0/8, ::1/128,10.1.0.0/16,2001:db8::/32, 192.168.1.7,fe80::/10');
  for (const yes of [
    '127.0.0.1',
    '127.255.255.255',
    '::ffff:127.0.0.1',
    '::1',
    '[::1]',
    '10.1.200.3',
    '::ffff:10.1.0.0',
    '2001:db8:ffff::1',
    '192.168.1.7',
    'fe80::1%eth0',
    'febf::1',
  ]) {
    assert.equal(trusted(yes), true, yes);
  }
  for (const no of [
    '128.0.0.1',
    '::2',
    '10.2.0.1',
    '2001:db9::1',
    '192.168.1.8',
    'fec0::1',
    'localhost',
    '',
    '1.2.3',
    '::ffff:1.2.3.4.5',
    '1::2::3',
  ]) {
    assert.equal(trusted(no), false, no);
  }
  assert.equal(parseCidrList('0.0.0.0/0')('::ffff:8.8.8.8'), true);
  assert.equal(parseCidrList('0.0.0.0/0')('2001:db8::1'), false);
  assert.equal(parseCidrList('::/0')('2001:db8::1'), true);
  assert.equal(parseCidrList('10.0.0.0/9')('10.127.0.1'), true);
  assert.equal(parseCidrList('10.0.0.0/9')('10.128.0.1'), false);
  assert.equal(parseCidrList('')('127.0.0.1'), false);
  assert.equal(parseCidrList(['::ffff:0:0/96'])('1.2.3.4'), true);
  for (const bad of ['10.0.0.0/33', '::/129', 'abc', '10.0.0.0/x', '1.2.3.04'])
    assert.throws(() => parseCidrList(bad), RangeError, bad);
});

test('address formatting', () => {
  const f = (s: string) => formatAddress(parseAddress(s)!);
  assert.equal(f('2001:0db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
  assert.equal(f('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
  assert.equal(f('::'), '::');
  assert.equal(f('1:2:3:4:5:6:7:8'), '1:2:3:4:5:6:7:8');
  assert.equal(f('1.2.3.4'), '::ffff:1.2.3.4');
  assert.equal(formatAddress(parseAddress('1.2.3.4')!, true), '1.2.3.4');
  assert.equal(f('::1.2.3.4'), '::1.2.3.4'); // as Node (libuv's inet_ntop) prints IPv4-compatible addresses
});
