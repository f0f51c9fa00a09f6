// The columnar sock_diag parser (socket-table.ts) against the object parser (inet-diag.ts), on the
// replies captured from a real kernel: every column equals the object's field, datagram by datagram too;
// errors and truncation behave the same; /proc rows pushed as objects read back the same.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { encodeDumpRequest, parseDumpReplies } from '../../src/inspect/inet-diag.ts';
import { skmemBytes } from '../../src/inspect/snapshot.ts';
import { parseDumpIntoTable, SocketTable, TCP_SOCKET_STATES } from '../../src/inspect/socket-table.ts';

const fixture = (name: string) =>
  Buffer.from(readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8').replace(/\s+/g, ''), 'hex');

function sameAsObjects(buf: Buffer, t: SocketTable): void {
  const socks = parseDumpReplies(buf);
  assert.ok(socks.length > 0);
  assert.equal(t.length, socks.length);
  socks.forEach((s, i) => {
    const r = t.row(i);
    for (const k of Object.keys(r) as (keyof typeof r)[]) assert.equal(r[k], s[k], `row ${i} ${k}`);
    assert.equal(t.kernelMemory[i], s.skmem ? skmemBytes(s.skmem) : -1);
    assert.equal(t.drops[i], s.skmem ? s.skmem.drops : -1);
    const bytes =
      s.tcpInfo?.bytesReceived === undefined ? -1 : s.tcpInfo.bytesReceived + s.tcpInfo.bytesAcked!;
    assert.equal(t.kernelBytes[i], bytes);
  });
}

for (const name of ['diag-v4-port.hex', 'diag-v6-port.hex', 'diag-v4-listen.hex']) {
  test(`columns equal the object parser's fields: ${name}`, () => {
    const buf = fixture(name);
    const t = new SocketTable(1); // grows
    assert.deepEqual(parseDumpIntoTable(buf, t), { done: true, error: 0 });
    sameAsObjects(buf, t);
  });
}

test('fed one datagram at a time: same rows, DONE stops, truncation ignored, NLMSG_ERROR reported', () => {
  const buf = fixture('diag-v4-port.hex');
  const t = new SocketTable();
  let o = 0;
  let done = false;
  while (o < buf.length && !done) {
    const len = buf.readUInt32LE(o);
    done = parseDumpIntoTable(buf.subarray(o, o + len), t).done;
    o += (len + 3) & ~3;
  }
  assert.ok(done);
  sameAsObjects(buf, t);
  const cut = new SocketTable();
  assert.deepEqual(parseDumpIntoTable(buf.subarray(0, 16 + 40), cut), { done: false, error: 0 });
  assert.equal(cut.length, 0);
  const err = Buffer.alloc(36);
  err.writeUInt32LE(36, 0);
  err.writeUInt16LE(2, 4);
  err.writeInt32LE(-22, 16);
  assert.deepEqual(parseDumpIntoTable(err, new SocketTable()), { done: true, error: -22 });
});

test('addresses are interned: one string per distinct address, v4-mapped IPv6 included', () => {
  const t = new SocketTable();
  const a = Buffer.from([127, 0, 0, 1, 127, 0, 0, 2]);
  const i = t.internV4(a, 0, a.readUInt32LE(0));
  assert.equal(t.internV4(a, 0, a.readUInt32LE(0)), i);
  assert.notEqual(t.internV4(a, 4, a.readUInt32LE(4)), i);
  const mapped = Buffer.alloc(16);
  mapped.writeUInt16BE(0xffff, 10);
  mapped.set([127, 0, 0, 1], 12);
  const m = t.internV6(mapped, 0);
  assert.equal(t.addresses[m], '::ffff:127.0.0.1');
  assert.equal(t.internV6(Buffer.from(mapped), 0), m);
  assert.equal(t.intern('::ffff:127.0.0.1'), m);
  assert.equal(t.addresses.length, 3);
});

test('push (the /proc fallback) reads back through row(); a row without skmem has -1 figures', () => {
  const t = new SocketTable(1);
  for (let k = 0; k < 3000; k++) {
    t.push({
      family: 4,
      state: k === 0 ? 'LISTEN' : 'ESTABLISHED',
      localAddress: '127.0.0.1',
      localPort: 8080,
      remoteAddress: `127.0.0.${2 + (k % 3)}`,
      remotePort: 40000 + k,
      rxQueue: k,
      txQueue: 2 * k,
      inode: 1000 + k,
    });
  }
  assert.equal(t.length, 3000);
  assert.equal(t.addresses.length, 4);
  assert.deepEqual(t.row(2999), {
    family: 4,
    state: 'ESTABLISHED',
    localAddress: '127.0.0.1',
    localPort: 8080,
    remoteAddress: '127.0.0.4',
    remotePort: 42999,
    rxQueue: 2999,
    txQueue: 5998,
    inode: 3999,
  });
  assert.equal(t.stateName(0), 'LISTEN');
  assert.equal(t.kernelMemory[5], -1);
});

test('the states a dump asks for: every TCP state, not the bind-hash walk of "bound, inactive"', () => {
  const b = encodeDumpRequest({ family: 4, port: 80, states: TCP_SOCKET_STATES });
  assert.equal(b.readUInt32LE(20), 0x1ffe); // ESTABLISHED (1) .. NEW_SYN_RECV (12); not 13
});
