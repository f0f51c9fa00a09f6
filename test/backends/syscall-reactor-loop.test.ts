// The syscall reactor runs its own multiplexer inside Node's event loop. Node's own loop must keep running
// all the same: timers fire and promises settle between the reactor's turns while clients keep it busy
// from another thread.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { defineApp, memoryLogger, serve } from '../../src/index.ts';
import { syscallBackendAvailable } from '../../src/sys/index.ts';

// 40 clients in a worker thread (an event loop of its own), each echoing 16 bytes back and forth until
// told to stop (or, as a bound, for 30 s).
const LOAD = `
const net = require('node:net');
const { workerData, parentPort } = require('node:worker_threads');
let echoed = 0, open = 0, stop = false;
parentPort.on('message', () => { stop = true; });
const bound = setTimeout(() => { stop = true; }, 30000);
for (let i = 0; i < 40; i++) {
  const s = net.connect(workerData.port, '127.0.0.1', () => { open++; s.write('0123456789abcdef'); });
  let got = 0;
  s.on('data', (d) => {
    got += d.length;
    while (got >= 16) { got -= 16; echoed++; if (!stop) s.write('0123456789abcdef'); else { s.end(); return; } }
  });
  s.on('error', () => {});
  s.on('close', () => { if (--open === 0) { clearTimeout(bound); parentPort.postMessage(echoed); } });
}
`;

const WANTED = 50;

// No wall-clock threshold: what counts is that Node's timers and immediates run *between* the reactor's
// turns while it serves. Each timer tick and each immediate notes whether the reactor echoed anything
// since the previous one; the load stops once both have interleaved WANTED times. A reactor that kept
// Node's loop waiting while busy would see its timers run only once the load ends (after 30 s), with no
// echo in between, and one that yields only now and then would serve far more than a turn's worth between
// two immediates.
test('syscall reactor, busy: Node timers fire and promises settle between its turns while it serves', {
  skip: syscallBackendAvailable() ? false : 'the syscall backend needs Linux',
}, async () => {
  let served = 0;
  const server = await serve({
    app: defineApp({
      protocol: 'raw',
      message(conn, data: Buffer) {
        served++;
        conn.send(data);
      },
    }),
    model: 'reactor',
    backend: 'syscall',
    multiplexer: 'epoll',
    port: 0,
    logger: memoryLogger(),
  });
  try {
    const worker = new Worker(LOAD, { eval: true, workerData: { port: server.port } });
    const echoed = new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // A 5 ms interval and a chain of immediates and promises, both on this thread, the reactor's.
    let ticks = 0;
    let busyTicks = 0;
    let settled = 0;
    let busySettles = 0;
    let stopped = false;
    const stopWhenDone = () => {
      if (!stopped && busyTicks >= WANTED && busySettles >= WANTED) {
        stopped = true;
        worker.postMessage('stop');
      }
    };
    let servedAtTick = served;
    const interval = setInterval(() => {
      ticks++;
      if (served > servedAtTick) busyTicks++;
      servedAtTick = served;
      stopWhenDone();
    }, 5);
    let chain = true;
    let mostPerImmediate = 0;
    const spin = async () => {
      let servedAtSettle = served;
      while (chain) {
        await new Promise<void>((r) => setImmediate(r));
        settled++;
        if (served > servedAtSettle) busySettles++;
        mostPerImmediate = Math.max(mostPerImmediate, served - servedAtSettle);
        servedAtSettle = served;
        stopWhenDone();
      }
    };
    const spinning = spin();
    const total = await echoed;
    clearInterval(interval);
    chain = false;
    await spinning;
    await worker.terminate();
    assert.ok(total > 0 && served >= total, `the reactor served ${served} messages, ${total} echoes counted`);
    assert.ok(
      busyTicks >= WANTED,
      `only ${busyTicks} of ${ticks} timer ticks ran between turns of a busy reactor (Node's loop starved)`,
    );
    assert.ok(
      busySettles >= WANTED,
      `only ${busySettles} of ${settled} immediate/promise round trips ran between turns of a busy reactor`,
    );
    // The reactor yields after every turn, and a turn reads each socket once: with one 16-byte message in
    // flight per client, no more than 40 messages (a few turns' worth at most) between two immediates.
    assert.ok(
      mostPerImmediate <= 3 * 40,
      `${mostPerImmediate} messages served between two immediates: the reactor held Node's loop for many turns`,
    );
  } finally {
    await server.close();
  }
});
