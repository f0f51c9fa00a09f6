// Real TLS peers against `c10k serve ... --tls-cert --tls-key` (certificates made by openssl at test time):
// openssl s_client (echo, SNI, ALPN), curl https:// (http, verifying against the test CA), redis-cli
// --tls (kv), wrk https:// (http), and haproxy with `ssl verify none` to a c10k backend. Each runs on
// both backends where the peer is quick.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../helpers/client.ts';
import { makeCerts, opensslMissing, type TestCerts } from '../helpers/tls.ts';
import { c10kServe, freePort, missing, run } from './helpers.ts';

let certs: TestCerts;
before(() => {
  if (!opensslMissing()) certs = makeCerts();
});
after(() => certs?.remove());

const tlsArgs = () => ['--tls-cert', certs.certFile, '--tls-key', certs.keyFile];

for (const backend of ['syscall', 'node']) {
  describe(`TLS peers (${backend})`, { skip: opensslMissing() }, () => {
    test('openssl s_client: echo over TLS 1.3, SNI and ALPN agreed', async () => {
      const server = await c10kServe([
        '--app',
        'echo',
        '--backend',
        backend,
        ...tlsArgs(),
        '--alpn',
        'echo/1,http/1.1',
      ]);
      try {
        const { stdout } = await run('sh', [
          '-c',
          `(printf 'ping over tls\\n'; sleep 1) | openssl s_client -connect 127.0.0.1:${server.port} -servername localhost -alpn echo/1 -CAfile ${certs.caFile} -verify_return_error 2>&1`,
        ]);
        assert.match(stdout, /Verify return code: 0 \(ok\)/);
        assert.match(stdout, /TLSv1\.3/);
        assert.match(stdout, /ALPN protocol: echo\/1/);
        assert.match(stdout, /ping over tls/);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });

    test('curl https:// against http, certificate verified against the test CA; plain http:// gets a 400', {
      skip: missing('curl', 'curl'),
    }, async () => {
      const server = await c10kServe(['--app', 'http', '--backend', backend, ...tlsArgs()]);
      try {
        const { stdout } = await run('curl', [
          '-sS',
          '--cacert',
          certs.caFile,
          `https://localhost:${server.port}/`,
          '--resolve',
          `localhost:${server.port}:127.0.0.1`,
        ]);
        assert.equal(stdout, 'hello from c10k\n');
        const plain = await run('curl', [
          '-sS',
          '-o',
          '-',
          '-w',
          '\n%{http_code}',
          `http://127.0.0.1:${server.port}/`,
        ]);
        assert.match(plain.stdout, /HTTPS/);
        assert.match(plain.stdout, /400$/);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });

    test('redis-cli --tls against kv', { skip: missing('redis-cli', 'redis-tools') }, async () => {
      const server = await c10kServe(['--app', 'kv', '--backend', backend, ...tlsArgs()]);
      try {
        const cli = async (...args: string[]) =>
          (
            await run('redis-cli', [
              '--tls',
              '--cacert',
              certs.caFile,
              '--sni',
              'localhost',
              '-h',
              '127.0.0.1',
              '-p',
              String(server.port),
              ...args,
            ])
          ).stdout.trim();
        assert.equal(await cli('PING'), 'PONG');
        assert.equal(await cli('SET', 'tls:k', 'over tls'), 'OK');
        assert.equal(await cli('GET', 'tls:k'), 'over tls');
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });

    test('wrk https:// against http (-c 50 -d 2s): requests, no errors', {
      skip: missing('wrk', 'wrk'),
    }, async (t) => {
      const server = await c10kServe(['--app', 'http', '--backend', backend, ...tlsArgs()]);
      try {
        const { stdout } = await run('wrk', [
          '-t1',
          '-c',
          '50',
          '-d',
          '2s',
          `https://127.0.0.1:${server.port}/`,
        ]);
        const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
        t.diagnostic(`${rps?.[1]} requests/s`);
        assert.ok(rps && Number(rps[1]) > 0, stdout);
        assert.doesNotMatch(stdout, /Socket errors|Non-2xx/, stdout);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  });
}

test('haproxy (http, ssl verify none) in front of a c10k TLS backend', {
  skip: opensslMissing() || missing('haproxy', 'haproxy') || missing('curl', 'curl'),
}, async () => {
  const server = await c10kServe(['--app', 'http', ...tlsArgs()]);
  const front = await freePort();
  const config = join(certs.dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 10s',
      '  timeout server 10s',
      'frontend front',
      `  bind 127.0.0.1:${front}`,
      '  default_backend c10k',
      'backend c10k',
      `  server s0 127.0.0.1:${server.port} ssl verify none`,
      '',
    ].join('\n'),
  );
  const haproxy = spawn('haproxy', ['-f', config, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  haproxy.stderr.on('data', (d) => (log += d));
  try {
    let body = '';
    await eventually(
      async () => {
        try {
          body = (await run('curl', ['-sS', '--max-time', '2', `http://127.0.0.1:${front}/`])).stdout;
          return true;
        } catch {
          return false;
        }
      },
      10_000,
      `haproxy answering (${log})`,
    );
    assert.equal(body, 'hello from c10k\n');
    for (let i = 0; i < 5; i++)
      assert.equal((await run('curl', ['-sS', `http://127.0.0.1:${front}/`])).stdout, 'hello from c10k\n');
  } finally {
    haproxy.kill('SIGTERM');
    assert.equal(await server.stop(), 0);
  }
});
