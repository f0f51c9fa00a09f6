// A drain ends only quiet connections. A connection whose bytes wait in the kernel, unread because its
// first read has not come back yet (a process-per-connection child just started under load, its read
// queued behind a busy libuv pool), is not quiet: its client must get its echo, not a bare FIN.
import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import { createServer } from 'node:net';
import { test } from 'node:test';
import echo from '../../src/apps/echo.ts';
import { BlockingConnection } from '../../src/backends/blocking/connection.ts';
import { memoryLogger } from '../../src/log.ts';
import { resolveLimits } from '../../src/net/limits.ts';
import { ServerCore } from '../../src/net/server-core.ts';
import * as sys from '../../src/sys/index.ts';
import { TestClient } from '../helpers/client.ts';

/** Keep every libuv pool thread busy for about `ms` (pbkdf2 runs there): a pool read waits behind them. */
function occupyPool(ms: number): Promise<unknown> {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  // Calibrate on this machine now (a loaded box is slower): iterations for ~ms of one thread.
  const start = performance.now();
  const probe = 20_000;
  return new Promise<number>((resolve) =>
    pbkdf2('p', 's', probe, 32, 'sha256', () => resolve(performance.now() - start)),
  ).then((took) => {
    const iterations = Math.ceil((probe * ms) / Math.max(took, 1));
    return Promise.all(
      Array.from(
        { length: threads },
        () => new Promise((r) => pbkdf2('p', 's', iterations, 32, 'sha256', r)),
      ),
    );
  });
}

test('sys.unreadBytes counts what the peer sent and nobody read yet', async () => {
  const server = createServer((s) => {
    s.on('error', () => {}); // closed with 'hello' unread: the kernel resets it
    s.write('hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const fd = sys.socket(sys.AF_INET, sys.SOCK_STREAM);
  try {
    assert.equal(sys.connect(fd, '127.0.0.1', port), 0);
    for (let i = 0; i < 200 && sys.unreadBytes(fd) < 5; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sys.unreadBytes(fd), 5);
  } finally {
    sys.close(fd);
    server.close();
  }
});

test('a drain does not end a connection whose first bytes are still unread in the kernel', async () => {
  const listenFd = sys.socket(sys.AF_INET, sys.SOCK_STREAM);
  sys.bind(listenFd, '127.0.0.1', 0);
  sys.listen(listenFd, 16);
  const port = sys.getsockname(listenFd).port;
  const core = new ServerCore({
    app: echo,
    limits: resolveLimits({}),
    logger: memoryLogger(),
    maxConnections: Infinity,
  });
  core.start();
  const client = await TestClient.open(port);
  try {
    const payload = Buffer.alloc(3000, 'x');
    client.write(payload);
    const fd = sys.accept4(listenFd, 0);
    assert.ok(fd >= 0, `accept4: ${fd}`);
    for (let i = 0; i < 200 && sys.unreadBytes(fd) < payload.length; i++)
      await new Promise((r) => setTimeout(r, 5));
    // The pool is busy for far longer than the drain's quiet period (100 ms): the first read comes late.
    const busy = occupyPool(600);
    await new Promise((r) => setTimeout(r, 20));
    const served = new BlockingConnection(core, fd, 'pool').serve();
    const drained = core.drain(10_000);
    await busy;
    const back = await client.waitFor(payload.length, 10_000);
    assert.ok(back.equals(payload), 'the bytes sent before the drain come back whole');
    await client.waitEnded(10_000);
    await drained;
    await served;
  } finally {
    client.close();
    sys.close(listenFd);
  }
});
