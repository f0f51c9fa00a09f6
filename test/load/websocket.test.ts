// c10k load --protocol websocket end to end: every engine upgrades each connection, echoes masked text
// frames through ws-echo (7-bit, 16-bit and 64-bit lengths) and checks every byte; a server that does
// not upgrade fails each connection as EUPGRADE; one that corrupts a byte is caught.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { defineApp, serve } from '../../src/index.ts';
import { defaultEngine } from '../../src/load/engine.ts';
import { runLoad } from '../../src/load/run.ts';
import type { EngineName, LoadOptions } from '../../src/load/stats.ts';
import type { ServerHandle } from '../../src/models/types.ts';
import { type WsMessage, websocket } from '../../src/protocols/websocket.ts';

function options(port: number, over: Partial<LoadOptions> = {}): LoadOptions {
  return {
    host: '127.0.0.1',
    port,
    connections: 50,
    connectRate: 0,
    maxConnecting: 500,
    connectTimeout: 5000,
    duration: 700,
    size: 64,
    rate: 0,
    protocol: 'websocket',
    sources: [],
    processes: 1,
    hold: false,
    engine: 'node',
    ...over,
  };
}

const corrupting = defineApp<WsMessage, string | Uint8Array>({
  protocol: websocket(),
  message(conn, m) {
    const copy = Buffer.from(m.data);
    if (conn.messagesIn % 50 === 7) copy[0] ^= 1;
    conn.send(copy.toString('latin1'));
  },
});

describe('c10k load --protocol websocket', async () => {
  const engines: EngineName[] = (await defaultEngine()) === 'sys' ? ['node', 'sys'] : ['node'];
  let wsEcho: ServerHandle;
  let plainEcho: ServerHandle;
  let bad: ServerHandle;
  before(async () => {
    wsEcho = await serve({ app: 'ws-echo', port: 0 });
    plainEcho = await serve({ app: 'echo', port: 0 });
    bad = await serve({ app: corrupting, port: 0 });
  });
  after(async () => {
    await Promise.all([wsEcho.close(), plainEcho.close(), bad.close()]);
  });

  for (const engine of engines) {
    for (const size of [64, 126, 70_000]) {
      it(`${engine}: ${size}-byte messages echoed and verified, no mismatch`, async () => {
        const { stats: s } = await runLoad(
          options(wsEcho.port, { engine, size, connections: size > 1000 ? 10 : 50 }),
        );
        assert.equal(s.established, s.attempted);
        assert.ok(s.messages > 0, 'no message completed');
        assert.equal(s.mismatches, 0);
        assert.equal(s.closedByServer, 0);
        assert.ok(s.bytesVerified > 0);
      });
    }

    it(`${engine}: a server that does not upgrade fails every connection as EUPGRADE`, async () => {
      const { stats: s } = await runLoad(options(plainEcho.port, { engine, connections: 5 }));
      assert.equal(s.established, 0);
      assert.equal(s.failed.other, 5);
      assert.equal(s.otherCodes.EUPGRADE, 5);
    });

    it(`${engine}: a server that never answers the upgrade fails each connection as a timeout`, async () => {
      const silent = createServer((socket) => socket.on('error', () => {}).resume());
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const port = (silent.address() as { port: number }).port;
        const { stats: s } = await runLoad(options(port, { engine, connections: 3, connectTimeout: 400 }));
        assert.equal(s.established, 0);
        assert.equal(s.failed.timeout, 3);
      } finally {
        silent.close();
      }
    });

    it(`${engine}: a corrupted echo is counted as a mismatch`, async () => {
      const { stats: s } = await runLoad(options(bad.port, { engine, connections: 5 }));
      assert.ok(s.mismatches > 0);
    });
  }
});
