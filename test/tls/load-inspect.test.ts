// `c10k load --tls` against a TLS echo server (every byte verified, every connection a handshake the
// server counts), and `c10k inspect --status-url` saying that the server's sockets speak TLS.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Endpoint } from '../../src/admin/http-endpoint.ts';
import { startStatusEndpoint } from '../../src/admin/status.ts';
import { memoryLogger, type ServerHandle, serve } from '../../src/index.ts';
import { runCli } from '../helpers/cli.ts';
import { makeCerts, opensslMissing, type TestCerts, TlsTestClient } from '../helpers/tls.ts';

const skip = opensslMissing();
let certs: TestCerts;
let server: ServerHandle;
let status: Endpoint;

before(async () => {
  if (skip) return;
  certs = makeCerts();
  server = await serve({
    app: 'echo',
    port: 0,
    logger: memoryLogger(),
    tls: { certFile: certs.certFile, keyFile: certs.keyFile },
  });
  status = await startStatusEndpoint(server, '127.0.0.1:0');
});
after(async () => {
  await status?.close();
  await server?.close();
  certs?.remove();
});

test('c10k load --tls: 100 connections, each a handshake, every echoed byte verified', { skip }, async () => {
  const before = (await server.stats()).tlsHandshakes;
  const r = await runCli(
    [
      'load',
      '--port',
      String(server.port),
      '--tls',
      '--tls-ca',
      certs.caFile,
      '--tls-servername',
      'localhost',
      '--connections',
      '100',
      '--duration',
      '1s',
      '--size',
      '2k',
      '--json',
    ],
    60_000,
  );
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.connections.established, 100);
  assert.equal(report.tls, true);
  assert.equal(report.mismatches, 0);
  assert.ok(report.bytesVerified > 0);
  assert.equal((await server.stats()).tlsHandshakes - before, 100);
});

test('c10k load: --tls-ca without --tls, --tls with --engine sys are usage errors', { skip }, async () => {
  const a = await runCli(['load', '--port', '1', '--tls-ca', certs.caFile]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /need --tls/);
  const b = await runCli(['load', '--port', '1', '--tls', '--engine', 'sys']);
  assert.equal(b.code, 2);
});

test('c10k inspect --status-url: the server and its sockets are marked TLS, with handshake counts', {
  skip,
}, async () => {
  const clients = await Promise.all([1, 2, 3].map(() => TlsTestClient.open(server.port)));
  try {
    const r = await runCli([
      'inspect',
      '--port',
      String(server.port),
      '--status-url',
      `${status.url}/status`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /reactor \(syscall, TLS\)/);
    assert.match(r.stdout, /TLS: every connected socket on port \d+ speaks TLS .*handshakes done/);
    const j = await runCli([
      'inspect',
      '--port',
      String(server.port),
      '--status-url',
      `${status.url}/status`,
      '--json',
    ]);
    const doc = JSON.parse(j.stdout);
    assert.equal(doc.server.tls, true);
    assert.ok(doc.server.totals.tlsHandshakes >= 3);
  } finally {
    for (const c of clients) c.close();
  }
});
