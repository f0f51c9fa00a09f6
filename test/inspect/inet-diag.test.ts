// sock_diag encoder and parser: request bytes checked field by field, replies parsed from fixtures
// captured on this machine by bench/inspect-capture-fixtures.ts (scenario in fixtures/diag-meta.json).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  DiagError,
  type DiagSocket,
  encodeDumpRequest,
  parseDumpChunk,
  parseDumpReplies,
} from '../../src/inspect/inet-diag.ts';

const fixture = (name: string) =>
  Buffer.from(readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8').replace(/\s+/g, ''), 'hex');
const meta = JSON.parse(readFileSync(new URL('fixtures/diag-meta.json', import.meta.url), 'utf8'));

test('encodeDumpRequest: header, inet_diag_req_v2, port bytecode', () => {
  const b = encodeDumpRequest({ family: 6, states: ['LISTEN', 'ESTABLISHED'], port: 8080, seq: 9 });
  assert.equal(b.length, 16 + 56 + 12);
  assert.equal(b.readUInt32LE(0), b.length);
  assert.equal(b.readUInt16LE(4), 20); // SOCK_DIAG_BY_FAMILY
  assert.equal(b.readUInt16LE(6), 0x301); // NLM_F_REQUEST | NLM_F_DUMP
  assert.equal(b.readUInt32LE(8), 9);
  assert.equal(b[16], 10); // AF_INET6
  assert.equal(b[17], 6); // IPPROTO_TCP
  assert.equal(b[18], (1 << 1) | (1 << 6)); // INET_DIAG_INFO, SKMEMINFO
  assert.equal(b.readUInt32LE(20), (1 << 10) | (1 << 1));
  assert.deepEqual([...b.subarray(72)], [12, 0, 1, 0, 11, 8, 12, 0, 0, 0, 0x90, 0x1f]);
  const all = encodeDumpRequest({ family: 4, info: false });
  assert.equal(all.length, 72);
  assert.equal(all[16], 2);
  assert.equal(all[18], 0);
  assert.equal(all.readUInt32LE(20), 0xffffffff);
});

test('captured IPv4 reply: listener with backlog 5 and 2 queued connections', () => {
  const socks = parseDumpReplies(fixture('diag-v4-port.hex'));
  assert.ok(socks.every((s) => s.localPort === meta.v4.port && s.family === 4));
  const l = socks.find((s) => s.state === 'LISTEN')!;
  assert.equal(l.localAddress, '127.0.0.1');
  assert.equal(l.rxQueue, meta.v4.queued); // accept queue now
  assert.equal(l.txQueue, meta.v4.backlog); // backlog
  assert.equal(l.tcpInfo!.unacked, meta.v4.queued);
  assert.equal(l.tcpInfo!.sacked, meta.v4.backlog);
  assert.ok(l.inode > 0);
  assert.ok(l.skmem && l.skmem.rcvBuf > 0);
  const est = socks.filter((s) => s.state === 'ESTABLISHED');
  assert.equal(est.length, meta.v4.queued);
  assert.deepEqual(est.map((s) => s.remotePort).sort(), [...meta.v4.clientPorts].sort());
  for (const s of est) assert.equal(s.inode, 0); // not accepted yet: no file, no inode
});

test('captured IPv6 reply: accepted connection with 100 unread bytes', () => {
  const socks = parseDumpReplies(fixture('diag-v6-port.hex'));
  const l = socks.find((s) => s.state === 'LISTEN')!;
  assert.equal(l.localAddress, '::1');
  assert.equal(l.txQueue, meta.v6.backlog);
  const e = socks.find((s) => s.state === 'ESTABLISHED')!;
  assert.equal(e.remoteAddress, '::1');
  assert.equal(e.remotePort, meta.v6.clientPort);
  assert.equal(e.rxQueue, meta.v6.unreadBytes);
  assert.ok(e.inode > 0);
  assert.ok(e.skmem!.rmemAlloc >= meta.v6.unreadBytes);
  assert.ok(e.tcpInfo!.bytesReceived! >= meta.v6.unreadBytes);
});

test('captured LISTEN-only dump of all IPv4 listeners', () => {
  const socks = parseDumpReplies(fixture('diag-v4-listen.hex'));
  assert.ok(socks.length >= 1);
  assert.ok(socks.every((s) => s.state === 'LISTEN'));
  assert.ok(socks.some((s) => s.localPort === meta.v4.port && s.txQueue === meta.v4.backlog));
});

test('multi-part: split into datagrams, DONE stops, NLMSG_ERROR throws', () => {
  const buf = fixture('diag-v4-port.hex');
  // walk messages and feed them one at a time, as separate datagrams
  const out: DiagSocket[] = [];
  let o = 0;
  let done = false;
  while (o < buf.length && !done) {
    const len = buf.readUInt32LE(o);
    done = parseDumpChunk(buf.subarray(o, o + len), out).done;
    o += (len + 3) & ~3;
  }
  assert.ok(done);
  assert.equal(out.length, parseDumpReplies(buf).length);
  // a truncated tail is ignored, not misparsed
  assert.equal(parseDumpReplies(buf.subarray(0, 16 + 40)).length, 0);
  const err = Buffer.alloc(36);
  err.writeUInt32LE(36, 0);
  err.writeUInt16LE(2, 4);
  err.writeInt32LE(-22, 16);
  assert.throws(
    () => parseDumpReplies(err),
    (e: unknown) => e instanceof DiagError && e.errno === 22,
  );
  const ack = Buffer.from(err);
  ack.writeInt32LE(0, 16);
  assert.deepEqual(parseDumpReplies(ack), []);
});
