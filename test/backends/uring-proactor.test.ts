// The proactor inside Node and across processes: Node's timers and promises keep running while it is busy;
// parked while idle, it wakes for a new client and for a write a timer makes; a ring of receive buffers
// that runs dry slows it but loses nothing; chat across multi-proactor workers; a rolling reload; and on
// a machine without io_uring, `--model proactor` exits 2 with one line and the conformance cases skip
// with the reason (simulated with C10K_IO_URING=off).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { defineApp, memoryLogger, serve } from '../../src/index.ts';
import { startProactor } from '../../src/models/proactor.ts';
import { resolveServeOptions } from '../../src/serve.ts';
import { ioUringSupport, syscallBackendAvailable } from '../../src/sys/index.ts';
import { LineClient } from '../apps/line-client.ts';
import { prng, randomBytes, sleep, TestClient } from '../helpers/client.ts';

const support = syscallBackendAvailable() ? ioUringSupport() : { ok: false, reason: 'no syscall backend' };
const skip = support.ok ? false : `io_uring unavailable: ${support.reason}`;
const ROOT = new URL('../../', import.meta.url).pathname;

const LOAD = `
const net = require('node:net');
const { workerData, parentPort } = require('node:worker_threads');
let echoed = 0, open = 0;
const end = Date.now() + workerData.ms;
for (let i = 0; i < 40; i++) {
  const s = net.connect(workerData.port, '127.0.0.1', () => { open++; s.write('0123456789abcdef'); });
  let got = 0;
  s.on('data', (d) => {
    got += d.length;
    while (got >= 16) { got -= 16; echoed++; if (Date.now() < end) s.write('0123456789abcdef'); else { s.end(); return; } }
  });
  s.on('error', () => {});
  s.on('close', () => { if (--open === 0) parentPort.postMessage(echoed); });
}
`;

test('proactor, busy: Node timers fire on time and promises settle while it serves', { skip }, async () => {
  const server = await serve({ app: 'echo', model: 'proactor', port: 0, logger: memoryLogger() });
  try {
    const worker = new Worker(LOAD, { eval: true, workerData: { port: server.port, ms: 1500 } });
    const echoed = new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    let ticks = 0;
    let worstLateMs = 0;
    let last = performance.now();
    const interval = setInterval(() => {
      const now = performance.now();
      worstLateMs = Math.max(worstLateMs, now - last - 5);
      last = now;
      ticks++;
    }, 5);
    let settled = 0;
    let chain = true;
    const spin = async () => {
      while (chain) {
        await new Promise<void>((r) => setImmediate(r));
        settled++;
      }
    };
    const spinning = spin();
    const total = await echoed;
    clearInterval(interval);
    chain = false;
    await spinning;
    await worker.terminate();
    assert.ok(total > 2000, `the proactor was kept busy: ${total} echoes`);
    assert.ok(ticks >= 100, `${ticks} ticks of a 5 ms interval in 1.5 s`);
    assert.ok(worstLateMs < 250, `a 5 ms timer was ${worstLateMs.toFixed(1)} ms late`);
    assert.ok(settled >= 100, `${settled} promise/immediate round trips`);
  } finally {
    await server.close();
  }
});

test('proactor, idle: parked, it wakes for a new client and for a write made by a timer', {
  skip,
}, async () => {
  const app = defineApp({
    protocol: 'line',
    message(conn, line) {
      // The reply leaves from a timer, long after the turn that read the line: the loop is parked then.
      setTimeout(() => conn.send(`late ${line}`), 50);
    },
  });
  const server = await serve({ app, model: 'proactor', port: 0, logger: memoryLogger() });
  try {
    await sleep(100); // well past the short synchronous wait: parked
    const c = await LineClient.open(server.port);
    c.send('one');
    assert.equal(await c.next(), 'late one');
    await sleep(100);
    c.send('two');
    assert.equal(await c.next(), 'late two');
    c.close();
  } finally {
    await server.close();
  }
});

test('proactor with 16 receive buffers for 200 clients: receives wait for buffers, every byte comes back', {
  skip,
}, async () => {
  const options = await resolveServeOptions({
    app: 'echo',
    model: 'proactor',
    port: 0,
    logger: memoryLogger(),
  });
  const server = await startProactor(options, {}, 16);
  try {
    const random = prng(7);
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        const client = await TestClient.open(server.port, '127.0.0.1', 20_000);
        const messages = [randomBytes(random, 1 + Math.floor(random() * 20_000)), randomBytes(random, 3000)];
        let total = 0;
        for (const m of messages) {
          client.write(m);
          total += m.length;
          await client.waitFor(total, 20_000);
        }
        assert.ok(client.data().equals(Buffer.concat(messages)));
        client.close();
      }),
    );
  } finally {
    await server.close();
  }
});

test('multi-proactor: chat members on different workers hear each other; a reload keeps serving', {
  skip,
}, async () => {
  const server = await serve({
    app: 'chat',
    model: 'multi-proactor',
    workers: 2,
    port: 0,
    logger: memoryLogger(),
  });
  const clients: LineClient[] = [];
  try {
    const byPid = new Map<number, LineClient>();
    for (let i = 0; i < 40 && byPid.size < 2; i++) {
      const c = await LineClient.open(server.port);
      clients.push(c);
      await c.next(/^\* welcome/);
      c.send(`/nick m${i}`);
      await c.next(/^\* you are now/);
      c.send('/join lobby');
      await c.next(/^\* you joined/);
      c.send('/whoami');
      const pid = Number((await c.next(/^\* nick=/)).split('pid=')[1]);
      if (!byPid.has(pid)) byPid.set(pid, c);
    }
    assert.equal(byPid.size, 2, 'no two members landed on different workers');
    const [a, b] = [...byPid.values()];
    a!.send('across workers');
    assert.match(await b!.next(/^</), /^<m\d+> across workers$/);
    for (const c of clients) c.close();
    const before = new Set(server.pids());
    await server.reload!();
    const after = server.pids().filter((pid) => pid !== process.pid);
    assert.ok(after.length >= 2 && after.every((pid) => !before.has(pid)), 'every worker replaced');
    const c = await LineClient.open(server.port);
    assert.match(await c.next(), /^\* welcome/);
    c.close();
  } finally {
    await server.close();
  }
});

test('without io_uring: --model proactor exits 2 with one line naming what is missing', () => {
  for (const model of ['proactor', 'multi-proactor']) {
    const r = spawnSync(
      process.execPath,
      ['bin/c10k.ts', 'serve', '--app', 'echo', '--model', model, '--port', '0'],
      {
        cwd: ROOT,
        env: { ...process.env, C10K_IO_URING: 'off' },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /needs io_uring: .*C10K_IO_URING=off.*models that work here: reactor/);
  }
});

test('without io_uring: the proactor conformance cases skip and print the reason', () => {
  const r = spawnSync(process.execPath, ['--test', 'test/conformance/proactor-syscall.test.ts'], {
    cwd: ROOT,
    env: { ...process.env, C10K_IO_URING: 'off', NODE_TEST_CONTEXT: undefined },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /skipped: io_uring is turned off here/);
  assert.match(r.stdout, /skipped 1\b/);
});
