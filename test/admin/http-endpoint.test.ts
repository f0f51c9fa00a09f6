// The admin endpoints' access rule: loopback by default, a token for anything else, and a token, once
// set, on every request. The refusal is tested as a decision (this machine has no other address to
// bind); the token check and the bounds run against a real loopback endpoint.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import {
  accessDecision,
  hostHeaderAllowed,
  isLoopback,
  parseHostPort,
  resolveToken,
  sendText,
  startEndpoint,
  tokenMatches,
} from '../../src/admin/http-endpoint.ts';

test('parseHostPort: IPv4, [IPv6], localhost, bare port; refusals are one line', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:7070', '--web'), {
    host: '127.0.0.1',
    port: 7070,
    loopback: true,
  });
  assert.deepEqual(parseHostPort('[::1]:9100', '--metrics'), { host: '::1', port: 9100, loopback: true });
  assert.deepEqual(parseHostPort('localhost:0', '--status'), { host: '127.0.0.1', port: 0, loopback: true });
  assert.deepEqual(parseHostPort('9100', '--status'), { host: '127.0.0.1', port: 9100, loopback: true });
  assert.deepEqual(parseHostPort('0.0.0.0:80', '--web'), { host: '0.0.0.0', port: 80, loopback: false });
  assert.deepEqual(parseHostPort('[::]:80', '--web'), { host: '::', port: 80, loopback: false });
  assert.equal(parseHostPort('10.1.2.3:80', '--web').loopback, false);
  for (const bad of ['example.com:80', '::1:80', '127.0.0.1', '127.0.0.1:70000', '[zz]:1', ':80x', '']) {
    assert.throws(
      () => parseHostPort(bad, '--web'),
      (e: Error) => e.message.startsWith('--web') && !e.message.includes('\n'),
    );
  }
});

test('isLoopback and the Host header rule', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'])
    assert.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'evil.example']) assert.ok(!isLoopback(h), h);
  assert.ok(hostHeaderAllowed('127.0.0.1:7070'));
  assert.ok(hostHeaderAllowed('localhost'));
  assert.ok(hostHeaderAllowed('[::1]:80'));
  assert.ok(hostHeaderAllowed(undefined));
  assert.ok(!hostHeaderAllowed('evil.example:7070'));
});

test('accessDecision: loopback without a token, elsewhere only with one', () => {
  const lo = parseHostPort('127.0.0.1:1', '--status');
  const any = parseHostPort('0.0.0.0:9100', '--status');
  const v6 = parseHostPort('[::]:9100', '--metrics');
  assert.deepEqual(accessDecision(lo, undefined, '--status'), { ok: true });
  assert.deepEqual(accessDecision(any, 'secret', '--status'), { ok: true });
  const refused = accessDecision(any, undefined, '--status');
  assert.equal(refused.ok, false);
  assert.equal(
    !refused.ok && refused.reason,
    '--status 0.0.0.0:9100 is not a loopback address: give --token T (or set C10K_TOKEN) to bind it',
  );
  const r6 = accessDecision(v6, undefined, '--metrics');
  assert.ok(!r6.ok && r6.reason.startsWith('--metrics [::]:9100 is not a loopback address'));
  assert.equal(resolveToken(undefined, { C10K_TOKEN: 'env' }), 'env');
  assert.equal(resolveToken('flag', { C10K_TOKEN: 'env' }), 'flag');
  assert.equal(resolveToken(undefined, { C10K_TOKEN: '' }), undefined);
});

test('startEndpoint refuses a non-loopback bind without a token before binding', async () => {
  await assert.rejects(
    startEndpoint({ flag: '--web', address: '0.0.0.0:0', handler: () => {} }),
    /--web 0\.0\.0\.0:0 is not a loopback address/,
  );
});

test('tokenMatches compares whole tokens', () => {
  assert.ok(tokenMatches('s3cret', 's3cret'));
  assert.ok(!tokenMatches('s3cre', 's3cret'));
  assert.ok(!tokenMatches('s3cret!', 's3cret'));
  assert.ok(!tokenMatches(null, 's3cret'));
  assert.ok(!tokenMatches('', 's3cret'));
});

test('a loopback endpoint with a token checks it on every request', { timeout: 10_000 }, async () => {
  const e = await startEndpoint({
    flag: '--status',
    address: '127.0.0.1:0',
    token: 's3cret',
    handler: (_req, res) => sendText(res, 200, 'ok\n'),
  });
  try {
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(e.url + path, { headers }).then(async (r) => ({ status: r.status, body: await r.text() }));
    assert.equal((await get('/')).status, 401);
    assert.equal((await get('/', { authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await get('/?token=wrong')).status, 401);
    assert.deepEqual(await get('/', { authorization: 'Bearer s3cret' }), { status: 200, body: 'ok\n' });
    assert.equal((await get('/?token=s3cret')).status, 200);
    // keep-alive does not carry authorization over: the next request without it is refused
    assert.equal((await get('/')).status, 401);
    const post = await fetch(e.url + '/?token=s3cret', { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
  } finally {
    await e.close();
  }
});

test('a loopback endpoint without a token: open to loopback names, bounded', {
  timeout: 10_000,
}, async () => {
  const e = await startEndpoint({
    flag: '--status',
    address: '127.0.0.1:0',
    handler: (_req, res) => sendText(res, 200, 'ok\n'),
    limits: { maxHeaderBytes: 1024 },
  });
  try {
    assert.equal((await fetch(e.url + '/')).status, 200);
    assert.equal(await rawStatus(e.port, { host: 'evil.example:80' }), 403); // DNS rebinding
    assert.equal(await rawStatus(e.port, { host: `localhost:${e.port}` }), 200);
    assert.equal(await rawStatus(e.port, { 'x-big': 'a'.repeat(4096) }), 431);
    assert.equal(e.maxConnections, 64); // past it: see test/admin/starvation.test.ts
  } finally {
    await e.close();
  }
});

/** GET / with exactly these headers (fetch will not send a foreign Host header). */
function rawStatus(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}
