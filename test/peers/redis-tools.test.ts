// redis-cli and redis-benchmark against `c10k serve --app kv` (the real client tools of Debian's
// redis-tools): round trips of the common commands, and a short pipelined benchmark that completes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { c10kServe, missing, run } from './helpers.ts';

const noCli = missing('redis-cli', 'redis-tools');
const noBench = missing('redis-benchmark', 'redis-tools');
let server: Awaited<ReturnType<typeof c10kServe>> | undefined;

before(async () => {
  if (!noCli || !noBench) server = await c10kServe(['--app', 'kv', '--model', 'reactor']);
});
after(async () => {
  if (server) assert.equal(await server.stop(), 0);
});

const cli = async (...args: string[]) =>
  (await run('redis-cli', ['-p', String(server!.port), ...args])).stdout.trim();

test('redis-cli round trips against kv', { skip: noCli }, async () => {
  assert.equal(await cli('ping'), 'PONG');
  assert.equal(await cli('SET', 'peer:k', 'hello world'), 'OK');
  assert.equal(await cli('GET', 'peer:k'), 'hello world');
  assert.equal(await cli('INCR', 'peer:n'), '1');
  assert.equal(await cli('INCRBY', 'peer:n', '41'), '42');
  assert.equal(await cli('DEL', 'peer:k', 'peer:n', 'peer:none'), '2');
  assert.equal(await cli('GET', 'peer:k'), '');
  assert.equal(await cli('EXISTS', 'peer:n'), '0');
  // Several commands on one connection, as redis-cli reads them from stdin (-x not needed: pipe mode).
  const { stdout } = await run('sh', [
    '-c',
    `printf 'SET a 1\\nINCR a\\nGET a\\n' | redis-cli -p ${server!.port}`,
  ]);
  assert.deepEqual(stdout.trim().split('\n'), ['OK', '2', '2']);
});

test('redis-benchmark smoke run against kv (-c 50 -P 16)', { skip: noBench }, async (t) => {
  const { stdout, stderr } = await run(
    'redis-benchmark',
    ['-p', String(server!.port), '-t', 'ping,set,get', '-n', '20000', '-c', '50', '-P', '16', '-q'],
    30_000,
  );
  const lines = stdout.split(/\r|\n/).filter((l) => /requests per second/.test(l));
  t.diagnostic(lines.map((l) => l.trim()).join('; '));
  // ping runs as PING_INLINE and PING_MBULK: four results, no error.
  assert.equal(lines.length, 4, stdout);
  assert.doesNotMatch(stdout + stderr, /error|ERR/i);
});
