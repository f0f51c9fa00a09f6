// The syscall reactor runs its own multiplexer inside Node's event loop. Node's own loop must keep running
// all the same: timers fire on time and promises settle while clients keep the reactor busy from another
// thread.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { memoryLogger, serve } from '../../src/index.ts';
import { syscallBackendAvailable } from '../../src/sys/index.ts';

// 40 clients in a worker thread (an event loop of its own), each echoing 16 bytes back and forth.
const LOAD = `
const net = require('node:net');
const { workerData, parentPort } = require('node:worker_threads');
let echoed = 0, open = 0;
const end = Date.now() + workerData.ms;
for (let i = 0; i < 40; i++) {
  const s = net.connect(workerData.port, '127.0.0.1', () => { open++; s.write('0123456789abcdef'); });
  let got = 0;
  s.on('data', (d) => {
    got += d.length;
    while (got >= 16) { got -= 16; echoed++; if (Date.now() < end) s.write('0123456789abcdef'); else { s.end(); return; } }
  });
  s.on('error', () => {});
  s.on('close', () => { if (--open === 0) parentPort.postMessage(echoed); });
}
`;

test('syscall reactor, busy: Node timers fire on time and promises settle while it serves', {
  skip: syscallBackendAvailable() ? false : 'the syscall backend needs Linux',
}, async () => {
  const server = await serve({
    app: 'echo',
    model: 'reactor',
    backend: 'syscall',
    multiplexer: 'epoll',
    port: 0,
    logger: memoryLogger(),
  });
  try {
    const worker = new Worker(LOAD, { eval: true, workerData: { port: server.port, ms: 1500 } });
    const echoed = new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // A 5 ms interval and a chain of promises, both on this thread, the reactor's.
    let ticks = 0;
    let worstLateMs = 0;
    let last = performance.now();
    const interval = setInterval(() => {
      const now = performance.now();
      worstLateMs = Math.max(worstLateMs, now - last - 5);
      last = now;
      ticks++;
    }, 5);
    let settled = 0;
    let chain = true;
    const spin = async () => {
      while (chain) {
        await new Promise<void>((r) => setImmediate(r));
        settled++;
      }
    };
    const spinning = spin();
    const total = await echoed;
    clearInterval(interval);
    chain = false;
    await spinning;
    await worker.terminate();
    assert.ok(total > 2000, `the reactor was kept busy: ${total} echoes`);
    // ~300 ticks in 1.5 s; a loaded machine may lose some, a loop that starves Node loses most.
    assert.ok(ticks >= 100, `${ticks} ticks of a 5 ms interval in 1.5 s`);
    assert.ok(worstLateMs < 250, `a 5 ms timer was ${worstLateMs.toFixed(1)} ms late`);
    assert.ok(settled >= 100, `${settled} promise/immediate round trips`);
  } finally {
    await server.close();
  }
});
