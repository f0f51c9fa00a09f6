// HAProxy (the real one, TCP mode) in front of two c10k servers, each server line with send-proxy-v2:
// the servers read the PROXY v2 header (--proxy-protocol; HAProxy on loopback is a trusted proxy) and
// the app sees every client's own address, not HAProxy's. Clients connect from 127.0.0.2 and 127.0.0.3.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { memoryLogger, serve } from '../../src/index.ts';
import { LineClient } from '../apps/line-client.ts';
import { eventually } from '../helpers/client.ts';
import { freePort, missing } from './helpers.ts';

const WHOIS = new URL('./apps/whois.ts', import.meta.url).pathname;

test('haproxy (tcp, send-proxy-v2) in front of two c10k servers: the app sees the real client', {
  skip: missing('haproxy', 'haproxy'),
}, async (t) => {
  const servers = await Promise.all(
    [0, 1].map(() => serve({ app: WHOIS, port: 0, proxyProtocol: true, logger: memoryLogger() })),
  );
  const front = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'c10k-haproxy-'));
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 256',
      'defaults',
      '  mode tcp',
      '  timeout connect 2s',
      '  timeout client 10s',
      '  timeout server 10s',
      'frontend front',
      `  bind 127.0.0.1:${front}`,
      '  default_backend c10k',
      'backend c10k',
      '  balance roundrobin',
      ...servers.map((s, i) => `  server s${i} 127.0.0.1:${s.port} send-proxy-v2`),
      '',
    ].join('\n'),
  );
  const haproxy = spawn('haproxy', ['-f', config, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  haproxy.stderr.on('data', (d) => (log += d));
  try {
    await eventually(
      () =>
        LineClient.open(front).then(
          (c) => {
            c.close();
            return true;
          },
          () => false,
        ),
      5000,
      `haproxy listening (${log})`,
    );
    const seen: string[] = [];
    for (const source of ['127.0.0.2', '127.0.0.3', '127.0.0.2', '127.0.0.3']) {
      const c = await LineClient.open(front, { localAddress: source });
      c.send('who');
      const [address, port] = (await c.next()).split(' ');
      assert.equal(address, source, 'the app saw the proxy, not the client');
      seen.push(port);
      c.close();
    }
    t.diagnostic(`served by ports ${seen.join(', ')}`);
    assert.deepEqual(new Set(seen), new Set(servers.map((s) => String(s.port))), 'both servers served');
  } finally {
    haproxy.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});
