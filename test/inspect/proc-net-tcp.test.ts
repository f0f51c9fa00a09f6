// Parser tests on hand-written rows (every state, IPv4, IPv6, v4-mapped, LISTEN with an accept queue)
// and on a capture of this machine's /proc/net/tcp{,6} (see bench/inspect-capture-fixtures.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { test } from 'node:test';
import { formatIPv6, parseProcNetTcp, TCP_STATES } from '../../src/inspect/proc-net-tcp.ts';

const HEAD4 =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const HEAD6 =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const row4 = (i: number, l: string, r: string, st: string, q: string, uid: number, inode: number) =>
  `  ${i}: ${l} ${r} ${st} ${q} 00:00000000 00000000 ${String(uid).padStart(5)}        0 ${inode} 1 0000000000000000 20 4 30 10 -1\n`;

test('IPv4 rows: addresses, ports, every state, queues, uid, inode', () => {
  let text = HEAD4;
  for (let st = 1; st <= 12; st++) {
    text += row4(
      st,
      '0100007F:1F90',
      `0200000A:${(1000 + st).toString(16).toUpperCase().padStart(4, '0')}`,
      st.toString(16).toUpperCase().padStart(2, '0'),
      '0000000A:00000014',
      1000 + st,
      5000 + st,
    );
  }
  const r = parseProcNetTcp(Buffer.from(text), 4);
  assert.equal(r.rows.length, 12);
  assert.equal(r.total, 12);
  for (let st = 1; st <= 12; st++) {
    const row = r.rows[st - 1];
    assert.equal(row.state, TCP_STATES[st]);
    assert.equal(row.localAddress, '127.0.0.1');
    assert.equal(row.localPort, 8080);
    assert.equal(row.remoteAddress, '10.0.0.2');
    assert.equal(row.remotePort, 1000 + st);
    assert.equal(row.txQueue, 10);
    assert.equal(row.rxQueue, 20);
    assert.equal(row.uid, 1000 + st);
    assert.equal(row.inode, 5000 + st);
    assert.equal(r.counts[TCP_STATES[st]], 1);
  }
  assert.deepEqual(
    [TCP_STATES[1], TCP_STATES[3], TCP_STATES[6], TCP_STATES[10], TCP_STATES[12]],
    ['ESTABLISHED', 'SYN_RECV', 'TIME_WAIT', 'LISTEN', 'NEW_SYN_RECV'],
  );
});

test('LISTEN rx_queue is the accept queue; port filter and countOnly', () => {
  const text =
    HEAD4 +
    row4(0, '00000000:1F90', '00000000:0000', '0A', '00000000:00000032', 0, 77) +
    row4(1, '0100007F:1F90', '0100007F:D000', '01', '00000000:00000000', 0, 78) +
    row4(2, '0100007F:D000', '0100007F:1F90', '01', '00000000:00000000', 0, 79) +
    row4(3, '0100007F:1F91', '0100007F:D001', '03', '00000000:00000000', 0, 0);
  const r = parseProcNetTcp(Buffer.from(text), 4, { port: 8080 });
  assert.deepEqual(
    r.rows.map((x) => [x.state, x.localPort, x.rxQueue]),
    [
      ['LISTEN', 8080, 50],
      ['ESTABLISHED', 8080, 0],
    ],
  );
  assert.equal(r.rows[0].localAddress, '0.0.0.0');
  assert.equal(parseProcNetTcp(Buffer.from(text), 4, { port: 8080, side: 'either' }).rows.length, 3);
  assert.equal(parseProcNetTcp(Buffer.from(text), 4, { port: 8080, side: 'remote' }).rows[0].inode, 79);
  const c = parseProcNetTcp(Buffer.from(text), 4, { countOnly: true });
  assert.equal(c.rows.length, 0);
  assert.deepEqual(c.counts, { LISTEN: 1, ESTABLISHED: 2, SYN_RECV: 1 });
  assert.equal(c.total, 4);
});

test('IPv6 rows: compressed, loopback, v4-mapped, full', () => {
  const text =
    HEAD6 +
    '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 11 1 0 100 0 0 10 0\n' +
    '   1: 00000000000000000000000001000000:1F90 0000000000000000FFFF00000100007F:C350 01 00000100:00000000 00:00000000 00000000  1000        0 12 1 0 20 4 30 10 -1\n' +
    '   2: B80D0120000000000000000001000000:0050 000080FE00000000FF000000FE000002:0051 06 00000000:00000000 03:00001000 00000000     0        0 0 3 0\n';
  const r = parseProcNetTcp(Buffer.from(text), 6);
  assert.equal(r.rows.length, 3);
  assert.deepEqual(
    r.rows.map((x) => [x.localAddress, x.remoteAddress]),
    [
      ['::', '::'],
      ['::1', '::ffff:127.0.0.1'],
      ['2001:db8::1', 'fe80::ff:200:fe'],
    ],
  );
  assert.equal(r.rows[1].remotePort, 50000);
  assert.equal(r.rows[1].txQueue, 256);
  assert.equal(r.rows[1].uid, 1000);
  assert.equal(r.rows[0].rxQueue, 3);
  assert.equal(r.rows[2].state, 'TIME_WAIT');
});

test('formatIPv6 matches Node for tricky cases', () => {
  const cases = [
    '1:0:0:1:0:0:0:1',
    '1:0:1:0:1:0:1:0',
    '::2:3:4:5:6:7:8',
    '1::',
    '::0.0.0.2',
    '::ffff:10.1.2.3',
    'fe80::1',
  ];
  for (const c of cases) {
    const bytes = new Uint8Array(16);
    const url = new URL(`http://[${c}]/`).hostname.slice(1, -1); // WHATWG canonical (no v4 forms)
    assert.ok(isIP(url));
    const full = url.includes('::') ? expand(url) : url.split(':');
    full.forEach((w, i) => {
      const n = Number.parseInt(w, 16);
      bytes[2 * i] = n >> 8;
      bytes[2 * i + 1] = n & 0xff;
    });
    assert.equal(formatIPv6(bytes), expectNode(c), c);
  }
});

function expand(a: string): string[] {
  const [l, r] = a.split('::');
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  return [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
}
/** What libuv's inet_ntop prints (Node's socket.remoteAddress). */
function expectNode(c: string): string {
  return (
    (
      {
        '1:0:0:1:0:0:0:1': '1:0:0:1::1',
        '1:0:1:0:1:0:1:0': '1:0:1:0:1:0:1:0',
        '::2:3:4:5:6:7:8': '0:2:3:4:5:6:7:8', // a single zero group is not compressed
        '::0.0.0.2': '::2',
        '::ffff:10.1.2.3': '::ffff:10.1.2.3',
      } as Record<string, string>
    )[c] ?? c
  );
}

test('captured /proc/net/tcp and tcp6 from this machine', () => {
  const meta = JSON.parse(readFileSync(new URL('fixtures/diag-meta.json', import.meta.url), 'utf8'));
  const v4 = parseProcNetTcp(readFileSync(new URL('fixtures/proc-net-tcp.txt', import.meta.url)), 4, {
    port: meta.v4.port,
  });
  const listen = v4.rows.find((r) => r.state === 'LISTEN')!;
  assert.equal(listen.localAddress, '127.0.0.1');
  assert.equal(listen.rxQueue, meta.v4.queued);
  assert.equal(v4.counts.ESTABLISHED, meta.v4.queued);
  const v6 = parseProcNetTcp(readFileSync(new URL('fixtures/proc-net-tcp6.txt', import.meta.url)), 6, {
    port: meta.v6.port,
  });
  const est = v6.rows.find((r) => r.state === 'ESTABLISHED')!;
  assert.equal(est.localAddress, '::1');
  assert.equal(est.remotePort, meta.v6.clientPort);
  assert.equal(est.rxQueue, meta.v6.unreadBytes);
});
