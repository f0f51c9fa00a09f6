// The node backend's read path: on this Node, accepted sockets read into the event loop's one shared
// buffer (no allocation per read; see src/backends/node/user-buffer.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeReads, userBufferAvailable } from '../../src/backends/node/user-buffer.ts';
import { defineApp, memoryLogger, serve } from '../../src/index.ts';
import { TestClient } from '../helpers/client.ts';

test('node reactor: each read is a view of the shared read buffer, and echoes still come back whole', async () => {
  assert.ok(userBufferAvailable, "this Node's net.Socket lacks the onread internals user-buffer.ts uses");
  const seen: boolean[] = [];
  const app = defineApp({
    protocol: 'raw',
    message(conn, chunk: Buffer) {
      seen.push(nodeReads.holds(chunk));
      conn.send(chunk);
    },
  });
  const server = await serve({ app, backend: 'node', model: 'reactor', port: 0, logger: memoryLogger() });
  try {
    const client = await TestClient.open(server.port);
    let expected = '';
    for (let i = 0; i < 20; i++) {
      const line = `message ${i}\n`;
      expected += line;
      client.write(line);
      await client.waitFor(expected.length);
    }
    assert.equal(client.data().toString(), expected);
    assert.ok(seen.length > 0 && seen.every(Boolean), `reads not in the shared buffer: ${seen}`);
    client.close();
  } finally {
    await server.close();
  }
});
