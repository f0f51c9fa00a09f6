// kv against hostile clients (issue 16, findings 3 and 4): glob patterns that would make a backtracking
// matcher run for seconds, and writes that grow memory past maxmemory by overwriting existing keys.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Glob, globMatch } from '../../src/apps/glob.ts';
import { createKv } from '../../src/apps/kv.ts';
import { memoryLogger, serve } from '../../src/index.ts';
import type { ServerHandle } from '../../src/models/types.ts';
import { resp } from '../../src/protocols/resp.ts';
import { Client, command, respValues } from './client.ts';

const MAX_MEMORY = 1024 * 1024;
const kv = createKv({ maxMemory: MAX_MEMORY });
let server: ServerHandle;

before(async () => {
  server = await serve({ app: kv.app, port: 0, logger: memoryLogger() });
});
after(() => server.close());

async function session(...commands: (string | Buffer)[][]) {
  const client = await Client.open(server.port);
  try {
    client.write(Buffer.concat(commands.map((c) => command(...c))));
    return await client.read(respValues(commands.length), 10_000);
  } finally {
    client.close();
  }
}

test('glob semantics follow Redis stringmatch: *, ?, [abc], [^a], [a-z], [z-a], \\ escapes', () => {
  const yes: [string, string][] = [
    ['*', 'anything'],
    ['*', ''],
    ['a*', 'abc'],
    ['*c', 'abc'],
    ['a*c', 'ac'],
    ['a**c', 'abbbc'],
    ['?', 'x'],
    ['a?c', 'abc'],
    ['[abc]', 'b'],
    ['[^abc]', 'd'],
    ['[a-c]x', 'bx'],
    ['[c-a]x', 'bx'], // a reversed range is swapped, as Redis does
    ['[a-c-e]', 'e'],
    ['\\*', '*'],
    ['\\?', '?'],
    ['[\\]]', ']'],
    ['[\\^a]', '^'],
    ['[abc', 'b'], // an unclosed class ends with the pattern
    ['*a*b*c*', 'xxaxxbxxcxx'],
    ['h?llo*', 'hallo world'],
  ];
  for (const [p, t] of yes) assert.ok(globMatch(p, t), `${p} should match ${JSON.stringify(t)}`);
  const no: [string, string][] = [
    ['a*', 'ba'],
    ['?', ''],
    ['??', 'a'],
    ['[abc]', 'd'],
    ['[^abc]', 'a'],
    ['[a-c]', 'd'],
    ['\\*', 'a'],
    ['a\\', 'a'],
    ['[]', 'a'],
    ['*a*b', 'xxbxxa'],
    ['abc', 'ABC'],
  ];
  for (const [p, t] of no) assert.ok(!globMatch(p, t), `${p} should not match ${JSON.stringify(t)}`);
  assert.ok(globMatch('a\\', 'a\\'), 'a trailing backslash is a literal backslash');
  assert.ok(globMatch('h?LLO', 'Hello', true), 'nocase');
  assert.ok(globMatch('[A-Z]', 'q', true), 'nocase range');
  assert.ok(!globMatch('[\\A]', 'a', true), 'an escaped byte in a class compares exactly, as Redis does');
  assert.ok(globMatch('[^]', 'x'), '[^] matches any one byte');
});

test('a glob with a huge pattern compiles only what a text can use', () => {
  // Needs 1,000,001 bytes: matches nothing of 16, decided after reading 17 tokens' worth.
  assert.ok(!new Glob(`${'a'.repeat(1_000_000)}*x`, false, 16).matches('aaaa'));
  assert.ok(new Glob(`${'*'.repeat(1_000_000)}x`, false, 16).matches('yyyyx'));
  assert.ok(new Glob(`${'*?'.repeat(8)}*`, false, 16).matches('abcdefgh'));
  assert.ok(!new Glob(`${'*?'.repeat(9)}*`, false, 16).matches('abcdefgh'));
});

test('CONFIG GET with backtracking-bait patterns answers at once, and the server keeps serving', async () => {
  // Each of these took seconds of CPU (or overflowed the RegExp stack and dropped the connection) with
  // the RegExp the pattern was compiled to before.
  const patterns = [
    `${'*'.repeat(18)}x`,
    `${'*a'.repeat(5000)}x`,
    '*'.repeat(20_000),
    `${'*?'.repeat(30)}z`,
    `[${'a'.repeat(60_000)}`,
    `${'\\*'.repeat(10_000)}`,
    `m${'*'.repeat(65_534)}y`,
  ];
  const started = performance.now();
  const got = await session(...patterns.map((p) => ['CONFIG', 'GET', p]), ['PING']);
  const ms = performance.now() - started;
  assert.deepEqual(got, [
    [],
    [],
    [
      'save',
      '',
      'appendonly',
      'no',
      'maxmemory',
      String(MAX_MEMORY),
      'databases',
      '1',
      'maxmemory-policy',
      'noeviction',
    ],
    [],
    [],
    [],
    ['maxmemory', String(MAX_MEMORY), 'maxmemory-policy', 'noeviction'],
    'PONG',
  ]);
  // Not a timing assertion a loaded box can break: the old matcher needed seconds for the first one alone.
  assert.ok(ms < 5000, `${ms} ms`);
  assert.deepEqual(await session(['CONFIG', 'GET', 'MaxMem?ry']), [['maxmemory', String(MAX_MEMORY)]]);
  // A pattern of exactly 64 KiB is matched; one byte more is refused.
  assert.deepEqual(
    await session(['CONFIG', 'GET', `${'*'.repeat(65_535)}y`], ['CONFIG', 'GET', `${'*'.repeat(65_536)}y`]),
    [
      ['appendonly', 'no', 'maxmemory', String(MAX_MEMORY), 'maxmemory-policy', 'noeviction'],
      { error: 'ERR pattern longer than 65536 bytes' },
    ],
  );
});

test('maxmemory is checked on every write that grows memory: overwrites, INCR, MSET (as noeviction)', async () => {
  await session(['FLUSHALL']);
  const big = Buffer.alloc(400 * 1024, 0x61);
  const bigger = Buffer.alloc(700 * 1024, 0x62);
  const small = Buffer.from('s');
  assert.deepEqual(await session(['SET', 'a', small], ['SET', 'b', big]), ['OK', 'OK']);
  const oom = { error: "OOM command not allowed when used memory > 'maxmemory'." };
  // Overwriting an existing key with a bigger value would pass maxmemory (400 KiB + 700 KiB > 1 MiB).
  assert.deepEqual(await session(['SET', 'a', bigger]), [oom]);
  assert.deepEqual(await session(['MSET', 'a', bigger, 'c', 'x']), [oom]);
  assert.deepEqual(await session(['MGET', 'a', 'c']), [['s', null]], 'an OOM write changes nothing');
  // Fill to exactly maxmemory: at the bound a write is allowed, one byte past it is not.
  assert.deepEqual(await session(['SET', 'n', '9']), ['OK']);
  const used = () => kv.store.memory;
  const room = MAX_MEMORY - used();
  let length = room - 100;
  while (kv.store.growth('pad', resp.bulk(Buffer.alloc(length))) < room) length++;
  const pad = Buffer.alloc(length, 0x63);
  assert.deepEqual(await session(['SET', 'pad', pad]), ['OK']);
  assert.equal(used(), MAX_MEMORY, 'a write that lands exactly on maxmemory is allowed');
  assert.deepEqual(await session(['INCR', 'n']), [oom], '9 -> 10 grows a byte past maxmemory');
  assert.deepEqual(await session(['SET', 'pad', Buffer.concat([pad, small])]), [oom]);
  assert.deepEqual(await session(['SET', 'b', 'shrunk'], ['INCR', 'n']), ['OK', 10], 'memory freed');
  assert.deepEqual(await session(['DEL', 'pad'], ['SET', 'a', bigger]), [1, 'OK']);
  assert.ok(used() <= MAX_MEMORY);
  await session(['FLUSHALL']);
});
