// Finding 6 of issue 16: a deadline never fires before its time. Connections arrive at random moments
// between the sweep timer's ticks (where the coarse clock is stale) and some of them send a byte at a
// random moment later; each one's time from its own last activity (as the client saw it: it can only be
// earlier than the server's) to the server's close must be at least the timeout. No upper bound but a
// generous one: a loaded machine can only make a timeout late.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { memoryLogger, serve } from '../../src/index.ts';
import { syscallBackendAvailable } from '../../src/sys/index.ts';
import { startServe } from '../helpers/cli.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Measured {
  sinceActive: number;
  reason: string;
}

/** Open a connection after `delay` ms, maybe send a byte `sendAfter` ms after connecting, then wait for
 * the server to close it. */
function client(port: number, delay: number, sendAfter: number | null): Promise<Measured> {
  return new Promise((resolve, reject) => {
    setTimeout(() => {
      const sock = net.connect(port, '127.0.0.1');
      let lastActive = 0;
      sock.on('connect', () => {
        lastActive = performance.now();
        if (sendAfter !== null)
          setTimeout(() => {
            if (sock.destroyed) return;
            lastActive = performance.now();
            sock.write('x');
          }, sendAfter);
      });
      sock.on('data', () => {});
      sock.on('error', () => {});
      sock.on('close', () => resolve({ sinceActive: performance.now() - lastActive, reason: 'closed' }));
      setTimeout(() => reject(new Error('not closed within 20 s')), 20_000).unref();
    }, delay);
  });
}

const backends = syscallBackendAvailable() ? (['syscall', 'node'] as const) : (['node'] as const);
for (const backend of backends) {
  for (const [name, app, reason, timeout] of [
    ['idle timeout 1 s', 'echo', 'idle-timeout', 1000],
    ['idle timeout 300 ms', 'echo', 'idle-timeout', 300],
    // line-echo holds the byte sent as a partial line: the partial-request deadline runs from it
    ['partial timeout 500 ms', 'line-echo', 'partial-timeout', 500],
  ] as const) {
    test(`${backend}: ${name} never cuts a connection before its time`, async () => {
      const options = reason === 'idle-timeout' ? { idleTimeout: timeout } : { partialTimeout: timeout };
      const server = await serve({ app, backend, port: 0, logger: memoryLogger(), ...options });
      try {
        const runs: Promise<Measured>[] = [];
        for (let i = 0; i < 40; i++) {
          const delay = Math.random() * timeout * 1.5;
          const sendAfter = reason === 'idle-timeout' && i % 2 === 0 ? null : Math.random() * timeout * 0.9;
          runs.push(client(server.port, delay, sendAfter));
        }
        const all = await Promise.all(runs);
        const times = all.map((m) => m.sinceActive);
        const early = times.filter((t) => t < timeout);
        assert.deepEqual(
          early.map((t) => Math.round(t)),
          [],
          `${early.length} of 40 cut before ${timeout} ms (shortest ${Math.round(Math.min(...times))} ms)`,
        );
        // generous: a timeout is late by at most a tick or two, plus whatever the machine's load adds
        assert.ok(Math.max(...times) < timeout * 3 + 2000, `a connection held ${Math.max(...times)} ms`);
        await sleep(50);
        assert.equal((await server.stats()).closed[reason], 40);
      } finally {
        await server.close();
      }
    });
  }
}

test('a long turn of the event loop does not make a timeout early: bytes that arrived during it count from when they are read', async (t) => {
  const blocker = new URL('./apps/blocker.ts', import.meta.url).pathname;
  const { child, port } = await startServe(['--app', blocker, '--port', '0', '--idle-timeout', '300ms']);
  try {
    const open = (): Promise<net.Socket> =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', () => {});
        s.on('data', () => {});
      });
    const hold = await open();
    const clients = await Promise.all(Array.from({ length: 10 }, open));
    const closedAt = clients.map(
      (s) => new Promise<number>((r) => s.on('close', () => r(performance.now()))),
    );
    // the server holds its loop 3 s; its echo of the order says when that was over (or later)
    const blockOver = new Promise<number>((r) => hold.once('data', () => r(performance.now())));
    hold.write('block:3000');
    // bytes sent while the server is busy: it reads them when the turn ends
    await sleep(500);
    const sentAt = performance.now();
    for (const s of clients) s.write('x');
    const lives = (await Promise.all(closedAt)).map((at) => at - sentAt);
    if (sentAt >= (await blockOver)) {
      t.skip('this machine was too slow: the bytes were sent after the server was busy again');
      return;
    }
    // read at the end of the turn, so 300 ms after that at least: more than 300 ms after the send
    assert.ok(Math.min(...lives) >= 300, `cut ${Math.round(Math.min(...lives))} ms after the last send`);
    hold.destroy();
  } finally {
    child.kill();
  }
});
