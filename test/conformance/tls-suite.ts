// TLS cases for every model x backend (kept apart from suite.ts): the same serve() options with
// tls: {...}; clients are node:tls and raw node:net sockets for the bad-input cases.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger, type ServeOptions, type ServerHandle, serve } from '../../src/index.ts';
import { eventually, prng, randomBytes, sleep, TestClient } from '../helpers/client.ts';
import { makeCerts, opensslMissing, type TestCerts, TlsTestClient } from '../helpers/tls.ts';
import type { ConformanceTarget } from './suite.ts';

const testApp = (name: string) => new URL(`./apps/${name}.ts`, import.meta.url).pathname;

type Logged = ReturnType<typeof memoryLogger>;

function loggedClose(logger: Logged, reason: string, detail?: string): boolean {
  return logger.entries.some(
    (e) =>
      e.message.includes(`closed: ${reason}`) &&
      (detail === undefined || JSON.stringify(e.fields ?? {}).includes(detail)),
  );
}

export function tlsConformance(target: ConformanceTarget): void {
  const skip = opensslMissing();
  describe(`TLS conformance: ${target.name}`, { concurrency: false, timeout: 300_000, skip }, () => {
    let certs: TestCerts;
    before(() => {
      certs = makeCerts();
    });
    after(() => certs.remove());

    async function start(options: Partial<ServeOptions> = {}, tls: Record<string, unknown> = {}) {
      const logger = memoryLogger();
      const server = await serve({
        app: 'echo',
        ...target.options,
        ...options,
        port: 0,
        logger,
        tls: { certFile: certs.certFile, keyFile: certs.keyFile, ...tls },
      });
      return { server, logger };
    }

    async function stop(server: ServerHandle) {
      await server.close();
    }

    test('echo over TLS: clients as many at once as the model serves, random sizes, every byte back', async () => {
      const { server } = await start();
      try {
        const random = prng(7);
        const clients = Math.min(target.concurrency === Infinity ? 50 : target.concurrency, 50);
        const rounds = target.concurrency === Infinity ? 1 : 2;
        for (let r = 0; r < rounds; r++) {
          await Promise.all(
            Array.from({ length: clients }, async () => {
              const client = await TlsTestClient.open(server.port, {
                ca: certs.ca,
                rejectUnauthorized: true,
              });
              try {
                const messages = Array.from({ length: 3 }, () =>
                  randomBytes(random, 1 + Math.floor(random() ** 3 * 100_000)),
                );
                let total = 0;
                for (const m of messages) {
                  client.write(m);
                  total += m.length;
                  await client.waitFor(total, 20_000);
                }
                assert.ok(client.data().equals(Buffer.concat(messages)), 'echoed bytes differ');
              } finally {
                client.close();
              }
            }),
          );
        }
      } finally {
        await stop(server);
      }
    });

    test('the app sees the handshake done in open() and conn.tls (protocol, SNI, ALPN); a ticket resumes', async () => {
      const { server } = await start({ app: testApp('tls-info') }, { alpn: ['c10k-test', 'http/1.1'] });
      try {
        let session: Buffer | undefined;
        const first = await TlsTestClient.open(server.port, { ALPNProtocols: ['c10k-test'] });
        first.socket.on('session', (s: Buffer) => (session = s));
        first.write('tls\n');
        await eventually(() => first.data().toString().split('\n').length >= 3, 10_000);
        const [opened, info] = first.data().toString().split('\n');
        assert.equal(opened, 'open secure=true');
        const facts = JSON.parse(info!);
        assert.equal(facts.protocol, 'TLSv1.3');
        assert.equal(facts.servername, 'localhost');
        assert.equal(facts.alpn, 'c10k-test');
        assert.equal(facts.resumed, false);
        assert.equal(first.socket.alpnProtocol, 'c10k-test');
        first.close();
        await first.waitClosed();
        assert.ok(session, 'the server sent a session ticket');
        const again = await TlsTestClient.open(server.port, { session });
        assert.equal(again.socket.isSessionReused(), true, 'the ticket resumed the session');
        again.write('tls\n');
        await eventually(() => again.data().toString().split('\n').length >= 3, 10_000);
        assert.equal(JSON.parse(again.data().toString().split('\n')[1]!).resumed, true);
        again.close();
      } finally {
        await stop(server);
      }
    });

    test('bad input: plain text, garbage before the ClientHello, a truncated and a slow handshake are closed with a logged reason; others carry on', async () => {
      const { server, logger } = await start({}, { handshakeTimeout: 500 });
      try {
        const witness = await TlsTestClient.open(server.port);
        const concurrent = target.concurrency > 1;
        if (!concurrent) witness.close(); // one client at a time: each bad client waits its turn
        // Plain text where a ClientHello belongs.
        const plain = await TestClient.open(server.port);
        plain.write('hello in clear\n');
        await plain.waitClosed(10_000);
        assert.equal(plain.received, 0, 'nothing in clear for a non-HTTP app');
        await eventually(() => loggedClose(logger, 'tls-error', 'plain text on the TLS port'), 10_000);
        // Garbage then a real handshake on the same connection: refused at the first byte.
        const garbage = await TestClient.open(server.port);
        garbage.write(Buffer.from([0x00, 0xff, 0x13, 0x37]));
        await garbage.waitClosed(10_000);
        // A truncated ClientHello, then silence: the handshake timeout closes it.
        const hello = await captureClientHello();
        const truncated = await TestClient.open(server.port);
        truncated.write(hello.subarray(0, Math.floor(hello.length / 2)));
        await truncated.waitClosed(10_000);
        // Connected, never a byte: the handshake timeout.
        const silent = await TestClient.open(server.port);
        await silent.waitClosed(10_000);
        await eventually(async () => (await server.stats()).closed['handshake-timeout'] >= 2, 10_000);
        // A truncated ClientHello, then the client leaves.
        const leaver = await TestClient.open(server.port);
        leaver.write(hello.subarray(0, 20));
        await sleep(50);
        leaver.socket.end();
        await leaver.waitClosed(10_000);
        const stats = await server.stats();
        assert.ok(stats.closed['tls-error'] >= 2, `tls-error closes: ${JSON.stringify(stats.closed)}`);
        // Still serving.
        const after = concurrent ? witness : await TlsTestClient.open(server.port);
        after.write('still here');
        await after.waitFor(10, 10_000);
        assert.equal(after.data().toString(), 'still here');
        after.close();
      } finally {
        await stop(server);
      }
    });

    test('HTTP: a plain-text request on the TLS port gets a 400 that says TLS is expected', async () => {
      const { server, logger } = await start({ app: 'http' });
      try {
        const plain = await TestClient.open(server.port);
        plain.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        await plain.waitClosed(10_000);
        const reply = plain.data().toString();
        assert.match(reply, /^HTTP\/1\.1 400 /);
        assert.match(reply, /HTTPS/);
        await eventually(() => loggedClose(logger, 'tls-error'), 10_000);
      } finally {
        await stop(server);
      }
    });

    test('client certificates (tls ca): one signed by the CA is served and named; any other is refused', async () => {
      const { server, logger } = await start({ app: testApp('tls-info') }, { caFile: certs.caFile });
      try {
        const { readFileSync } = await import('node:fs');
        const good = await TlsTestClient.open(server.port, {
          cert: readFileSync(certs.clientCertFile),
          key: readFileSync(certs.clientKeyFile),
        });
        good.write('tls\n');
        await eventually(() => good.data().toString().split('\n').length >= 3, 10_000);
        const facts = JSON.parse(good.data().toString().split('\n')[1]!);
        assert.equal(facts.authorized, true);
        assert.equal(facts.peer, 'c10k test client');
        good.close();
        for (const who of ['stranger', 'nobody']) {
          const options =
            who === 'stranger'
              ? { cert: readFileSync(certs.strangerCertFile), key: readFileSync(certs.strangerKeyFile) }
              : {};
          // TLS 1.3: the client may finish its side before the server refuses; either way it never
          // gets an answer and the server logs why.
          let refused: TlsTestClient | null = null;
          try {
            refused = await TlsTestClient.open(server.port, options);
            refused.write('tls\n');
            await refused.waitClosed(10_000);
            assert.ok(!refused.data().toString().includes('{'), 'no answer for a refused client');
          } catch {
            // refused during the handshake
          }
        }
        await eventually(() => loggedClose(logger, 'tls-error', 'client certificate refused'), 10_000);
      } finally {
        await stop(server);
      }
    });
  });
}

/** A real ClientHello's bytes, as node:tls sends it. */
function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    import('node:net').then(({ createServer }) => {
      const s = createServer((sock) => {
        sock.once('data', (d: Buffer) => {
          resolve(d);
          sock.destroy();
          s.close();
        });
      });
      s.listen(0, '127.0.0.1', async () => {
        const { connect } = await import('node:tls');
        const c = connect({
          port: (s.address() as { port: number }).port,
          host: '127.0.0.1',
          servername: 'localhost',
        });
        c.on('error', () => {});
      });
      s.on('error', reject);
    });
  });
}
