// The bounded models: the iterative server leaves clients in the kernel's accept queue; process per
// connection reaps every child (no zombie) after 200 concurrent clients.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger, serve } from '../../src/index.ts';
import { readProcNetTcp } from '../../src/inspect/proc-net-tcp.ts';
import { eventually, TestClient } from '../helpers/client.ts';
import { zombieChildren } from './helpers.ts';

function acceptQueue(port: number): number {
  const rows = readProcNetTcp({ port, families: [4] }).rows.filter((r) => r.state === 'LISTEN');
  return rows.reduce((n, r) => n + r.rxQueue, 0);
}

test('iterative: one client is served, the others wait in the accept queue', async () => {
  const server = await serve({
    app: 'echo',
    model: 'iterative',
    backend: 'syscall',
    port: 0,
    logger: memoryLogger(),
  });
  try {
    const first = await TestClient.open(server.port);
    first.write('hi');
    await first.waitFor(2);
    const waiting = await Promise.all(Array.from({ length: 10 }, () => TestClient.open(server.port)));
    for (const c of waiting) c.write('x');
    await eventually(() => acceptQueue(server.port) === 10, 3000, 'an accept queue of 10');
    assert.equal((await server.stats()).accepted, 1);
    assert.ok(
      waiting.every((c) => c.received === 0),
      'a waiting client was served',
    );
    first.close();
    // Then they are served in turn.
    for (const c of waiting) {
      await c.waitFor(1);
      c.close();
    }
    await eventually(async () => (await server.stats()).accepted === 11, 3000, 'all 11 accepted');
    assert.equal(acceptQueue(server.port), 0);
  } finally {
    await server.close();
  }
});

test('process per connection: 200 concurrent clients, every child reaped', async (t) => {
  const started = Date.now();
  const server = await serve({
    app: 'echo',
    model: 'process-per-connection',
    backend: 'syscall',
    maxChildren: 50,
    port: 0,
    logger: memoryLogger(),
  });
  try {
    const clients = await Promise.all(
      Array.from({ length: 200 }, () => TestClient.open(server.port, '127.0.0.1', 60_000)),
    );
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, server.pids().length - 1)), 20);
    await Promise.all(
      clients.map(async (c, i) => {
        c.write(`client ${i}`);
        await c.waitFor(`client ${i}`.length, 60_000);
        c.close();
      }),
    );
    clearInterval(sampler);
    assert.ok(peak <= 50, `more than maxChildren children at once: ${peak}`);
    await eventually(() => server.pids().length === 1, 10_000, 'every child gone');
    await eventually(() => zombieChildren().length === 0, 2000, 'no zombie');
    const stats = await server.stats();
    assert.equal(stats.accepted, 200);
    t.diagnostic(`200 clients in ${Date.now() - started} ms, at most ${peak} children at once`);
  } finally {
    await server.close();
  }
  assert.deepEqual(zombieChildren(), []);
});
