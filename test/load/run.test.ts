// The load generator end to end against in-process servers: clean runs on every protocol and engine,
// a corrupting server (mismatches reported, no crash), a closed port (refused), open loop, hold, and
// two worker processes whose results merge.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { defineApp, serve } from '../../src/index.ts';
import { defaultEngine } from '../../src/load/engine.ts';
import { runLoad } from '../../src/load/run.ts';
import type { EngineName, LoadOptions } from '../../src/load/stats.ts';
import type { ServerHandle } from '../../src/models/types.ts';

function options(port: number, over: Partial<LoadOptions> = {}): LoadOptions {
  return {
    host: '127.0.0.1',
    port,
    connections: 50,
    connectRate: 0,
    maxConnecting: 500,
    connectTimeout: 5000,
    duration: 1000,
    size: 64,
    rate: 0,
    protocol: 'raw',
    sources: [],
    processes: 1,
    hold: false,
    engine: 'node',
    ...over,
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

const lengthEcho = defineApp({
  protocol: 'length',
  message(conn, frame: Buffer) {
    conn.send(frame);
  },
});

describe('c10k load', async () => {
  const engines: EngineName[] = (await defaultEngine()) === 'sys' ? ['node', 'sys'] : ['node'];
  let echo: ServerHandle;
  let lineEcho: ServerHandle;
  let framedEcho: ServerHandle;
  before(async () => {
    echo = await serve({ app: 'echo', port: 0 });
    lineEcho = await serve({ app: 'line-echo', port: 0 });
    framedEcho = await serve({ app: lengthEcho, port: 0 });
  });
  after(async () => {
    await Promise.all([echo.close(), lineEcho.close(), framedEcho.close()]);
  });

  for (const engine of engines) {
    it(`${engine}: 50 connections for 1 s against echo, zero mismatches`, async () => {
      const called = performance.now();
      const { stats } = await runLoad(options(echo.port, { engine }));
      const wall = performance.now() - called;
      assert.equal(stats.attempted, 50);
      assert.equal(stats.established, 50);
      assert.equal(stats.closedByServer, 0);
      assert.equal(stats.mismatches, 0);
      assert.ok(stats.messages > 0, 'messages echoed');
      assert.equal(stats.latency.count, stats.messages);
      assert.equal(stats.connectTime.count, 50);
      assert.ok(stats.bytesVerified >= stats.messages * 64);
      // The measured window is the whole --duration and lies inside the call (which returned by itself).
      assert.ok(
        stats.elapsedMs >= 990 && stats.elapsedMs <= wall,
        `window ${stats.elapsedMs} ms of ${wall} ms`,
      );
    });

    it(`${engine}: line and length framing against line-echo and a length-prefixed echo`, async () => {
      for (const [server, protocol] of [
        [lineEcho, 'line'],
        [framedEcho, 'length'],
      ] as const) {
        const { stats } = await runLoad(
          options(server.port, { engine, protocol, size: 100, connections: 10, duration: 300 }),
        );
        assert.equal(stats.established, 10, protocol);
        assert.equal(stats.mismatches, 0, protocol);
        assert.ok(stats.messages > 0, protocol);
      }
    });

    it(`${engine}: a server that flips a byte is caught, not fatal`, async () => {
      let chunks = 0;
      const server = createServer((s) => {
        s.on('data', (d) => {
          if (++chunks % 5 === 0) d[0] ^= 0xff;
          s.write(d);
        });
        s.on('error', () => {});
      });
      const port = await listen(server);
      try {
        const { stats } = await runLoad(options(port, { engine, connections: 10, duration: 300 }));
        assert.equal(stats.established, 10);
        assert.ok(stats.mismatches > 0, 'mismatches counted');
        assert.ok(stats.messages > 0);
        assert.ok(stats.bytesVerified > 0);
        assert.ok(stats.bytesVerified < stats.bytesReceived, 'the flipped bytes are not counted as verified');
      } finally {
        server.close();
      }
    });

    it(`${engine}: a closed port counts as refused`, async () => {
      const probe = createServer();
      const port = await listen(probe);
      await new Promise((r) => probe.close(r));
      const { stats } = await runLoad(options(port, { engine, connections: 5, duration: 10 }));
      assert.equal(stats.attempted, 5);
      assert.equal(stats.established, 0);
      assert.equal(stats.failed.refused, 5);
      assert.equal(stats.messages, 0);
    });

    it(`${engine}: a server that hangs up is counted as closed by the server`, async () => {
      const server = createServer((s) => {
        s.once('data', () => s.destroy());
        s.on('error', () => {});
      });
      const port = await listen(server);
      try {
        const { stats } = await runLoad(options(port, { engine, connections: 8, duration: 300 }));
        assert.equal(stats.established, 8);
        assert.equal(stats.closedByServer, 8);
      } finally {
        server.close();
      }
    });

    it(`${engine}: open loop at a fixed rate, latency from intended send times (a stall shows in every message due during it)`, async () => {
      // An echo server that, 300 ms after the first message, holds everything for STALL ms. Every message
      // due at time t inside the stall cannot come back before the stall ends, so its latency, measured
      // from t (coordinated-omission correction), is at least stallEnd - t: of the messages due during
      // the stall, those due in its first (STALL - d) ms all show a latency of d or more. A generator
      // timing from the actual send would show the stall only on the few messages in flight when it began
      // (one per connection). No wall-clock threshold: the bounds come from the stall this run measured.
      const STALL = 600;
      const RATE = 200;
      const CONNECTIONS = 4;
      let stallStart = -1;
      let stallEnd = -1;
      let stalled = false;
      const held: { socket: Socket; data: Buffer }[] = [];
      const server = createServer((socket) => {
        socket.on('data', (data) => {
          if (stallStart === -1) {
            stallStart = 0;
            setTimeout(() => {
              stalled = true;
              stallStart = performance.now();
              setTimeout(() => {
                stalled = false;
                stallEnd = performance.now();
                for (const h of held.splice(0)) h.socket.write(h.data);
              }, STALL);
            }, 300);
          }
          if (stalled) held.push({ socket, data: Buffer.from(data) });
          else socket.write(data);
        });
        socket.on('error', () => {});
      });
      const port = await listen(server);
      try {
        const { stats } = await runLoad(
          options(port, { engine, connections: CONNECTIONS, rate: RATE, duration: 1600, size: 64 }),
        );
        assert.equal(stats.mismatches, 0);
        assert.ok(stallEnd > 0, 'the stall ended within the run');
        // Never more than scheduled: one message per 1/RATE s, plus the one each connection may owe.
        assert.ok(
          stats.messages <= (stats.elapsedMs / 1000) * RATE + CONNECTIONS,
          `${stats.messages} messages in ${stats.elapsedMs} ms at ${RATE}/s`,
        );
        const stall = stallEnd - stallStart; // as long as the timers made it: a busy box only lengthens it
        const latency = stats.latency;
        /** Messages with a latency of at least `ms` (bucket precision: a little under counts too). */
        const atLeast = (ms: number) => {
          let n = 0;
          for (let i = 0; i < latency.count; i++) {
            const p = latency.percentile((100 * (latency.count - i)) / latency.count);
            if (p < ms * 1000 * 0.99) break;
            n++;
          }
          return n;
        };
        for (const fraction of [0.25, 0.5, 0.75]) {
          const d = stall * fraction;
          // Messages due in [stallStart, stallEnd - d): one every 1000 / RATE ms; one less for rounding.
          const due = Math.floor(((stall - d) * RATE) / 1000) - 1;
          assert.ok(
            atLeast(d) >= due,
            `${atLeast(d)} messages show ${Math.round(d)} ms or more of a ${Math.round(stall)} ms stall; the ${due} ` +
              'due in its first part must (latency measured from the intended send time)',
          );
        }
        assert.ok(
          latency.max >= stall * 1000 * 0.95,
          `max ${latency.max} us against a ${Math.round(stall)} ms stall`,
        );
      } finally {
        server.close();
      }
    });

    it(`${engine}: hold keeps connections open without traffic, sources spread them`, async () => {
      const { stats } = await runLoad(
        options(echo.port, {
          engine,
          connections: 20,
          hold: true,
          duration: 200,
          sources: ['127.0.0.2', '127.0.0.3'],
        }),
      );
      assert.equal(stats.established, 20);
      assert.equal(stats.messages, 0);
      assert.equal(stats.bytesSent, 0);
    });
  }

  it('connects a full accept queue never finishes count as timeout', {
    skip: engines.length < 2,
  }, async () => {
    // a listener that never accepts: past its backlog the kernel drops SYNs and connects hang
    const sys = await import('../../src/sys/index.ts');
    const fd = sys.listenTcp({ host: '127.0.0.1', port: 0, backlog: 1 });
    try {
      const port = sys.getsockname(fd).port;
      for (const engine of engines) {
        const { stats } = await runLoad(
          options(port, { engine, connections: 10, connectTimeout: 300, duration: 10 }),
        );
        assert.equal(stats.attempted, 10);
        assert.ok(stats.failed.timeout >= 7, `${engine}: ${stats.failed.timeout} timeouts`);
        assert.equal(stats.established + stats.failed.timeout, 10);
      }
    } finally {
      sys.close(fd);
    }
  });

  it('--processes 2 with 40 connections merges to 40 established', async () => {
    const { stats } = await runLoad(
      options(echo.port, {
        engine: engines[engines.length - 1],
        connections: 40,
        processes: 2,
        duration: 500,
      }),
    );
    assert.equal(stats.attempted, 40);
    assert.equal(stats.established, 40);
    assert.equal(stats.connectTime.count, 40);
    assert.equal(stats.mismatches, 0);
    assert.ok(stats.messages > 0);
    assert.equal(stats.latency.count, stats.messages);
  });
});
