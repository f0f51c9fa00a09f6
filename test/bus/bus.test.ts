// The app bus without a server: a hub relaying between members, the RESP reply reader, and the Redis
// link against a real redis-server (skipped when absent): delivery between two hubs, no echo of one's
// own publications, a bounded queue while Redis is down, reconnection and re-subscription after it
// comes back.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { test } from 'node:test';
import { BusHub, type BusPayload, joinHub, localBus } from '../../src/bus/bus.ts';
import { RedisBus, RespError, RespReader } from '../../src/bus/redis.ts';
import { memoryLogger } from '../../src/index.ts';
import { eventually } from '../helpers/client.ts';
import { freePort, missing } from '../peers/helpers.ts';

test('a hub relays to the other subscribed members; the publisher hears itself synchronously', () => {
  const logger = memoryLogger();
  const hub = new BusHub({ logger });
  const got: string[] = [];
  const buses = [0, 1, 2].map((i) => ({ bus: joinHub(hub, logger), name: `w${i}` }));
  const offs = buses
    .slice(0, 2)
    .map(({ bus, name }) => bus.subscribe('room', (p: BusPayload) => got.push(`${name}:${p}`)));
  buses[0].bus.publish('room', 'a');
  buses[2].bus.publish('room', 'b');
  buses[2].bus.publish('other', 'c');
  offs[1]();
  buses[0].bus.publish('room', Buffer.from('d'));
  assert.deepEqual(got, ['w0:a', 'w1:a', 'w0:b', 'w1:b', 'w0:d']);
  assert.throws(() => buses[0].bus.publish('', 'x'), TypeError);
  assert.throws(() => buses[0].bus.publish('t', Buffer.alloc(2 * 1024 * 1024)), RangeError);
});

test('a handler that throws is logged; the others still get the message', () => {
  const logger = memoryLogger();
  const { bus, close } = localBus(logger);
  let got = 0;
  bus.subscribe('t', () => {
    throw new Error('boom');
  });
  bus.subscribe('t', () => got++);
  bus.publish('t', 'x');
  assert.equal(got, 1);
  close();
});

test('RESP reader: every reply type, split anywhere', () => {
  const wire = Buffer.from(
    '+OK\r\n-ERR bad\r\n:42\r\n$5\r\nhe\r\no\r\n$-1\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$0\r\n\r\n*-1\r\n',
  );
  for (let cut = 0; cut <= wire.length; cut++) {
    const r = new RespReader();
    const out = [...r.push(wire.subarray(0, cut)), ...r.push(wire.subarray(cut))];
    assert.equal(out.length, 7);
    assert.equal(out[0], 'OK');
    assert.ok(out[1] instanceof RespError && out[1].message === 'ERR bad');
    assert.equal(out[2], 42);
    assert.equal(String(out[3]), 'he\r\no');
    assert.equal(out[4], null);
    assert.deepEqual((out[5] as Buffer[]).map(String), ['message', 'c', '']);
    assert.equal(out[6], null);
  }
});

test('Redis down: publications queue up to a bound, then are dropped', async () => {
  const port = await freePort(); // nobody listens
  const bus = new RedisBus(`redis://127.0.0.1:${port}`, memoryLogger());
  try {
    for (let i = 0; i < 12_000; i++) bus.publish('t', 'x');
    const s = bus.state;
    assert.equal(s.connected, false);
    assert.equal(s.queued, 10_000);
    assert.equal(s.dropped, 2000);
  } finally {
    bus.close();
  }
});

const noRedis = missing('redis-server', 'redis-server');

function startRedis(port: number): Promise<ChildProcess> {
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    setTimeout(() => resolve(proc), 150);
  });
}

test('two hubs over a real redis-server; reconnect and re-subscribe after a restart', {
  skip: noRedis,
}, async () => {
  const port = await freePort();
  let redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}`;
  const a = localBus(memoryLogger(), url);
  const b = localBus(memoryLogger(), url);
  const atA: string[] = [];
  const atB: string[] = [];
  try {
    a.bus.subscribe('news', (p) => atA.push(String(p)));
    b.bus.subscribe('news', (p) => atB.push(String(p)));
    b.bus.subscribe('bytes', (p) => atB.push(Buffer.isBuffer(p) ? `bytes:${p.length}` : 'text'));
    let i = 0;
    await eventually(
      () => {
        a.bus.publish('news', `n${i++}`);
        return atB.length > 0;
      },
      5000,
      'b hears a',
    );
    a.bus.publish('bytes', Buffer.from([0, 1, 2]));
    await eventually(() => atB.includes('bytes:3'), 2000, 'bytes arrive as bytes');
    // a heard its own lines once each (locally), never again through redis.
    assert.deepEqual(
      atA,
      Array.from({ length: i }, (_, k) => `n${k}`),
    );
    redis.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    redis = await startRedis(port);
    atB.length = 0;
    await eventually(
      () => {
        a.bus.publish('news', 'after restart');
        return atB.includes('after restart');
      },
      8000,
      'b hears a after redis restarted',
    );
  } finally {
    a.close();
    b.close();
    redis.kill('SIGKILL');
  }
});
