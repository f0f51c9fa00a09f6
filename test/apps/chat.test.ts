// The chat app: rooms in one reactor, across the workers of a multi-reactor (clients on different
// workers), a member who never reads cut off as a slow consumer while the room goes on, and rooms across
// two servers through a real redis-server (skipped with the reason when redis-server is absent).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { createChat } from '../../src/apps/chat.ts';
import { memoryLogger, type ServerHandle, serve } from '../../src/index.ts';
import { eventually } from '../helpers/client.ts';
import { freePort, missing } from '../peers/helpers.ts';
import { LineClient } from './line-client.ts';

const servers: ServerHandle[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function start(options: Parameters<typeof serve>[0]): Promise<ServerHandle> {
  const server = await serve({ port: 0, logger: memoryLogger(), ...options });
  servers.push(server);
  return server;
}

/** Connect, set a nick, join a room; the welcome and acks are consumed. */
async function member(port: number, nick: string, room: string): Promise<LineClient> {
  const c = await LineClient.open(port);
  await c.next(/^\* welcome/);
  c.send(`/nick ${nick}`);
  await c.next(/^\* you are now/);
  c.send(`/join ${room}`);
  await c.next(/^\* you joined/);
  return c;
}

test('reactor: members of a room hear each other, other rooms do not', async () => {
  const chat = createChat();
  const server = await start({ app: chat.app });
  const alice = await member(server.port, 'alice', 'lobby');
  const bob = await member(server.port, 'bob', 'lobby');
  const carol = await member(server.port, 'carol', 'other');
  await alice.next('* bob joined #lobby');
  alice.send('hello bob');
  assert.equal(await bob.next(), '<alice> hello bob');
  bob.send('hi alice');
  assert.equal(await alice.next(), '<bob> hi alice');
  bob.send('/who');
  assert.equal(await bob.next(), '* in #lobby on this worker: alice bob');
  carol.send('anyone?');
  bob.send('/whoami');
  assert.match(await bob.next(), /^\* nick=bob room=lobby pid=\d+$/);
  alice.send('x'.repeat(600));
  assert.match(await alice.next(), /^! message too long/);
  carol.send('/nick bad name!');
  assert.match(await carol.next(), /^! a nick/);
  bob.send('/leave');
  assert.equal(await bob.next(), '* you left #lobby');
  assert.equal(await alice.next(), '* bob left #lobby');
  // No echo of one's own lines, nothing from the other room.
  assert.deepEqual(alice.pending(), []);
  assert.deepEqual(carol.pending(), []);
  for (const c of [alice, bob, carol]) c.close();
  await eventually(() => chat.rooms.size === 0, 2000, 'rooms emptied');
});

for (const backend of ['syscall', 'node'] as const) {
  test(`multi-reactor (${backend}): members on different workers chat through the supervisor`, async () => {
    const server = await start({ app: 'chat', model: 'multi-reactor', backend, workers: 2 });
    // Open members until two of them sit on different workers (reuseport spreads by 4-tuple hash).
    const byPid = new Map<number, LineClient>();
    const extra: LineClient[] = [];
    for (let i = 0; i < 40 && byPid.size < 2; i++) {
      const c = await member(server.port, `m${i}`, 'lobby');
      c.send('/whoami');
      const pid = Number((await c.next(/^\* nick=/)).split('pid=')[1]);
      if (byPid.has(pid)) extra.push(c);
      else byPid.set(pid, c);
    }
    assert.equal(byPid.size, 2, 'no two members landed on different workers');
    const [a, b] = [...byPid.values()];
    a.send('across workers');
    assert.match(await b.next(/^</), /^<m\d+> across workers$/);
    b.send('and back');
    assert.match(await a.next(/^</), /^<m\d+> and back$/);
    for (const c of [...byPid.values(), ...extra]) c.close();
  });
}

for (const backend of ['syscall', 'node'] as const) {
  test(`process-per-connection (${backend}): members, each in a process of its own, chat through the parent`, async () => {
    const logger = memoryLogger();
    const server = await start({ app: 'chat', model: 'process-per-connection', backend, logger });
    const alice = await member(server.port, 'alice', 'lobby');
    const bob = await member(server.port, 'bob', 'lobby');
    const carol = await member(server.port, 'carol', 'elsewhere');
    assert.equal(server.pids().length, 4, 'the parent and one child per member');
    alice.send('hello from alice');
    await bob.next(/^<alice> hello from alice$/);
    bob.send('hi alice');
    await alice.next(/^<bob> hi alice$/);
    carol.send('/whoami');
    await carol.next(/carol/);
    assert.ok(!carol.lines.some((l) => l.includes('hello from alice')), 'another room hears nothing');
    assert.ok(!logger.entries.some((e) => e.level === 'warn'), 'no warning for this model');
    for (const c of [alice, bob, carol]) c.close();
  });
}

test('a member who never reads is dropped as a slow consumer; the room goes on', async (t) => {
  const chat = createChat();
  const server = await start({
    app: chat.app,
    highWaterMark: 16 * 1024,
    lowWaterMark: 4 * 1024,
    maxWriteBuffer: 128 * 1024,
  });
  const speaker = await member(server.port, 'speaker', 'flood');
  const reader = await member(server.port, 'reader', 'flood');
  const sleeper = await member(server.port, 'sleeper', 'flood');
  sleeper.socket.pause(); // never reads again: the kernel buffers fill, then the server's
  const line = 'y'.repeat(500);
  let sent = 0;
  const batch = Array.from({ length: 200 }, () => line).join('\n') + '\n';
  while ((await server.stats()).closed['slow-consumer'] === 0) {
    assert.ok(sent < 200_000, 'the sleeper was never dropped');
    speaker.socket.write(batch);
    sent += 200;
    await reader.waitLines(sent + 4, 10_000); // the reader keeps up with everything said
  }
  assert.equal((await server.stats()).closed['slow-consumer'], 1);
  t.diagnostic(`the sleeper was dropped after ${sent} lines (${(sent * 501) >> 10} KiB) were said`);
  speaker.send('still here');
  await reader.waitFor((l) => l === '<speaker> still here');
  assert.ok(reader.lines.includes('* sleeper left #flood'));
  const ys = reader.lines.filter((l) => l === `<speaker> ${line}`).length;
  assert.equal(ys, sent, 'the reader got every line');
  for (const c of [speaker, reader, sleeper]) c.close();
});

test('bounded models: thread-pool threads and prefork workers chat through their relay, with a warning that few take part', async () => {
  // Thread pool: the acceptor relays between the threads, each serving one member.
  const poolLog = memoryLogger();
  const pool = await start({ app: 'chat', model: 'thread-pool', workers: 2, logger: poolLog });
  assert.ok(
    poolLog.entries.some((e) => e.level === 'warn' && /each thread serves one client/.test(e.message)),
    'thread-pool warning',
  );
  const [a, b] = [await member(pool.port, 'alice', 'r'), await member(pool.port, 'bob', 'r')];
  a.send('hello from alice');
  await b.next(/^<alice> hello from alice$/);
  b.send('hi alice');
  await a.next(/^<bob> hi alice$/);
  a.close();
  b.close();
  // Prefork: the supervisor relays between workers, so the two members (one per worker) hear each other.
  const preforkLog = memoryLogger();
  const prefork = await start({ app: 'chat', model: 'prefork', workers: 2, logger: preforkLog });
  assert.ok(
    preforkLog.entries.some((e) => e.level === 'warn' && /as many clients as --workers/.test(e.message)),
    'prefork warning',
  );
  const [c, d] = [await member(prefork.port, 'carol', 'r'), await member(prefork.port, 'dave', 'r')];
  c.send('hello from carol');
  await d.next(/^<carol> hello from carol$/);
  c.close();
  d.close();
  // Iterative: one client in all.
  const iterativeLog = memoryLogger();
  await start({ app: createChat().app, model: 'iterative', logger: iterativeLog }); // its own instance: in this process
  assert.ok(
    iterativeLog.entries.some((e) => e.level === 'warn' && /no other client/.test(e.message)),
    'iterative warning',
  );
  // A reactor holds every client: no warning.
  const reactorLog = memoryLogger();
  await start({ app: createChat().app, model: 'reactor', logger: reactorLog });
  assert.ok(!reactorLog.entries.some((e) => e.level === 'warn'), 'no warning under reactor');
});

test('a bus URL that is not redis://HOST:PORT is refused with one line', async () => {
  await assert.rejects(
    serve({ app: 'chat', port: 0, bus: 'http://127.0.0.1:6379', logger: memoryLogger() }),
    {
      name: 'ServeError',
      message: /only redis:\/\/HOST:PORT/,
    },
  );
});

// ---- across servers through a real redis-server ---------------------------------------------------
const noRedis = missing('redis-server', 'redis-server');

async function startRedis(): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  await eventually(
    async () => {
      try {
        await LineClient.open(port).then((c) => c.close());
        return true;
      } catch {
        return false;
      }
    },
    5000,
    'redis-server listening',
  );
  return { port, proc };
}

test('rooms span two servers on one redis (pub/sub), including a multi-reactor', {
  skip: noRedis,
}, async () => {
  const redis = await startRedis();
  try {
    const bus = `redis://127.0.0.1:${redis.port}`;
    const one = await start({ app: createChat().app, bus });
    const two = await start({ app: 'chat', model: 'multi-reactor', backend: 'node', workers: 2, bus });
    const ann = await member(one.port, 'ann', 'world');
    const ben = await member(two.port, 'ben', 'world');
    const cat = await member(two.port, 'cat', 'elsewhere');
    // A subscription reaches redis a moment after /join: say it until it is heard.
    let heard = false;
    for (let i = 0; i < 50 && !heard; i++) {
      ben.send(`ping ${i}`);
      heard = await ann
        .waitFor((l) => l.startsWith('<ben> ping'), 100)
        .then(
          () => true,
          () => false,
        );
    }
    assert.ok(heard, 'server one never heard server two');
    ann.send('hello from one');
    await ben.waitFor((l) => l === '<ann> hello from one', 5000);
    assert.ok(!ann.lines.some((l) => l === '<ann> hello from one'), 'own line echoed back via redis');
    assert.ok(!cat.lines.some((l) => l.startsWith('<')), 'another room heard it');
    for (const c of [ann, ben, cat]) c.close();
  } finally {
    redis.proc.kill('SIGKILL');
  }
});
