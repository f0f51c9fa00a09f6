import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createHttpApp } from '../../src/apps/http.ts';
import { memoryLogger, serve } from '../../src/index.ts';
import type { ServerHandle } from '../../src/models/types.ts';
import { missingNow } from '../peers/helpers.ts';
import { Client, type HttpReply, httpResponse } from './client.ts';

const run = promisify(execFile);
const { app } = createHttpApp();
let server: ServerHandle;

before(async () => {
  server = await serve({ app, port: 0, logger: memoryLogger() });
});
after(() => server.close());

async function readN(client: Client, n: number, head: boolean[] = []): Promise<HttpReply[]> {
  const out: HttpReply[] = [];
  for (let i = 0; i < n; i++) out.push(await client.read(httpResponse(head[i] ?? false)));
  return out;
}

test('keep-alive: pipelined requests in one write, answered in order', async () => {
  const client = await Client.open(server.port);
  client.write(
    'GET / HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' +
      'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n' +
      'POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 4\r\n\r\nbody' +
      'POST /healthz HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n' +
      'GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  const replies = await readN(client, 7, [false, false, true]);
  assert.deepEqual(
    replies.map((r) => [r.status, r.body]),
    [
      [200, 'hello from c10k\n'],
      [200, 'ok\n'],
      [200, ''],
      [404, 'not found\n'],
      [405, 'method not allowed\n'],
      [405, 'method not allowed\n'],
      [200, replies[6].body],
    ],
  );
  assert.equal(replies[2].headers['content-length'], '16');
  assert.equal(replies[4].headers.allow, 'GET, HEAD');
  const metrics = replies[6].body;
  assert.match(metrics, /^# HELP c10k_http_requests_total /m);
  assert.match(metrics, /^c10k_http_requests_total\{code="200"\} \d+$/m);
  assert.match(metrics, /^c10k_http_connections_open [1-9]\d*$/m);
  for (const line of metrics.trim().split('\n')) {
    assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{code="\d+"\})? \d+(\.\d+)?)$/, line);
  }
  assert.equal(client.ended, false);
  client.close();
});

test('Connection: close is honoured; HTTP/1.0 closes unless keep-alive', async () => {
  const a = await Client.open(server.port);
  a.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n');
  const [r] = await readN(a, 1);
  assert.equal(r.headers.connection, 'close');
  assert.equal(await a.closed(), '', 'nothing answered after the close request');

  const b = await Client.open(server.port);
  b.write('GET / HTTP/1.0\r\n\r\n');
  assert.equal((await readN(b, 1))[0].headers.connection, 'close');
  await b.closed();

  const c = await Client.open(server.port);
  c.write(
    'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  );
  const two = await readN(c, 2);
  assert.deepEqual(
    two.map((x) => [x.status, x.headers.connection]),
    [
      [200, 'keep-alive'],
      [200, 'keep-alive'],
    ],
  );
  assert.equal(c.ended, false);
  c.close();
});

for (const [name, input, status] of [
  ['too large body', 'POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 2000000\r\n\r\n', 413],
  ['too many headers', `GET / HTTP/1.1\r\nHost: x\r\n${'a: b\r\n'.repeat(101)}\r\n`, 431],
  ['too long request line', `GET /${'a'.repeat(9000)} HTTP/1.1\r\n\r\n`, 414],
  ['malformed request', 'HELLO\r\n\r\n', 400],
] as const) {
  test(`${name}: ${status} and close`, async () => {
    const client = await Client.open(server.port);
    client.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' + input);
    const [ok, error] = await readN(client, 2);
    assert.equal(ok.status, 200);
    assert.equal(error.status, status);
    assert.equal(error.headers.connection, 'close');
    await client.closed();
  });
}

test('wrk smoke test', async (t) => {
  const why = missingNow('wrk', 'wrk');
  if (why) {
    t.skip(why);
    return;
  }
  const { stdout } = await run(
    'wrk',
    ['-c', '50', '-t', '1', '-d', '2s', `http://127.0.0.1:${server.port}/`],
    {
      timeout: 30_000,
    },
  );
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  t.diagnostic(`wrk: ${rps?.[1]} requests/s`);
  assert.ok(rps && Number(rps[1]) > 0, stdout);
  assert.doesNotMatch(stdout, /Non-2xx|Socket errors/, stdout);
});
