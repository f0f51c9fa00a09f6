// c10k serve --ws-ping and --ws-max-message reach the websocket codec of the app, in the serving process
// and in every worker (multi-reactor): a client that answers pings stays, one that does not is closed; a
// message of exactly --ws-max-message is echoed, one byte more closes with 1009.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OP_BINARY, OP_CLOSE, OP_PING } from '../../src/protocols/websocket.ts';
import { exited, startServe } from '../helpers/cli.ts';
import { RawWsClient } from '../helpers/ws-client.ts';

for (const model of ['reactor', 'multi-reactor']) {
  test(`${model}: --ws-ping closes a peer that does not answer, keeps one that does; --ws-max-message`, async () => {
    const extra = model === 'multi-reactor' ? ['--workers', '2'] : [];
    const { child, port } = await startServe([
      '--app',
      'ws-echo',
      '--port',
      '0',
      '--model',
      model,
      ...extra,
      '--ws-ping',
      '300ms',
      '--ws-max-message',
      '1000',
    ]);
    try {
      const silent = await RawWsClient.open(port);
      const polite = await RawWsClient.open(port);
      // the polite one answers each ping with a pong
      const answering = (async () => {
        for (;;) {
          const f = await polite.next(5000).catch(() => null);
          if (f === null) return;
          if (f.opcode === OP_PING) polite.send(0xa, f.payload);
        }
      })();
      const ping = await silent.next(5000);
      assert.equal(ping.opcode, OP_PING);
      const started = Date.now();
      await silent.tcp.waitClosed(5000);
      assert.ok(Date.now() - started >= 100, 'closed before the next ping was due');
      assert.ok(!polite.tcp.closed, 'the peer that answers was closed');

      const c = await RawWsClient.open(port);
      c.send(OP_BINARY, Buffer.alloc(1000, 1));
      let f = await c.next();
      while (f.opcode === OP_PING) f = await c.next();
      assert.equal(f.payload.length, 1000);
      c.send(OP_BINARY, Buffer.alloc(1001, 1));
      f = await c.next();
      while (f.opcode === OP_PING) f = await c.next();
      assert.equal(f.opcode, OP_CLOSE);
      assert.equal(f.payload.readUInt16BE(0), 1009);
      polite.close();
      await answering;
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
  });
}

test('--ws-max-message 0 is a usage error', async () => {
  const { runCli } = await import('../helpers/cli.ts');
  const r = await runCli(['serve', '--app', 'ws-echo', '--ws-max-message', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /ws-max-message/);
});
