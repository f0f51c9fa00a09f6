// Slow and silent peers (issue 8, item 2). 1,000 clients that never read while the app streams to them
// without regard for back-pressure: each is cut at maxWriteBuffer ('slow-consumer'), the server's memory
// stays under its bound, and ten ordinary clients keep their echo latency. Slowloris clients (a partial
// line, then nothing or a byte now and then) are cut by --partial-timeout, silent ones by --idle-timeout,
// while clients that send whole lines go on.
//
// The bound: a connection queues at most maxWriteBuffer plus the one write that crosses it, so the write
// queues of N slow readers hold at most N x (maxWriteBuffer + that write); with 64 KiB allowed for that
// write and the buffers' own overhead, RSS <= baseline + N x (maxWriteBuffer + 64 KiB). The kernel holds
// ~50 KB more per connection in socket buffers (the clients advertise an Internet MSS and a small window;
// over loopback's 64 KB MSS it would be ~3 MB each), outside the process's RSS, until the cut: a slow
// consumer is closed with a reset, so the kernel frees them at once.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { memoryLogger, serve } from '../../src/index.ts';
import { readProcNetTcp } from '../../src/inspect/proc-net-tcp.ts';
import { eventually, sleep } from '../helpers/client.ts';
import { faultApp, MiB, percentile, rssBytes, sources, startFleet, startServerChild } from './helpers.ts';

const cleanup: (() => void)[] = [];
after(() => {
  for (const f of cleanup.splice(0)) f();
});

const SLOW = 1000;
const MAX_WRITE_BUFFER = 256 * 1024;

/** `n` clients that send a line every `everyMs` and time each echo, until stop(). */
function echoClients(port: number, n: number, everyMs: number) {
  const rtts: number[] = [];
  const sockets: Socket[] = [];
  let stopping = false;
  let closed = 0;
  const running = Array.from({ length: n }, async (_, i) => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true });
    sockets.push(s);
    await new Promise((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    s.on('close', () => {
      if (!stopping) closed++;
    });
    let pending = '';
    let waiter: (() => void) | null = null;
    s.on('data', (d) => {
      pending += d.toString();
      waiter?.();
    });
    for (let k = 0; !stopping && !s.destroyed; k++) {
      const line = `client ${i} message ${k}\n`;
      const t = performance.now();
      s.write(line);
      while (!pending.includes('\n') && !s.destroyed) await new Promise<void>((r) => (waiter = r));
      assert.equal(pending, line);
      pending = '';
      rtts.push(performance.now() - t);
      await sleep(everyMs);
    }
  });
  return {
    rtts,
    closed: () => closed,
    stop: async () => {
      stopping = true;
      await Promise.all(running);
      for (const s of sockets) s.destroy();
    },
  };
}

describe('slow and silent peers', { concurrency: false, timeout: 120_000 }, () => {
  for (const backend of ['syscall', 'node'] as const) {
    test(`${SLOW} clients that never read (${backend}): each cut as slow-consumer, memory bounded, others' latency normal`, async (t) => {
      const server = await startServerChild(
        { app: faultApp('stream'), backend, port: 0, maxWriteBuffer: MAX_WRITE_BUFFER },
        { gc: true },
      );
      cleanup.push(server.kill);
      const fleet = startFleet();
      cleanup.push(fleet.kill);
      try {
        await sleep(200);
        const baseline = rssBytes(server.pid);
        const bound = baseline + SLOW * (MAX_WRITE_BUFFER + 64 * 1024);
        const normal = echoClients(server.port, 10, 10);
        await sleep(300);
        const quietP99 = percentile(normal.rtts, 99);
        const quietCount = normal.rtts.length;
        const started = Date.now();
        await fleet.slow(server.port, SLOW, sources(10, 4), 'stream\n');
        let peak = 0;
        let cut = 0;
        while (cut < SLOW && Date.now() - started < 30_000) {
          peak = Math.max(peak, rssBytes(server.pid));
          cut = (await server.probe()).stats.closed['slow-consumer'];
          await sleep(25);
        }
        const cutMs = Date.now() - started;
        await sleep(300);
        await normal.stop();
        const probe = await server.probe(true);
        const p99 = percentile(normal.rtts.slice(quietCount), 99);
        // A server that blocks or spins on its slow readers stalls the echo clients for seconds; a shared
        // box adds hundreds of ms of its own (304 ms against a quiet 54 ms beside two CPU burners), so the
        // bound is relative to the quiet p99, with a floor well under the stall it is there to catch.
        const p99Bound = Math.max(1000, 10 * quietP99);
        t.diagnostic(
          `${SLOW} slow readers cut in ${cutMs} ms; RSS ${(baseline / MiB).toFixed(0)} MiB -> peak ${(peak / MiB).toFixed(0)} MiB (bound ${(bound / MiB).toFixed(0)} MiB = baseline + ${SLOW} x (${MAX_WRITE_BUFFER / 1024} + 64) KiB); after GC: heap ${(probe.heapUsed / MiB).toFixed(1)} MiB, buffers ${(probe.arrayBuffers / MiB).toFixed(1)} MiB; 10 echo clients: ${normal.rtts.length} round trips, p99 ${p99.toFixed(2)} ms while the slow readers were cut (${quietP99.toFixed(2)} ms before them)`,
        );
        assert.equal(cut, SLOW, 'every slow reader cut');
        assert.equal(probe.log['connection # closed: slow-consumer'], SLOW, 'each cut logged');
        assert.ok(peak < bound, `peak RSS ${peak} over the bound ${bound}`);
        assert.ok(probe.arrayBuffers < 16 * MiB, `write queues not freed: ${probe.arrayBuffers} bytes`);
        assert.equal(normal.closed(), 0, 'an echo client was closed');
        assert.ok(normal.rtts.length > quietCount, `no round trip while the slow readers were cut`);
        assert.ok(p99 < p99Bound, `echo p99 ${p99} ms while the slow readers were cut, over ${p99Bound} ms`);
        await eventually(
          async () => (await server.probe()).stats.active === 0,
          5000,
          'every connection gone',
        );
        // Cut with a reset, not a FIN: a FIN would wait behind the bytes the reader never took, and the
        // kernel would keep each socket (an orphan in FIN_WAIT1) for minutes of zero-window probes.
        const lingering = () =>
          readProcNetTcp({ port: server.port }).rows.filter(
            (r) => r.localPort === server.port && r.state !== 'LISTEN' && r.state !== 'TIME_WAIT',
          ).length;
        await eventually(() => lingering() === 0, 5000, 'no server-side socket left for the cut readers');
      } finally {
        fleet.kill();
        await server.close();
      }
    });
  }

  for (const backend of ['syscall', 'node'] as const) {
    test(`slowloris and silent clients (${backend}): partial-timeout and idle-timeout cut them, whole-line clients go on`, async (t) => {
      const server = await serve({
        app: 'line-echo',
        backend,
        partialTimeout: 400,
        idleTimeout: 1000,
        port: 0,
        logger: memoryLogger(),
      });
      const sockets: Socket[] = [];
      const open = async () => {
        const s = connect({ port: server.port, host: '127.0.0.1' });
        await new Promise((resolve) => s.once('connect', resolve));
        s.on('error', () => {});
        sockets.push(s);
        return s;
      };
      try {
        const good = echoClients(server.port, 5, 50);
        const stalled = await Promise.all(Array.from({ length: 100 }, open));
        for (const s of stalled) s.write('GET / HTTP/1.1 and then noth');
        const drips = await Promise.all(Array.from({ length: 100 }, open));
        // A byte every 100 ms, 50 at most: were each byte to restart the partial timer, all 50 would go
        // out (and the partial timeout would cut the dripper only after the last one).
        const dripped = new Map<Socket, number>(drips.map((s) => [s, 0]));
        const dripsAtClose: number[] = [];
        for (const s of drips) s.once('close', () => dripsAtClose.push(dripped.get(s)!));
        let rounds = 0;
        const drip = setInterval(() => {
          if (++rounds > 50) return;
          for (const s of drips)
            if (!s.destroyed) {
              s.write('.');
              dripped.set(s, dripped.get(s)! + 1);
            }
        }, 100);
        const silent = await Promise.all(Array.from({ length: 100 }, open));
        const closedAt = (s: Socket) =>
          new Promise<number>((resolve) => {
            const t0 = Date.now();
            s.once('close', () => resolve(Date.now() - t0));
          });
        const stalledClosed = Promise.all(stalled.map(closedAt));
        const dripsClosed = Promise.all(drips.map(closedAt));
        const silentClosed = Promise.all(silent.map(closedAt));
        const partialMs = await Promise.all([stalledClosed, dripsClosed]);
        clearInterval(drip);
        const idleMs = await silentClosed;
        await sleep(200);
        await good.stop();
        const stats = await server.stats();
        const worst = (xs: number[]) => Math.max(...xs);
        t.diagnostic(
          `stalled closed within ${worst(partialMs[0])} ms, drippers within ${worst(partialMs[1])} ms (partial timeout 400 ms), silent within ${worst(idleMs)} ms (idle timeout 1000 ms); 5 line clients: ${good.rtts.length} round trips, none closed`,
        );
        assert.equal(stats.closed['partial-timeout'], 200);
        assert.equal(stats.closed['idle-timeout'], 100);
        // Were each byte to restart the timer, the drippers would stay open as long as they drip. Counted in
        // drips, not ms: a 400 ms timeout is ~4 of them, and a busy box slows the drips and timers alike.
        assert.ok(
          Math.max(...dripsAtClose) <= 20,
          `a dripper sent ${Math.max(...dripsAtClose)} bytes, 100 ms apart, before a 400 ms partial timeout cut it`,
        );
        assert.ok(Math.min(...idleMs) >= 800, 'a silent client was closed well before its idle timeout');
        assert.equal(good.closed(), 0);
        assert.ok(good.rtts.length >= 5, `only ${good.rtts.length} round trips`);
      } finally {
        for (const s of sockets) s.destroy();
        await server.close();
      }
    });
  }
});
