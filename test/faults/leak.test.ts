// Leaks (issue 8, item 6), the short variant: 20,000 connections in 4 waves (connect, echo, close: FIN and
// RST in turn) against a reactor in its own process; afterwards its descriptor count is back to the
// baseline exactly and its V8 heap (after a full GC) within 10% of where it started. The long variant,
// 1,000,000 connections, is bench/faults-leak.ts.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { eventually } from '../helpers/client.ts';
import { MiB, runWaves, startFleet, startServerChild } from './helpers.ts';

const cleanup: (() => void)[] = [];
after(() => {
  for (const f of cleanup.splice(0)) f();
});

describe('leaks', { concurrency: false, timeout: 120_000 }, () => {
  for (const backend of ['syscall', 'node'] as const) {
    test(`20,000 connections in 4 waves (${backend}): fds back to the baseline exactly, heap within 10%`, async (t) => {
      const server = await startServerChild({ app: 'echo', backend, port: 0 }, { gc: true });
      cleanup.push(server.kill);
      const fleets = [startFleet(), startFleet()];
      for (const f of fleets) cleanup.push(f.kill);
      try {
        // A first wave warms what is built once (caches, pools, JIT), then the baseline is taken.
        await runWaves(server, fleets, 1, 1000, 20);
        await eventually(async () => (await server.probe()).stats.active === 0, 5000, 'warm-up closed');
        const before = await server.probe(true);
        const started = Date.now();
        const total = await runWaves(server, fleets, 4, 5000, 20);
        const ms = Date.now() - started;
        await eventually(async () => (await server.probe()).stats.active === 0, 10_000, 'all closed');
        const afterWaves = await server.probe(true);
        const heapGrowth = (afterWaves.heapUsed - before.heapUsed) / before.heapUsed;
        t.diagnostic(
          `${total.done} connections in ${ms} ms (${Math.round(total.done / (ms / 1000))}/s), ${total.failed} failed; fds ${before.fds} -> ${afterWaves.fds}; heap ${(before.heapUsed / MiB).toFixed(2)} -> ${(afterWaves.heapUsed / MiB).toFixed(2)} MiB (${(heapGrowth * 100).toFixed(1)}%); RSS ${(before.rss / MiB).toFixed(0)} -> ${(afterWaves.rss / MiB).toFixed(0)} MiB; closes ${JSON.stringify(afterWaves.stats.closed)}`,
        );
        assert.equal(total.failed, 0, JSON.stringify(total.errors));
        assert.equal(total.done, 20_000);
        assert.equal(afterWaves.stats.accepted - before.stats.accepted, 20_000);
        assert.equal(afterWaves.fds, before.fds, 'descriptors left behind');
        assert.ok(heapGrowth < 0.1, `heap grew ${(heapGrowth * 100).toFixed(1)}%`);
        assert.equal(afterWaves.stats.closed.error, 0);
      } finally {
        for (const f of fleets) f.kill();
        await server.close();
      }
    });
  }
});
