// Crashes (issue 8, item 3): a process-per-connection child that dies (exit, an exception thrown from a
// timer, an unhandled rejection) takes only its own client with it, is reaped, and is logged with the
// error; the other clients keep echoing. (A handler that throws is a conformance case for every model; a
// multi-reactor worker killed with SIGKILL under load is in test/models/multi-reactor.test.ts.) A thread-pool
// thread that exits takes only its client too, and a new thread restores the pool to its size.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { memoryLogger, serve } from '../../src/index.ts';
import { eventually, TestClient } from '../helpers/client.ts';
import { zombieChildren } from '../models/helpers.ts';
import { faultApp } from './helpers.ts';

async function echo(c: TestClient, text: string): Promise<void> {
  const before = c.received;
  c.write(`${text}\n`);
  await c.waitFor(before + text.length + 1, 10_000);
  assert.equal(c.data().subarray(before).toString(), `${text}\n`);
}

describe('crashes', { concurrency: false, timeout: 60_000 }, () => {
  for (const backend of ['syscall', 'node'] as const) {
    test(`process per connection (${backend}): a child that dies takes only its own client; it is reaped and logged`, async (t) => {
      const logger = memoryLogger();
      const server = await serve({
        app: faultApp('crash'),
        model: 'process-per-connection',
        backend,
        port: 0,
        logger,
      });
      try {
        const clients = await Promise.all(
          Array.from({ length: 6 }, () => TestClient.open(server.port, '127.0.0.1', 10_000)),
        );
        await Promise.all(clients.map((c, i) => echo(c, `hello ${i}`)));
        const [exits, throws, rejects, ...others] = clients;
        exits.write('exit\n');
        throws.write('throw later\n');
        rejects.write('reject later\n');
        // The others are served throughout.
        for (let round = 0; round < 5; round++)
          await Promise.all(others.map((c, i) => echo(c, `r${round} ${i}`)));
        await Promise.all([exits, throws, rejects].map((c) => c.waitClosed(10_000)));
        await eventually(() => server.pids().length === 1 + others.length, 10_000, 'the dead children gone');
        await eventually(() => zombieChildren().length === 0, 5000, 'no zombie');
        for (const c of others) await echo(c, 'still here');
        const logs = logger.entries.map((e) => `${e.level} ${e.message} ${JSON.stringify(e.fields ?? {})}`);
        t.diagnostic(logs.filter((l) => !l.startsWith('info') && !l.startsWith('debug')).join('\n'));
        assert.ok(
          logs.some((l) => /connection child \d+ died \(code 3\)/.test(l)),
          'exit logged',
        );
        assert.ok(logs.some((l) => l.includes('uncaught exception') && l.includes('thrown from a timer')));
        assert.ok(logs.some((l) => l.includes('uncaught exception') && l.includes('rejected, never caught')));
        for (const c of others) c.close();
        await eventually(() => server.pids().length === 1, 10_000, 'all children gone');
      } finally {
        await server.close();
      }
      assert.deepEqual(zombieChildren(), []);
    });
  }
  test('thread pool: a thread that dies takes only its own client; the pool is restored to its size', async () => {
    const logger = memoryLogger();
    const server = await serve({
      app: faultApp('crash'),
      model: 'thread-pool',
      workers: 3,
      restartDelay: 150,
      port: 0,
      logger,
    });
    try {
      const [first, second, steady] = await Promise.all(
        Array.from({ length: 3 }, () => TestClient.open(server.port, '127.0.0.1', 10_000)),
      );
      await Promise.all([first, second, steady].map((c, i) => echo(c, `hello ${i}`)));
      first.write('exit\n');
      second.write('exit\n');
      await Promise.all([first, second].map((c) => c.waitClosed(10_000)));
      await echo(steady, 'still here');
      // Two new clients are served at once beside the steady one: both dead threads were replaced.
      const late = await Promise.all(
        Array.from({ length: 2 }, () => TestClient.open(server.port, '127.0.0.1', 10_000)),
      );
      await Promise.all(late.map((c, i) => echo(c, `late ${i}`)));
      const stats = await server.stats();
      assert.equal(stats.closed.error, 2, 'each cut client counted');
      assert.equal(stats.active, 3);
      const died = logger.entries.filter((e) => /thread \d+ died \(code 3\): replacing it/.test(e.message));
      assert.equal(died.length, 2);
      // --restart-delay, doubled for the second crash in a row.
      assert.deepEqual(
        died.map((e) => /in (\d+) ms/.exec(e.message)?.[1]),
        ['150', '300'],
      );
      for (const c of [steady, ...late]) c.close();
    } finally {
      await server.close();
    }
  });
  test('process per connection: a child that hangs on its way out is killed, and its slot serves the next client', async () => {
    const logger = memoryLogger();
    const server = await serve({
      app: faultApp('hang-at-exit'),
      model: 'process-per-connection',
      maxChildren: 1,
      exitGrace: 500,
      port: 0,
      logger,
    });
    try {
      const first = await TestClient.open(server.port, '127.0.0.1', 10_000);
      await echo(first, 'one');
      first.close();
      // One child at a time: the second client is served only once the first child is gone.
      const second = await TestClient.open(server.port, '127.0.0.1', 10_000);
      await echo(second, 'two');
      assert.ok(
        logger.entries.some((e) =>
          /connection child \d+ finished but did not exit within 500 ms: killed/.test(e.message),
        ),
        'the stuck child was killed',
      );
      second.close();
      await eventually(() => server.pids().length === 1, 10_000, 'the second stuck child killed too');
    } finally {
      await server.close();
    }
    assert.deepEqual(zombieChildren(), []);
  });
});
