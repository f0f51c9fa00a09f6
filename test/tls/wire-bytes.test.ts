// Under TLS a connection's bytes in count what crossed the wire (ciphertext), once: not the ciphertext plus
// the plaintext it decrypted to. The client's own TCP socket says how many bytes it sent.
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { memoryLogger, serve } from '../../src/index.ts';
import { eventually } from '../helpers/client.ts';
import { makeCerts, opensslMissing, type TestCerts } from '../helpers/tls.ts';

const skip = opensslMissing();
let certs: TestCerts;
before(() => {
  if (!skip) certs = makeCerts('ec');
});
after(() => certs?.remove());

for (const backend of ['syscall', 'node'] as const) {
  test(`TLS (${backend}): bytesIn is the ciphertext the client sent, counted once`, { skip }, async () => {
    const server = await serve({
      app: 'echo',
      backend,
      port: 0,
      logger: memoryLogger(),
      tls: { cert: certs.cert, key: certs.key },
    });
    try {
      const raw = tcpConnect({ port: server.port, host: '127.0.0.1' });
      const socket = tlsConnect({ socket: raw, servername: 'localhost', rejectUnauthorized: false });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      let echoed = 0;
      socket.on('data', (d: Buffer) => (echoed += d.length));
      const plain = Buffer.alloc(50_000, 'x');
      socket.write(plain);
      await eventually(() => echoed === plain.length, 10_000, 'the echo');
      const wire = raw.bytesWritten;
      assert.ok(wire > plain.length, `the client sent ${wire} bytes on the wire for ${plain.length}`);
      await eventually(async () => (await server.stats()).bytesIn === wire, 5000, `bytesIn = ${wire}`);
      socket.destroy();
    } finally {
      await server.close();
    }
  });
}
