import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createKv } from '../../src/apps/kv.ts';
import { memoryLogger, serve } from '../../src/index.ts';
import type { ServerHandle } from '../../src/models/types.ts';
import { missingNow } from '../peers/helpers.ts';
import { Client, command, respValues } from './client.ts';

const run = promisify(execFile);
const kv = createKv({ maxKeys: 1000 });
let server: ServerHandle;

before(async () => {
  server = await serve({ app: kv.app, port: 0, logger: memoryLogger() });
});
after(() => server.close());

async function session(...commands: (string | Buffer)[][]) {
  const client = await Client.open(server.port);
  try {
    client.write(Buffer.concat(commands.map((c) => command(...c)))); // all pipelined in one write
    return await client.read(respValues(commands.length));
  } finally {
    client.close();
  }
}

test('round trips: SET/GET/INCR/MGET/MSET/DEL/EXISTS', async () => {
  const got = await session(
    ['PING'],
    ['ping', 'hi'],
    ['ECHO', 'echo'],
    ['SET', 'a', '1'],
    ['GET', 'a'],
    ['INCR', 'a'],
    ['incrby', 'a', '40'],
    ['GET', 'a'],
    ['GET', 'missing'],
    ['MSET', 'x', 'X', 'y', 'Y'],
    ['MGET', 'x', 'y', 'z'],
    ['EXISTS', 'x', 'y', 'z', 'x'],
    ['DEL', 'x', 'z'],
    ['EXISTS', 'x'],
    ['SET', 'a', 'v', 'NX'],
    ['SET', 'n', 'v', 'XX'],
    ['SET', 'a', 'w', 'XX', 'GET'],
    ['SET', 'bin', Buffer.from([0, 13, 10, 255])],
    ['GET', 'bin'],
    ['INCR', 'y'],
    ['SELECT', '0'],
    ['COMMAND', 'DOCS'],
    ['CONFIG', 'GET', 'save'],
    ['CONFIG', 'GET', 'appendonly'],
  );
  assert.deepEqual(got.slice(0, 17), [
    'PONG',
    'hi',
    'echo',
    'OK',
    '1',
    2,
    42,
    '42',
    null,
    'OK',
    ['X', 'Y', null],
    3,
    1,
    0,
    null,
    null,
    '42',
  ]);
  assert.equal(got[17], 'OK');
  assert.equal(Buffer.from(got[18] as string).length > 0, true);
  assert.deepEqual(got.slice(19), [
    { error: 'ERR value is not an integer or out of range' },
    'OK',
    [],
    ['save', ''],
    ['appendonly', 'no'],
  ]);
});

test('expiry with PX, lazy and by the sweep', async () => {
  const [ok, ttl, before] = await session(['SET', 't', 'v', 'PX', '40'], ['PTTL', 't'], ['GET', 't']);
  assert.equal(ok, 'OK');
  assert.ok(typeof ttl === 'number' && ttl > 0 && ttl <= 40);
  assert.equal(before, 'v');
  await session(['SET', 's', 'v', 'PX', '20']);
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(kv.store.values.has('s'), false, 'the sweep removed an expired key nobody read');
  assert.deepEqual(await session(['GET', 't'], ['EXISTS', 't'], ['SET', 'e', 'v', 'EX', '0']), [
    null,
    0,
    { error: "ERR invalid expire time in 'set' command" },
  ]);
});

test('errors: unknown command, wrong arity, syntax', async () => {
  assert.deepEqual(
    await session(
      ['foo', 'a', 'b'],
      ['FOO'],
      ['GET'],
      ['get', 'a', 'b'],
      ['MSET', 'a'],
      ['MSET', 'a', 'b', 'c'],
      ['SET', 'a', 'b', 'EX'],
    ),
    [
      { error: "ERR unknown command 'foo', with args beginning with: 'a' 'b' " },
      { error: "ERR unknown command 'FOO', with args beginning with: " },
      { error: "ERR wrong number of arguments for 'get' command" },
      { error: "ERR wrong number of arguments for 'get' command" },
      { error: "ERR wrong number of arguments for 'mset' command" },
      { error: "ERR wrong number of arguments for 'mset' command" },
      { error: 'ERR syntax error' },
    ],
  );
});

test('maxKeys answers OOM like Redis', async () => {
  await session(['FLUSHALL']);
  const many: string[][] = [];
  for (let i = 0; i < 1000; i++) many.push(['SET', `k${i}`, 'v']);
  await session(...many);
  assert.deepEqual(await session(['SET', 'one-more', 'v'], ['SET', 'k1', 'overwrite'], ['DBSIZE']), [
    { error: "OOM command not allowed when used memory > 'maxmemory'." },
    'OK',
    1000,
  ]);
  await session(['FLUSHALL']);
});

test('a protocol error answers, closes that connection only', async () => {
  const good = await Client.open(server.port);
  const bad = await Client.open(server.port);
  bad.write('*1\r\n$x\r\n');
  assert.equal(await bad.closed(), '-ERR Protocol error: invalid bulk length\r\n');
  good.write(command('PING'));
  assert.deepEqual(await good.read(respValues(1)), ['PONG']);
  good.write('QUIT\r\n');
  assert.deepEqual(await good.read(respValues(1)), ['OK']);
  await good.closed();
});

test('redis-benchmark smoke test', async (t) => {
  const why = missingNow('redis-benchmark', 'redis-tools');
  if (why) {
    t.skip(why);
    return;
  }
  const { stdout } = await run(
    'redis-benchmark',
    ['-p', String(server.port), '-t', 'ping,set,get,incr,mset', '-n', '20000', '-c', '50', '-P', '16', '-q'],
    { timeout: 60_000 },
  );
  const lines = stdout.split(/\r|\n/).filter((l) => /requests per second/.test(l));
  t.diagnostic(lines.map((l) => l.trim()).join('; '));
  assert.ok(lines.length >= 5, stdout);
  const cli = await run('redis-cli', ['-p', String(server.port), 'SET', 'cli', 'works']);
  assert.equal(cli.stdout.trim(), 'OK');
});
