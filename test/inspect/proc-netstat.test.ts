import assert from 'node:assert/strict';
import { test } from 'node:test';
import { counterDelta, parseNetstat, pickTcpCounters } from '../../src/inspect/proc-netstat.ts';
import {
  parseFdLimit,
  parseStat,
  readProcessStats,
  socketInodeOfLink,
} from '../../src/inspect/proc-process.ts';

const NETSTAT = `TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts ListenOverflows ListenDrops TCPBacklogDrop
TcpExt: 3 2 1 0 17 19 4
IpExt: InNoRoutes InOctets
IpExt: 0 157865579
`;
const SNMP = `Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab
Tcp: 1 200 120000 -1 31 2 0 0 5
`;

test('parseNetstat reads header/value pairs; pickTcpCounters picks and defaults', () => {
  const g = parseNetstat(NETSTAT);
  parseNetstat(SNMP, g);
  assert.equal(g.TcpExt.ListenOverflows, 17);
  assert.equal(g.IpExt.InOctets, 157865579);
  assert.equal(g.Tcp.MaxConn, -1);
  const c = pickTcpCounters(g);
  assert.equal(c.ListenOverflows, 17);
  assert.equal(c.ListenDrops, 19);
  assert.equal(c.SyncookiesSent, 3);
  assert.equal(c.TCPBacklogDrop, 4);
  assert.equal(c.TCPReqQFullDrop, 0); // absent -> 0
  assert.equal(c.CurrEstab, 5);
  const later = { ...c, ListenOverflows: 20, CurrEstab: 9 };
  const d = counterDelta(c, later);
  assert.equal(d.ListenOverflows, 3);
  assert.equal(d.CurrEstab, 9);
});

test('process parsers: limits, stat with odd comm, socket links', () => {
  const limits = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                 40000                files
`;
  assert.deepEqual(parseFdLimit(limits), { soft: 20000, hard: 40000 });
  assert.deepEqual(parseFdLimit('Max open files  unlimited unlimited files\n'), { soft: null, hard: null });
  const st = parseStat('123 (my (odd) name) S 45 123 123 0 -1 4194560');
  assert.deepEqual(st, { pid: 123, comm: 'my (odd) name', state: 'S', ppid: 45 });
  assert.equal(socketInodeOfLink('socket:[98765]'), 98765);
  assert.equal(socketInodeOfLink('pipe:[1]'), -1);
  const me = readProcessStats(process.pid)!;
  assert.equal(me.pid, process.pid);
  assert.ok(me.fds! > 2);
  assert.ok(me.rss! > 1_000_000);
});
