// TLS lifecycle through the command line: the certificate and key read again on SIGHUP (new connections
// get the new one, open connections carry on with theirs), session tickets off, and the usage errors.
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { memoryLogger, serve } from '../../src/index.ts';
import { exited, runCli, startServe } from '../helpers/cli.ts';
import { eventually } from '../helpers/client.ts';
import { makeCerts, makeServerCert, opensslMissing, type TestCerts, TlsTestClient } from '../helpers/tls.ts';

const skip = opensslMissing();
let certs: TestCerts;
before(() => {
  if (!skip) certs = makeCerts();
});
after(() => certs?.remove());

const peerName = (c: TlsTestClient) => c.socket.getPeerCertificate().subject?.CN;

describe('TLS reload on SIGHUP', { skip, concurrency: false }, () => {
  for (const model of [
    ['reactor', 'syscall'],
    ['reactor', 'node'],
    ['thread-pool', 'syscall'],
    ['process-per-connection', 'syscall'],
    ['multi-reactor', 'syscall'],
  ] as const) {
    test(`${model[0]} (${model[1]}): new connections get the new certificate${model[0] === 'multi-reactor' ? ' (rolling reload of the workers)' : '; an open one carries on'}`, async () => {
      const live = join(certs.dir, `live-${model[0]}-${model[1]}`);
      const first = makeServerCert(certs.dir, `first-${model[0]}-${model[1]}`, 'first');
      const second = makeServerCert(certs.dir, `second-${model[0]}-${model[1]}`, 'second');
      copyFileSync(first.certFile, `${live}.pem`);
      copyFileSync(first.keyFile, `${live}.key`);
      const { child, port, stderr } = await startServe([
        '--app',
        'echo',
        '--model',
        model[0],
        '--backend',
        model[1],
        '--workers',
        '2',
        '--port',
        '0',
        '--tls-cert',
        `${live}.pem`,
        '--tls-key',
        `${live}.key`,
      ]);
      try {
        const old = await TlsTestClient.open(port);
        assert.equal(peerName(old), 'first');
        copyFileSync(second.certFile, `${live}.pem`);
        copyFileSync(second.keyFile, `${live}.key`);
        child.kill('SIGHUP');
        await eventually(() => stderr().includes('TLS certificate and key read again'), 10_000);
        await eventually(
          async () => {
            const fresh = await TlsTestClient.open(port);
            const name = peerName(fresh);
            fresh.close();
            return name === 'second';
          },
          15_000,
          'a new connection with the new certificate',
        );
        if (model[0] !== 'multi-reactor') {
          old.write('still the old session');
          await old.waitFor(21, 10_000);
          assert.equal(old.data().toString(), 'still the old session');
        }
        old.close();
      } finally {
        child.kill('SIGTERM');
        assert.equal(await exited(child), 0);
      }
    });
  }

  test('a reload whose new files do not load keeps the old certificate, with a logged reason', async () => {
    const live = join(certs.dir, 'live-bad');
    copyFileSync(certs.certFile, `${live}.pem`);
    copyFileSync(certs.keyFile, `${live}.key`);
    const { child, port, stderr } = await startServe([
      '--app',
      'echo',
      '--port',
      '0',
      '--tls-cert',
      `${live}.pem`,
      '--tls-key',
      `${live}.key`,
    ]);
    try {
      copyFileSync(certs.strangerKeyFile, `${live}.key`); // a key that is not the certificate's
      child.kill('SIGHUP');
      await eventually(
        () => stderr().includes('TLS reload failed, keeping the previous certificate'),
        10_000,
      );
      const c = await TlsTestClient.open(port);
      assert.equal(peerName(c), 'localhost');
      c.close();
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited(child), 0);
    }
  });
});

test('session tickets off: the server sends none that resumes; on: a ticket resumes', { skip }, async () => {
  for (const sessionTickets of [false, true]) {
    const server = await serve({
      app: 'echo',
      port: 0,
      logger: memoryLogger(),
      tls: { cert: certs.cert, key: certs.key, sessionTickets },
    });
    try {
      let session: Buffer | undefined;
      const a = await TlsTestClient.open(server.port);
      a.socket.on('session', (s: Buffer) => (session = s));
      a.write('x');
      await a.waitFor(1);
      a.close();
      await a.waitClosed();
      const b = await TlsTestClient.open(server.port, { session });
      assert.equal(b.socket.isSessionReused(), sessionTickets);
      b.close();
    } finally {
      await server.close();
    }
  }
});

test('usage: half a TLS pair, TLS options without a certificate, unreadable files', { skip }, async () => {
  const half = await runCli(['serve', '--app', 'echo', '--port', '0', '--tls-cert', certs.certFile]);
  assert.equal(half.code, 2);
  assert.match(half.stderr, /--tls-cert FILE and --tls-key FILE/);
  const lonely = await runCli(['serve', '--app', 'echo', '--port', '0', '--alpn', 'h2']);
  assert.equal(lonely.code, 2);
  assert.match(lonely.stderr, /--alpn needs --tls-cert and --tls-key/);
  const missing = await runCli([
    'serve',
    '--app',
    'echo',
    '--port',
    '0',
    '--tls-cert',
    '/nonexistent.pem',
    '--tls-key',
    certs.keyFile,
  ]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /cannot read the TLS certificate \/nonexistent\.pem: ENOENT/);
  const mismatch = await runCli([
    'serve',
    '--app',
    'echo',
    '--port',
    '0',
    '--tls-cert',
    certs.certFile,
    '--tls-key',
    certs.strangerKeyFile,
  ]);
  assert.notEqual(mismatch.code, 0);
  assert.match(mismatch.stderr, /TLS certificate\/key rejected/);
  const timeout = await runCli([
    'serve',
    '--app',
    'echo',
    '--port',
    '0',
    '--tls-cert',
    certs.certFile,
    '--tls-key',
    certs.keyFile,
    '--tls-handshake-timeout',
    'soon',
  ]);
  assert.equal(timeout.code, 2);
});

test('PROXY header, then TLS on the same connection (a TCP load balancer in front): the app sees the real client', {
  skip,
}, async () => {
  const { connect: tcp } = await import('node:net');
  const { connect: tls } = await import('node:tls');
  const { encodeProxyHeader } = await import('../../src/protocols/proxy.ts');
  const whoami = new URL('../conformance/apps/whoami.ts', import.meta.url).pathname;
  for (const backend of ['syscall', 'node'] as const) {
    const server = await serve({
      app: whoami,
      backend,
      port: 0,
      proxyProtocol: true,
      logger: memoryLogger(),
      tls: { cert: certs.cert, key: certs.key },
    });
    try {
      const raw = tcp({ port: server.port, host: '127.0.0.1' });
      await new Promise((resolve) => raw.once('connect', resolve));
      raw.write(
        encodeProxyHeader({
          version: 2,
          command: 'PROXY',
          family: 'IPv4',
          source: { address: '203.0.113.7', port: 40001 },
          destination: { address: '127.0.0.1', port: server.port },
        }),
      );
      const secure = tls({ socket: raw, servername: 'localhost', ca: certs.ca });
      await new Promise((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      });
      secure.write('who\n');
      const line = await new Promise<string>((resolve) =>
        secure.once('data', (d: Buffer) => resolve(d.toString())),
      );
      assert.equal(line, '203.0.113.7 40001\n');
      secure.end();
    } finally {
      await server.close();
    }
  }
});

test('plain HTTP on the TLS port from a client that reads the 400 but never closes: cut off at the handshake timeout', {
  skip,
}, async () => {
  const { TestClient } = await import('../helpers/client.ts');
  for (const backend of ['syscall', 'node'] as const) {
    const server = await serve({
      app: 'http',
      backend,
      port: 0,
      logger: memoryLogger(),
      tls: { cert: certs.cert, key: certs.key, handshakeTimeout: 300 },
    });
    try {
      const client = await TestClient.open(server.port);
      client.socket.allowHalfOpen = true;
      client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await eventually(() => client.data().toString().includes('HTTPS'), 5000);
      assert.match(client.data().toString(), /^HTTP\/1\.1 400 /);
      await eventually(async () => (await server.stats()).active === 0, 5000, 'the server let go of it');
      assert.equal((await server.stats()).closed['tls-error'], 1);
      client.close();
    } finally {
      await server.close();
    }
  }
});
