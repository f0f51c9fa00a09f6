// Replacing crashed workers: the delay doubles for each crash in a row up to its cap and starts again
// after a stable run; the options that set it (and the exit grace) are checked when the server starts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServeError } from '../../src/models/types.ts';
import { RestartBackoff } from '../../src/models/worker-fleet.ts';
import { resolveServeOptions } from '../../src/serve.ts';

test('restart backoff: doubles per crash in a row, capped, and a run of twice the cap resets it', () => {
  const backoff = new RestartBackoff(100, 1000);
  const t0 = 1_000_000;
  // Each worker dies 50 ms after it started: a crash loop.
  const delays = Array.from({ length: 6 }, (_, i) => backoff.next(t0 + i * 10_000, t0 + i * 10_000 + 50));
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  // One that ran 2.5 s (over twice the 1 s cap) was stable: the next delay is the first one again.
  assert.equal(backoff.next(t0, t0 + 2500), 100);
  assert.equal(backoff.next(t0 + 3000, t0 + 3010), 200);
  // Exactly twice the cap is not yet stable.
  const edge = new RestartBackoff(100, 1000);
  edge.next(0, 10);
  assert.equal(edge.next(0, 2000), 200);
});

test('restart and exit options: defaults, and a clear error for values out of range', async () => {
  const defaults = await resolveServeOptions({ app: 'echo' });
  assert.equal(defaults.exitGrace, 2000);
  assert.equal(defaults.restartDelay, 100);
  assert.equal(defaults.restartDelayMax, 5000);
  // A first delay above the default cap raises the cap with it.
  assert.equal((await resolveServeOptions({ app: 'echo', restartDelay: 8000 })).restartDelayMax, 8000);
  await assert.rejects(
    resolveServeOptions({ app: 'echo', restartDelay: 500, restartDelayMax: 100 }),
    (e: Error) =>
      e instanceof ServeError && /restartDelayMax \(100\) is below restartDelay \(500\)/.test(e.message),
  );
  await assert.rejects(
    resolveServeOptions({ app: 'echo', restartDelay: 0 }),
    (e: Error) => e instanceof ServeError && /restartDelay must be an integer from 1/.test(e.message),
  );
  await assert.rejects(
    resolveServeOptions({ app: 'echo', exitGrace: -1 }),
    (e: Error) => e instanceof ServeError && /exitGrace must be an integer from 0/.test(e.message),
  );
});
