// The ladder's sizing and kernel check as pure functions: each setting that would stop the climb is
// named with the sysctl to raise it, exactly at the limit and one past it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernelBlockers, type Limits, planRung } from '../../src/report/ladder/plan.ts';

const box: Limits = {
  nofile: 20_000,
  nrOpen: 1_048_576,
  fileMax: 2_466_239,
  filesOpen: 3_000,
  portRange: [32768, 60999],
  somaxconn: 4096,
  tcpMem: [287907, 383877, 575814],
  memAvailableBytes: 21 * 2 ** 30,
};

test('planRung sizes workers, load processes and sources from the open-files limit and port range', () => {
  const p = planRung(1_000_000, box);
  // (20000 - 256) * 0.85 = 16782 per worker; 18000 per load process; 9410 per source (a third of 28232)
  assert.deepEqual(p, {
    connections: 1_000_000,
    workers: 60,
    loadProcesses: 56,
    sources: 107,
    perSource: 9410,
  });
  assert.ok(p.sources + 1 <= 254, 'sources stay in 127.0.0.2 .. 127.0.0.254');
  const small = planRung(2000, box);
  assert.deepEqual([small.workers, small.loadProcesses, small.sources], [1, 1, 1]);
  // at exactly one worker's share, one worker; one past it, two
  assert.equal(planRung(16_782, box).workers, 1);
  assert.equal(planRung(16_783, box).workers, 2);
  const tight = planRung(100_000, { ...box, nofile: 2256 });
  assert.equal(tight.workers, 59); // 1700 per worker
});

test('this box passes the check at 1M', () => {
  assert.deepEqual(kernelBlockers(1_000_000, box), []);
});

test('fs.file-max: exactly enough passes, one less is named with its sysctl', () => {
  const need = 2 * 1_000_000 + 1000 * (60 + 56);
  assert.deepEqual(kernelBlockers(1_000_000, { ...box, fileMax: box.filesOpen + need }), []);
  const b = kernelBlockers(1_000_000, { ...box, fileMax: box.filesOpen + need - 1 });
  assert.equal(b.length, 1);
  assert.equal(b[0].setting, 'fs.file-max');
  assert.equal(b[0].reason, 'ENFILE');
  assert.match(b[0].fix, /^sysctl -w fs\.file-max=\d+$/);
});

test('ports, somaxconn, tcp_mem, nr_open and memory are each named', () => {
  const narrow = kernelBlockers(1_000_000, { ...box, portRange: [50000, 60999] });
  assert.deepEqual(
    narrow.map((b) => [b.setting, b.reason]),
    [['net.ipv4.ip_local_port_range', 'ports']],
  );
  assert.match(narrow[0].fix, /ip_local_port_range="\d+ 65535"/);
  const q = kernelBlockers(1_000_000, { ...box, somaxconn: 128 });
  assert.deepEqual(
    q.map((b) => b.setting),
    ['net.core.somaxconn'],
  );
  assert.equal(q[0].reason, 'accept queue');
  // 56 load processes x 500 connects in flight over 60 workers: 467 per accept queue
  assert.deepEqual(kernelBlockers(1_000_000, { ...box, somaxconn: 467 }), []);
  assert.equal(kernelBlockers(1_000_000, { ...box, somaxconn: 466 }).length, 1);
  const mem = kernelBlockers(1_000_000, { ...box, tcpMem: [100, 200, 499_999] });
  assert.deepEqual(
    mem.map((b) => [b.setting, b.reason]),
    [['net.ipv4.tcp_mem', 'tcp memory']],
  );
  assert.deepEqual(kernelBlockers(1_000_000, { ...box, tcpMem: [100, 200, 500_000] }), []);
  const nr = kernelBlockers(1000, { ...box, nofile: 2_000_000 });
  assert.ok(nr.some((b) => b.setting === 'fs.nr_open' && b.reason === 'EMFILE'));
  const low = kernelBlockers(1_000_000, { ...box, memAvailableBytes: 4 * 2 ** 30 });
  assert.deepEqual(
    low.map((b) => [b.setting, b.reason]),
    [['memory (MemAvailable)', 'ENOMEM']],
  );
  // a smaller rung fits where 1M does not
  assert.deepEqual(kernelBlockers(100_000, { ...box, memAvailableBytes: 4 * 2 ** 30 }), []);
});

test('past 256 load processes the open-files limit itself is named', () => {
  const b = kernelBlockers(10_000_000, {
    ...box,
    fileMax: 1e9,
    memAvailableBytes: 2 ** 50,
    tcpMem: [1, 2, 1e9],
  });
  const settings = b.map((x) => x.setting);
  assert.ok(settings.includes('ulimit -n (RLIMIT_NOFILE)'), settings.join());
  assert.ok(settings.includes('net.ipv4.ip_local_port_range'), settings.join());
});
