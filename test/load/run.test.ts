// The load generator end to end against in-process servers: clean runs on every protocol and engine,
// a corrupting server (mismatches reported, no crash), a closed port (refused), open loop, hold, and
// two worker processes whose results merge.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
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
      const { stats } = await runLoad(options(echo.port, { engine }));
      assert.equal(stats.attempted, 50);
      assert.equal(stats.established, 50);
      assert.equal(stats.closedByServer, 0);
      assert.equal(stats.mismatches, 0);
      assert.ok(stats.messages > 0, 'messages echoed');
      assert.equal(stats.latency.count, stats.messages);
      assert.equal(stats.connectTime.count, 50);
      assert.ok(stats.bytesVerified >= stats.messages * 64);
      assert.ok(stats.elapsedMs >= 990 && stats.elapsedMs < 3000, `window ${stats.elapsedMs} ms`);
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

    it(`${engine}: open loop at a fixed rate, latency from intended send times`, async () => {
      const { stats } = await runLoad(
        options(echo.port, { engine, connections: 10, rate: 1000, duration: 1000 }),
      );
      // loose bounds: the machine may be busy; the rate can never exceed what was scheduled
      const perSecond = stats.messages / (stats.elapsedMs / 1000);
      assert.ok(
        perSecond >= 700 && perSecond <= 1010,
        `${stats.messages} messages in ${stats.elapsedMs} ms at 1000/s`,
      );
      assert.equal(stats.mismatches, 0);
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
