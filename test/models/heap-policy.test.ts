// The process's heap policy (src/models/heap-policy.ts): a reactor or proactor started in-process by
// serve() leaves the caller's V8 flags alone unless asked (smallYoungGeneration: true); asked, it is
// applied once for the process. (Worker processes and `c10k serve` apply it by default: their process is
// c10k's own.) This file runs in a process of its own, so the order below is the process's history.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger, serve } from '../../src/index.ts';
import { heapPolicyApplied } from '../../src/models/heap-policy.ts';

test('heap policy: off in-process by default, applied once when asked', async () => {
  const start = async (extra: { smallYoungGeneration?: boolean }) => {
    const server = await serve({
      app: 'echo',
      model: 'reactor',
      backend: 'node',
      port: 0,
      logger: memoryLogger(),
      ...extra,
    });
    await server.close();
  };
  await start({});
  assert.equal(heapPolicyApplied(), false, "a library user's process keeps V8's defaults");
  await start({ smallYoungGeneration: false });
  assert.equal(heapPolicyApplied(), false);
  await start({ smallYoungGeneration: true });
  assert.equal(heapPolicyApplied(), true, 'asked: applied');
  await start({ smallYoungGeneration: true });
  assert.equal(heapPolicyApplied(), true, 'and again: nothing more (applied once per process)');
});
