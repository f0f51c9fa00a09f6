// The C1M ladder at small scale: 200 -> 2,000 connections, each held idle, each echoing one verified
// message, memory and inspect figures recorded, everything stopped afterwards; a rung the kernel check
// blocks starts nothing and says which setting to raise.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { readLimits } from '../../src/report/ladder/plan.ts';
import { runLadder, runRung } from '../../src/report/ladder/run.ts';

const base = {
  holdMs: 300,
  echoRate: 20_000,
  size: 64,
  backend: 'syscall' as const,
  inspect: true,
  minAvailableBytes: 0,
};

function children(): number[] {
  // ps itself is a child while it runs: leave it out
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([pid, comm]) => Number(pid) > 0 && comm !== 'ps')
    .map(([pid]) => Number(pid));
}

test('a ladder of 200 -> 2,000 connections: every one established, idle, then echoed and verified', async () => {
  const before = children();
  const rungs = await runLadder({ ...base, rungs: [200, 2000] });
  assert.equal(rungs.length, 2);
  for (const r of rungs) {
    assert.equal(r.status, 'ok', r.reason);
    assert.equal(r.established, r.connections);
    assert.equal(r.echoed, r.connections);
    assert.equal(r.mismatches, 0);
    assert.ok(r.connectMs > 0);
    assert.ok(r.echoP50Us !== null && r.echoP50Us > 0);
    assert.ok(r.serverIdleBaselineBytes > 10 * 2 ** 20, 'a Node server holds more than 10 MiB idle');
    assert.ok(r.serverHeldBytes >= r.serverIdleBaselineBytes * 0.9);
    assert.ok(r.inspectMs !== null && r.inspectMs > 0);
    assert.equal(r.inspectOwned, r.connections, 'inspect found a holder for every connection');
    // what else ran while inspect did: its own CPU, the dump as delivered, the others' CPU
    assert.ok(r.inspectCpu && r.inspectCpu.inspectMs !== null && r.inspectCpu.inspectMs > 0);
    assert.ok(
      r.inspectCpu.dump && r.inspectCpu.dump.recvs > 0 && r.inspectCpu.dump.bytes > r.connections * 72,
    );
    assert.ok(r.inspectCpu.othersMs >= 0 && r.inspectCpu.loadAverage >= 0);
    assert.ok(r.serverIdleAnonBytes !== null && r.serverIdleAnonBytes > 2 ** 20, 'private memory read');
    assert.ok(r.serverHeldAnonBytes !== null && r.serverAnonBytesPerConn !== null);
    for (const k of ['server', 'baseline', 'connect', 'hold', 'memory', 'inspect', 'echo', 'stop'] as const)
      assert.ok((r.phasesMs[k] ?? -1) >= 0, `phase ${k} timed`);
    assert.ok(r.totalMs >= r.phasesMs.connect! + r.phasesMs.echo!);
    assert.equal(typeof r.connectCounters.ListenOverflows, 'number');
    assert.equal(r.plan.workers, 1);
    assert.equal(r.plan.sources, 1);
  }
  // the server and its workers are gone; no child of ours is left
  assert.deepEqual(
    children().filter((p) => !before.includes(p)),
    [],
  );
});

test('a rung the kernel check blocks starts nothing and names the setting', async () => {
  const limits = { ...readLimits(), fileMax: 100 };
  const r = await runRung(2000, { ...base, rungs: [2000] }, limits);
  assert.equal(r.status, 'blocked');
  assert.equal(r.established, 0);
  assert.match(r.reason, /fs\.file-max \(ENFILE\).*sysctl -w fs\.file-max=\d+/);
});

test('a rung that would take the box under its free-memory floor stops and is recorded as ENOMEM', async () => {
  const r = await runRung(2000, { ...base, rungs: [2000], minAvailableBytes: 2 ** 50 });
  assert.notEqual(r.status, 'ok');
  assert.match(r.reason, /^ENOMEM: MemAvailable/);
});
