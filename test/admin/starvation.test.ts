// Finding 7 of issue 16: an admin endpoint cannot be starved. 80 connections that never send a byte (more
// than the cap of 64), then a scrape: it is answered at once (the oldest silent connection makes room),
// and the silent ones are cut within a few seconds anyway. With a token on 0.0.0.0, connections that
// send requests without the token (401, then idle) and silent ones cannot keep a scraper out either.
// Time bounds are generous and relative: the scrape's time against a quiet scrape in the same run.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { type Endpoint, sendText, startEndpoint } from '../../src/admin/http-endpoint.ts';
import { startWebInspector } from '../../src/inspect/web.ts';
import { startServe } from '../helpers/cli.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function get(port: number, path: string, headers: Record<string, string> = {}, timeoutMs = 20_000) {
  return new Promise<{ status: number; body: string; ms: number }>((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, ms: performance.now() - t0 }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** `n` connections that send nothing (or `send`); resolves once all are connected. Each records when
 * the server closed it. */
async function hold(port: number, n: number, send?: string) {
  const socks: { sock: net.Socket; closedAt: number | null }[] = [];
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve, reject) => {
          const entry = { sock: net.connect(port, '127.0.0.1'), closedAt: null as number | null };
          entry.sock.on('connect', () => {
            if (send) entry.sock.write(send);
            resolve();
          });
          entry.sock.on('data', () => {});
          entry.sock.on('error', () => {});
          entry.sock.on('close', () => (entry.closedAt = performance.now()));
          entry.sock.once('error', reject);
          socks.push(entry);
        }),
    ),
  );
  return socks;
}

async function endpoint(token?: string, host = '127.0.0.1'): Promise<Endpoint> {
  return startEndpoint({
    flag: '--status',
    address: `${host}:0`,
    token,
    handler: (_req, res) => sendText(res, 200, 'ok\n'),
  });
}

test('80 silent connections (cap 64): a scrape is answered at once, and the silent ones are cut within a few seconds', async () => {
  const ep = await endpoint();
  try {
    const quiet = await get(ep.port, '/');
    assert.equal(quiet.status, 200);
    const t0 = performance.now();
    const silent = await hold(ep.port, 80);
    const scrape = await get(ep.port, '/');
    assert.equal(scrape.status, 200);
    assert.ok(scrape.ms < quiet.ms * 20 + 2000, `scrape took ${scrape.ms} ms (quiet: ${quiet.ms} ms)`);
    assert.ok(ep.evicted() >= 17, `evicted ${ep.evicted()}`);
    // every silent connection is closed by the server: the header timeout (3 s) plus a check (500 ms)
    for (let i = 0; i < 200 && silent.some((s) => s.closedAt === null); i++) await sleep(50);
    const open = silent.filter((s) => s.closedAt === null).length;
    assert.equal(open, 0, `${open} silent connections still open after 10 s`);
    const last = Math.max(...silent.map((s) => s.closedAt! - t0));
    assert.ok(last < 8000, `the last silent connection was cut after ${Math.round(last)} ms`);
    for (const s of silent) s.sock.destroy();
  } finally {
    await ep.close();
  }
});

test('a slowloris (headers one byte at a time) is cut by the header timeout, whatever it sends', async () => {
  const ep = await endpoint();
  try {
    const [slow] = await hold(ep.port, 1, 'GET / HTTP/1.1\r\nhost: localhost\r\nx-slow: ');
    const t0 = performance.now();
    const drip = setInterval(() => slow!.sock.writable && slow!.sock.write('a'), 200);
    for (let i = 0; i < 200 && slow!.closedAt === null; i++) await sleep(50);
    clearInterval(drip);
    assert.notEqual(slow!.closedAt, null, 'still open after 10 s');
    assert.ok(slow!.closedAt! - t0 < 8000);
  } finally {
    await ep.close();
  }
});

test('with a token on 0.0.0.0: 64 connections without the token (401, then idle) and 64 silent ones cannot keep a scraper out', async () => {
  const ep = await endpoint('s3cret', '0.0.0.0');
  try {
    const auth = { authorization: 'Bearer s3cret' };
    const quiet = await get(ep.port, '/', auth);
    assert.equal(quiet.status, 200);
    const unauth = await hold(ep.port, 64, 'GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    const silent = await hold(ep.port, 64);
    await sleep(100);
    const scrape = await get(ep.port, '/', auth);
    assert.equal(scrape.status, 200);
    assert.ok(scrape.ms < quiet.ms * 20 + 2000, `scrape took ${scrape.ms} ms (quiet: ${quiet.ms} ms)`);
    for (const s of [...unauth, ...silent]) s.sock.destroy();
  } finally {
    await ep.close();
  }
});

test('past the cap with every slot serving a request: the new connection gets 503 and is closed', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const ep = await startEndpoint({
    flag: '--status',
    address: '127.0.0.1:0',
    limits: { maxConnections: 4 },
    handler: async (_req, res) => {
      await held;
      sendText(res, 200, 'late\n');
    },
  });
  try {
    const busy = [1, 2, 3, 4].map(() => get(ep.port, '/'));
    await sleep(300);
    const over = await get(ep.port, '/');
    assert.equal(over.status, 503);
    assert.equal(ep.refused(), 1);
    release();
    for (const r of await Promise.all(busy)) assert.equal(r.status, 200);
  } finally {
    await ep.close();
  }
});

test('c10k serve --status: 80 silent connections do not block a scrape', async () => {
  const statusPort = 20_000 + Math.floor(Math.random() * 10_000);
  const { child } = await startServe(['--app', 'echo', '--port', '0', '--status', `127.0.0.1:${statusPort}`]);
  try {
    let quiet = await get(statusPort, '/').catch(() => null);
    for (let i = 0; i < 50 && quiet === null; i++) {
      await sleep(100);
      quiet = await get(statusPort, '/').catch(() => null);
    }
    assert.equal(quiet?.status, 200);
    const silent = await hold(statusPort, 80);
    const scrape = await get(statusPort, '/');
    assert.equal(scrape.status, 200);
    assert.ok(scrape.ms < quiet!.ms * 20 + 2000, `scrape took ${scrape.ms} ms (quiet: ${quiet!.ms} ms)`);
    for (const s of silent) s.sock.destroy();
  } finally {
    child.kill();
  }
});

test('inspect --web: 80 silent connections do not block the page', async () => {
  const target = net.createServer();
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const web = await startWebInspector({
    address: '127.0.0.1:0',
    port: (target.address() as net.AddressInfo).port,
    intervalMs: 500,
  });
  try {
    const port = web.endpoint.port;
    const quiet = await get(port, '/frame.json');
    assert.equal(quiet.status, 200);
    const silent = await hold(port, 80);
    const page = await get(port, '/');
    assert.equal(page.status, 200);
    assert.ok(page.ms < quiet.ms * 20 + 2000, `page took ${page.ms} ms (quiet: ${quiet.ms} ms)`);
    for (const s of silent) s.sock.destroy();
  } finally {
    await web.close();
    target.close();
  }
});
