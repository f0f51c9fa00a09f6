// The conformance suite: the same cases for every model x backend. A target names the serve() options
// that select it and how many clients it serves at once; cases that need concurrency adapt to it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { memoryLogger, type ServeOptions, type ServerHandle, serve } from '../../src/index.ts';
import { readProcNetTcp } from '../../src/inspect/proc-net-tcp.ts';
import { encodeProxyHeader } from '../../src/protocols/proxy.ts';
import { eventually, prng, randomBytes, sleep, TestClient } from '../helpers/client.ts';
import { websocketCases } from './websocket-cases.ts';

export interface ConformanceTarget {
  /** e.g. 'reactor (node)'. */
  name: string;
  options: Partial<ServeOptions>;
  /** Clients served at the same time (Infinity for reactors); the rest wait in the accept queue. */
  concurrency: number;
  /**
   * At most this many clients connected at once by the echo case, when the test process's own client
   * descriptors count against the server (select's FD_SETSIZE with server and clients in one process).
   */
  maxClientsAtOnce?: number;
  /** Serving processes, for models whose per-process limits add up (multi-reactor). */
  workers?: number;
  /** Clients in the echo case (default 1,000); lower only where each client costs a process. */
  echoClients?: number;
}

/** Run the tasks with at most `limit` in flight. */
async function runLimited(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) await tasks[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}

type Logged = ReturnType<typeof memoryLogger>;

async function start(target: ConformanceTarget, options: Partial<ServeOptions> = {}) {
  const logger = memoryLogger();
  const server = await serve({ app: 'echo', ...target.options, ...options, port: 0, logger });
  return { server, logger };
}

async function stop(server: ServerHandle): Promise<void> {
  await server.close();
}

/** Send `messages` to a fresh connection, one after another, and check every byte comes back in order. */
async function echoSession(port: number, messages: Buffer[]): Promise<void> {
  const client = await TestClient.open(port, '127.0.0.1', 20_000);
  try {
    let total = 0;
    for (const m of messages) {
      client.write(m);
      total += m.length;
      await client.waitFor(total, 20_000);
    }
    assert.ok(client.data().equals(Buffer.concat(messages)), 'echoed bytes differ from the bytes sent');
  } finally {
    client.close();
  }
}

const testApp = (name: string) => new URL(`./apps/${name}.ts`, import.meta.url).pathname;

function logged(logger: Logged, reason: string): boolean {
  return logger.entries.some((e) => e.message.includes(`closed: ${reason}`));
}

export function conformance(target: ConformanceTarget): void {
  describe(`conformance: ${target.name}`, { concurrency: false, timeout: 300_000 }, () => {
    const echoClients = target.echoClients ?? 1000;
    test(`echo: ${echoClients.toLocaleString('en-US')} clients, as many at once as the model serves, random-size messages, every byte back in order`, async () => {
      const { server } = await start(target);
      try {
        const random = prng(1);
        const clients = echoClients;
        const sessions = Array.from({ length: clients }, (_, i) => {
          const messages = Array.from({ length: 1 + (i % 3) }, () =>
            randomBytes(random, 1 + Math.floor(random() ** 3 * 32_768)),
          );
          return () => echoSession(server.port, messages);
        });
        await runLimited(
          sessions,
          Math.min(clients, target.concurrency, target.maxClientsAtOnce ?? Infinity),
        );
        const stats = await server.stats();
        assert.equal(stats.accepted, clients);
      } finally {
        await stop(server);
      }
    });

    test('large messages: each bigger than a read buffer (64 KiB) comes back whole; a stall fails within seconds', async () => {
      // An edge-triggered reactor must read until EAGAIN: one that stops after a buffer's worth is told
      // nothing more by the kernel and leaves the rest in the socket. The watch below names that within
      // seconds (5 s without progress) instead of waiting for a timeout; a short drain then, as a server
      // that stopped reading never goes quiet. A 3 MiB echo may queue faster than this busy process reads
      // it: a write buffer big enough that it is not cut as a slow consumer.
      const { server } = await start(target, { drainTimeout: 2000, maxWriteBuffer: 64 << 20 });
      try {
        const random = prng(11);
        const sizes = [3 << 20, 65_537, (1 << 20) + 3, 256 << 10]; // the biggest first: a burst
        const sessions = Array.from({ length: 4 }, (_, i) => {
          const messages = sizes.map((n) => randomBytes(random, n + i));
          return () => echoWatched(server.port, messages);
        });
        await runLimited(sessions, Math.min(4, target.concurrency));
      } finally {
        await stop(server);
      }
    });

    test('framing: lines split at arbitrary chunk boundaries come back whole', async () => {
      const { server } = await start(target, { app: 'line-echo' });
      try {
        const random = prng(2);
        const lines = Array.from(
          { length: 200 },
          (_, i) => `line ${i} ${'x'.repeat(Math.floor(random() * 3000))}\n`,
        );
        const stream = Buffer.from(lines.join(''));
        const client = await TestClient.open(server.port);
        for (let at = 0; at < stream.length; ) {
          const n = 1 + Math.floor(random() * 700);
          client.write(stream.subarray(at, at + n));
          at += n;
          if (random() < 0.2) await sleep(1);
        }
        const back = await client.waitFor(stream.length);
        assert.equal(back.toString(), stream.toString());
        client.close();
      } finally {
        await stop(server);
      }
    });

    test('oversize frame: that connection closes with a logged reason, the others go on', async () => {
      const { server, logger } = await start(target, { app: 'line-echo' });
      try {
        // With spare concurrency a good client is served throughout; otherwise it waits its turn.
        const early = target.concurrency > 1 ? await TestClient.open(server.port) : undefined;
        if (early) {
          early.write('before\n');
          await early.waitFor(7);
        }
        const bad = await TestClient.open(server.port);
        bad.write(Buffer.alloc(100 * 1024, 'a'));
        await bad.waitClosed();
        await eventually(() => logged(logger, 'protocol-error'), 5000, 'a logged protocol-error');
        const entry = logger.entries.find((e) => e.message.includes('closed: protocol-error'))!;
        assert.match(String(entry.fields?.error), /line longer than/);
        const good = early ?? (await TestClient.open(server.port));
        good.write('after\n');
        await good.waitFor(early ? 13 : 6);
        assert.ok(good.data().toString().endsWith('after\n'));
        good.close();
        const stats = await server.stats();
        assert.equal(stats.closed['protocol-error'], 1);
      } finally {
        await stop(server);
      }
    });

    test('peer half-close: everything sent before FIN is answered, then the server closes', async () => {
      const { server } = await start(target);
      try {
        const client = await TestClient.open(server.port);
        const payload = randomBytes(prng(3), 200_000);
        client.socket.end(payload);
        await client.waitFor(payload.length);
        await client.waitEnded();
        assert.ok(client.data().equals(payload));
        await client.waitClosed();
      } finally {
        await stop(server);
      }
    });

    test('peer reset: the server counts it and keeps serving', async () => {
      const { server } = await start(target);
      try {
        const victim = await TestClient.open(server.port);
        victim.write('hello');
        await victim.waitFor(5);
        victim.socket.resetAndDestroy();
        await eventually(
          async () => (await server.stats()).closed['peer-reset'] === 1,
          5000,
          'peer-reset counted',
        );
        await echoSession(server.port, [Buffer.from('still here')]);
      } finally {
        await stop(server);
      }
    });

    test('idle timeout: a silent client is closed, a chatty one is not', async () => {
      // The chatty client speaks every 100 ms or so; the bound on it is the gaps it really left, so a busy
      // machine that stalls this process past the timeout makes it idle, not the server wrong.
      const { server } = await start(target, { idleTimeout: 1000 });
      try {
        const silent = await TestClient.open(server.port);
        const chatty = target.concurrency > 1 ? await TestClient.open(server.port) : undefined;
        const started = Date.now();
        let sent = 0;
        let lastWrite = Date.now();
        let worstGap = 0;
        while (!silent.closed && Date.now() - started < 20_000) {
          if (chatty && !chatty.closed) {
            worstGap = Math.max(worstGap, Date.now() - lastWrite);
            lastWrite = Date.now();
            chatty.write('.');
            await chatty.waitFor(++sent, 20_000).catch(() => {});
          }
          await sleep(100);
        }
        assert.ok(silent.closed, 'the silent client was not closed');
        const waited = Date.now() - started;
        // Timeouts run on a coarse clock ticking every quarter of the timeout (250 ms here), so a
        // connection may be closed up to a tick early, never sooner.
        assert.ok(waited >= 700, `closed after ${waited} ms, well before the timeout`);
        if (chatty) {
          // Closed only if it really left a gap of the timeout, less the coarse clock's tick.
          assert.ok(
            !chatty.closed || worstGap >= 750,
            `the chatty client was closed, though it spoke at most ${worstGap} ms apart (idle timeout 1000 ms)`,
          );
          chatty.close();
        }
        await eventually(
          async () => (await server.stats()).closed['idle-timeout'] >= 1,
          2000,
          'idle-timeout counted',
        );
      } finally {
        await stop(server);
      }
    });

    test('max connections: connection N+1 is refused or closed at once, earlier ones unaffected', async (t) => {
      // maxConnections is global: multi-process models split it among their workers (5 each here);
      // bounded models serve `concurrency` clients at once whatever the cap, and there N+1 waits in the
      // accept queue instead.
      const processes = target.workers ?? 1;
      const perProcess = Math.min(5, target.concurrency);
      const bounded = perProcess === target.concurrency;
      const { server } = await start(target, {
        maxConnections: bounded ? perProcess : perProcess * processes,
      });
      const held: TestClient[] = [];
      try {
        const attempts = bounded ? perProcess : perProcess * processes + 1;
        let refused = 0;
        for (let i = 0; i < attempts; i++) {
          const c = await TestClient.open(server.port);
          c.write(`c${i}`);
          try {
            await c.waitFor(2, 5000);
            held.push(c);
          } catch {
            assert.equal(c.received, 0, 'a refused connection got data');
            refused++;
          }
        }
        if (bounded) {
          // The model is full: client N+1 is refused, or waits (in the accept queue) until one leaves.
          const extra = await TestClient.open(server.port);
          extra.write('x');
          await sleep(300);
          assert.equal(extra.received, 0, 'client N+1 was served while N were');
          if (!extra.closed) {
            held.shift()!.close();
            await extra.waitFor(1, 10_000);
            held.push(extra);
          }
        } else {
          assert.ok(refused >= 1, 'no connection was refused');
          assert.ok(held.length <= perProcess * processes, `${held.length} connections held`);
          if (processes === 1) assert.equal(held.length, perProcess);
          const stats = await server.stats();
          assert.ok(stats.closed['max-connections'] >= 1);
          t.diagnostic(`held=${held.length} refused=${refused} rejected=${stats.rejected}`);
        }
        for (const c of held) {
          const before = c.received;
          c.write('!');
          await c.waitFor(before + 1);
          assert.equal(c.data().toString().at(-1), '!');
        }
      } finally {
        for (const c of held) c.close();
        await stop(server);
      }
    });

    test('graceful shutdown: messages in flight are all answered, then connections close', async () => {
      const { server } = await start(target);
      const clients = await Promise.all(
        Array.from({ length: Math.min(20, target.concurrency) }, () => TestClient.open(server.port)),
      );
      const random = prng(4);
      const sent = clients.map((c) => {
        const payload = randomBytes(random, 50_000);
        for (let at = 0; at < payload.length; at += 1000) c.write(payload.subarray(at, at + 1000));
        return payload;
      });
      const closing = server.close();
      await Promise.all(clients.map((c, i) => c.waitFor(sent[i].length, 10_000)));
      for (const [i, c] of clients.entries()) assert.ok(c.data().equals(sent[i]), `client ${i} lost bytes`);
      await Promise.all(clients.map((c) => c.waitEnded(10_000)));
      for (const c of clients) c.close();
      await closing;
      const stats = await server.stats();
      assert.equal(stats.active, 0);
      await assert.rejects(
        TestClient.open(server.port, '127.0.0.1', 1000),
        'the server still accepts after close()',
      );
    });

    test('pipelining: many requests in one read, many replies each, all in order; end() after them', async () => {
      const { server } = await start(target, { app: testApp('pipeline') });
      try {
        const client = await TestClient.open(server.port);
        const requests: string[] = [];
        const expected: string[] = [];
        for (let r = 0; r < 300; r++) {
          const count = r % 5;
          requests.push(`${count} r${r}${'.'.repeat(r % 40)}`);
          for (let i = 0; i < count; i++) expected.push(`r${r}${'.'.repeat(r % 40)} #${i}`);
        }
        requests.push('end');
        expected.push('bye');
        client.write(requests.map((r) => r + '\n').join(''));
        const want = expected.map((e) => e + '\n').join('');
        const back = await client.waitFor(Buffer.byteLength(want));
        assert.equal(back.toString(), want);
        await client.waitEnded();
        client.close();
      } finally {
        await stop(server);
      }
    });

    test('PROXY protocol: a trusted proxy names the client; an untrusted header is refused', async () => {
      const { server } = await start(target, { app: testApp('whoami'), proxyProtocol: true });
      try {
        const v1 = await TestClient.open(server.port);
        v1.write('PROXY TCP4 203.0.113.7 127.0.0.1 40001 7000\r\nwho\n');
        assert.equal((await v1.waitFor(18)).toString(), '203.0.113.7 40001\n');
        v1.close();
        const v2 = await TestClient.open(server.port);
        const header = encodeProxyHeader({
          version: 2,
          command: 'PROXY',
          family: 'IPv6',
          source: { address: '2001:db8::9', port: 40002 },
          destination: { address: '::1', port: 7000 },
        });
        v2.write(header.subarray(0, 10)); // a header split across reads
        await sleep(20);
        v2.write(Buffer.concat([header.subarray(10), Buffer.from('who\n')]));
        assert.equal((await v2.waitFor(18)).toString(), '2001:db8::9 40002\n');
        v2.close();
      } finally {
        await stop(server);
      }
      const untrusted = await start(target, {
        app: testApp('whoami'),
        proxyProtocol: true,
        trustedProxies: '10.0.0.0/8',
      });
      try {
        const forged = await TestClient.open(untrusted.server.port);
        forged.write('PROXY TCP4 203.0.113.7 127.0.0.1 40001 7000\r\nwho\n');
        await forged.waitClosed();
        assert.equal(forged.received, 0);
        await eventually(() => logged(untrusted.logger, 'protocol-error'), 5000, 'a logged protocol-error');
        const direct = await TestClient.open(untrusted.server.port); // no header: a direct client
        direct.write('who\n');
        assert.match((await direct.waitFor(11)).toString(), /^127\.0\.0\.1 \d+\n$/);
        direct.close();
      } finally {
        await stop(untrusted.server);
      }
    });

    test('a handler that throws loses its own connection only, with a logged reason', async () => {
      const { server, logger } = await start(target, { app: testApp('throws') });
      try {
        const bad = await TestClient.open(server.port);
        bad.write('boom\n');
        await bad.waitClosed();
        await eventually(() => logged(logger, 'handler-error'), 5000, 'a logged handler-error');
        await echoLines(server.port, ['fine', 'still fine']);
        assert.equal((await server.stats()).closed['handler-error'], 1);
      } finally {
        await stop(server);
      }
    });

    test('async handlers: replies come back in order, messages are not overwritten', async () => {
      const { server } = await start(target, { app: testApp('async-echo') });
      try {
        const lines = Array.from({ length: 300 }, (_, i) => `message ${i} ${'#'.repeat(i % 7)}`);
        await echoLines(server.port, lines);
      } finally {
        await stop(server);
      }
    });

    test('slow consumer: a peer that does not read is cut off at maxWriteBuffer', async () => {
      const { server, logger } = await start(target, { app: testApp('flood'), maxWriteBuffer: 1 << 20 });
      try {
        const client = await TestClient.open(server.port);
        client.socket.pause(); // read nothing
        client.write('flood 200\n'); // 12.5 MiB, far beyond kernel buffers + 1 MiB
        await eventually(() => logged(logger, 'slow-consumer'), 10_000, 'a logged slow-consumer');
        assert.equal((await server.stats()).closed['slow-consumer'], 1);
        // Cut with a reset: the kernel lets go of the server's side at once, rather than keep it (an
        // orphan in FIN_WAIT) behind the bytes the reader never takes.
        const clientPort = client.socket.localPort;
        await eventually(
          () =>
            !readProcNetTcp({ port: server.port }).rows.some(
              (r) => r.localPort === server.port && r.remotePort === clientPort && r.state !== 'TIME_WAIT',
            ),
          5000,
          "the kernel to drop the server's side of the cut connection",
        );
        client.close();
        const other = await TestClient.open(server.port); // the others are unaffected
        other.write('polite 1\n');
        await other.waitFor(64 * 1024 + 4);
        other.close();
      } finally {
        await stop(server);
      }
    });

    test('back-pressure: send() returns false, drain() resumes, every byte arrives', async () => {
      const { server } = await start(target, { app: testApp('flood'), maxWriteBuffer: 1 << 20 });
      try {
        const client = await TestClient.open(server.port);
        client.write('polite 100\n'); // 6.25 MiB through a 1 MiB limit: only possible with drain
        const total = 100 * 64 * 1024 + 4;
        await client.waitFor(total, 20_000);
        assert.equal(client.data().subarray(-4).toString(), 'end\n');
        client.close();
      } finally {
        await stop(server);
      }
    });

    test('late reader: echoes the kernel could not take at once are not overwritten by later reads', async () => {
      // Servers may read every connection into one shared buffer: an echo queued behind a full socket
      // must be a copy, or the next read (this connection's or another's) rewrites it before it leaves.
      const { server } = await start(target, { maxWriteBuffer: 64 << 20 });
      try {
        const late = await TestClient.open(server.port);
        late.socket.pause(); // its receive buffer and the server's send buffer fill up
        const sent = randomBytes(prng(7), 16 << 20); // more than both kernel buffers can hold (~10 MB)
        for (let at = 0; at < sent.length; at += 64 << 10) late.write(sent.subarray(at, at + (64 << 10)));
        const others =
          target.concurrency > 1
            ? Array.from({ length: 4 }, (_, i) => {
                const random = prng(100 + i);
                return echoSession(
                  server.port,
                  Array.from({ length: 64 }, () => randomBytes(random, 4096)),
                );
              })
            : [];
        await sleep(300);
        late.socket.resume();
        const back = await late.waitFor(sent.length, 60_000);
        assert.ok(back.equals(sent), 'the late reader got bytes other than it sent');
        await Promise.all(others);
        late.close();
      } finally {
        await stop(server);
      }
    });

    websocketCases(target);
  });
}

/**
 * echoSession, but a stall is named at once: on a connection the server has answered, no byte back for
 * STALL_MS while the server's side holds the same unread bytes in its receive queue means the server
 * stopped reading.
 */
async function echoWatched(port: number, messages: Buffer[]): Promise<void> {
  const STALL_MS = 5000;
  const client = await TestClient.open(port, '127.0.0.1', 20_000);
  try {
    const clientPort = client.socket.localPort;
    let total = 0;
    for (const m of messages) {
      client.write(m);
      total += m.length;
      // /proc/net/tcp is read only once the echo stops moving (it may list many sockets on a busy box).
      let last = { received: client.received, unread: -1, since: Date.now() };
      while (client.received < total) {
        if (client.closed)
          assert.fail(`the server closed the connection after ${client.received} of ${total} bytes`);
        await sleep(client.received === last.received ? 200 : 20);
        if (client.received !== last.received) {
          last = { received: client.received, unread: -1, since: Date.now() };
          continue;
        }
        const row = readProcNetTcp({ port }).rows.find(
          (r) => r.localPort === port && r.remotePort === clientPort,
        );
        const unread = row?.rxQueue ?? 0;
        // Nothing echoed yet on this connection: the server may not have started on it (a child process
        // still starting on a busy box), so only a connection it has served can be said to be stalled.
        if (unread === 0 || unread !== last.unread || client.received === 0)
          last = { received: client.received, unread, since: Date.now() };
        else if (Date.now() - last.since >= STALL_MS) {
          assert.fail(
            `the server stopped reading: ${unread} bytes of a ${m.length}-byte message sit unread in its socket ` +
              `and nothing came back for ${STALL_MS} ms (${client.received} of ${total} bytes echoed); an ` +
              'edge-triggered reactor must read until EAGAIN',
          );
        }
      }
    }
    assert.ok(client.data().equals(Buffer.concat(messages)), 'echoed bytes differ from the bytes sent');
  } finally {
    client.close();
  }
}

async function echoLines(port: number, lines: string[]): Promise<void> {
  const client = await TestClient.open(port);
  try {
    const text = lines.map((l) => l + '\n').join('');
    client.write(text);
    const back = await client.waitFor(Buffer.byteLength(text));
    assert.equal(back.toString(), text);
  } finally {
    client.close();
  }
}
