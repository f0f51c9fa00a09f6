// A syscall connection whose output waits for writability copies the read-slot views it holds once, when
// it begins to wait (what it is given afterwards is copied as it comes): not on every partial flush, which
// would rescan the whole backlog per writable event behind a slow reader. The echo still arrives whole.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Outbox } from '../../src/backends/syscall/outbox.ts';
import { memoryLogger, serve } from '../../src/index.ts';
import { syscallBackendAvailable } from '../../src/sys/index.ts';

const LINE = `${'y'.repeat(63)}\n`;
const LINES = 160_000; // 10 MiB each way: more than the kernel buffers between the two hold

test('syscall reactor: output waiting for a slow reader is made its own once per wait', {
  skip: syscallBackendAvailable() ? false : 'the syscall backend needs Linux',
}, async () => {
  const own = Outbox.prototype.own;
  const give = Outbox.give;
  const owned = new Set<Outbox>();
  let owns = 0;
  let again = 0;
  Outbox.prototype.own = function (this: Outbox, ...args: Parameters<typeof own>) {
    owns++;
    if (owned.has(this)) again++;
    owned.add(this);
    return own.apply(this, args);
  };
  Outbox.give = (out: Outbox) => {
    owned.delete(out);
    give(out);
  };
  const server = await serve({
    app: 'line-echo',
    model: 'reactor',
    backend: 'syscall',
    multiplexer: 'epoll',
    port: 0,
    maxWriteBuffer: 64 << 20, // the backlog is the point here, not a slow-consumer close
    logger: memoryLogger(),
  });
  try {
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.pause(); // the replies back up in the server's outbox
    const batch = LINE.repeat(100);
    for (let i = 0; i < LINES / 100; i++) socket.write(batch);
    await sleep(300);
    // Read slowly: one chunk, a pause, the next: many partial flushes, many writable events.
    let received = '';
    const all = new Promise<void>((resolve, reject) => {
      socket.once('close', () => reject(new Error(`closed after ${received.length} bytes`)));
      socket.on('data', (d: Buffer) => {
        received += d.toString('latin1');
        if (received.length >= LINES * LINE.length) resolve();
        socket.pause();
        setTimeout(() => socket.resume(), 1);
      });
    });
    socket.resume();
    await all;
    assert.equal(received, LINE.repeat(LINES));
    assert.ok(owns > 0, 'the output waited for writability (else this test tests nothing)');
    assert.equal(again, 0, `own() ran again on an outbox already waiting (${again} of ${owns} calls)`);
    socket.destroy();
  } finally {
    await server.close();
    Outbox.prototype.own = own;
    Outbox.give = give;
  }
});
