// A replacement that fails to start is logged as that, and tried again: not as the worker it replaces
// dying a second time (with an exit code it never had).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryLogger } from '../../src/log.ts';
import { type FleetWorker, WorkerFleet } from '../../src/models/worker-fleet.ts';

test('worker fleet: a replacement that fails to start is logged as such and tried again', async () => {
  const logger = memoryLogger();
  let starts = 0;
  const started = Promise.withResolvers<void>();
  const fleet = new WorkerFleet<FleetWorker>(
    'worker',
    { logger, bus: undefined, drainTimeout: 1000, exitGrace: 1000, restartDelay: 5, restartDelayMax: 20 },
    async () => {
      if (++starts === 1) throw new Error('spawn EAGAIN');
      started.resolve();
    },
  );
  const dead: FleetWorker = {
    id: 4242,
    slot: 0,
    startedAt: Date.now() - 60_000,
    ready: true,
    retiring: false,
    final: null,
    lastKnown: null,
    exited: Promise.resolve(),
    send: () => false,
    kill: () => {},
  };
  fleet.replace(dead, 'code 3');
  await Promise.race([started.promise, sleep(5000)]);
  fleet.stop();
  assert.equal(starts, 2, 'tried again after the failed start');
  const messages = logger.entries.map((e) => e.message);
  assert.equal(messages.filter((m) => /worker 4242 died/.test(m)).length, 1, messages.join('\n'));
  assert.ok(
    messages.some((m) => /^worker 4242 died \(code 3\): replacing it in \d+ ms$/.test(m)),
    messages.join('\n'),
  );
  assert.ok(
    messages.some((m) =>
      /replacement for worker 4242 failed to start \(spawn EAGAIN\): trying again/.test(m),
    ),
    messages.join('\n'),
  );
});
