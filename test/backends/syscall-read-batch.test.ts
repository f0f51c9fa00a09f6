// The syscall reactor serves ready sockets in batches: it reads them all, hands the reads to the app, then
// sends the replies it deferred (a connection's first small write of the batch). Whatever the batch size,
// every connection must see exactly what it would see if each reply went out at once: its own replies in
// the order its messages were handled (several per message, to other connections, corked pipelines), a
// FIN only after the last of them, and replies that did not fit in the socket queued, not lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Connection, defineApp, memoryLogger, serve } from '../../src/index.ts';
import * as sys from '../../src/sys/index.ts';
import { prng, TestClient } from '../helpers/client.ts';
import { tcpPair, waitFor } from '../sys/helpers.ts';

const skip = sys.syscallBackendAvailable() ? false : 'the syscall backend needs Linux';

/** A syscall reactor on a free port serving `app`. */
const start = (app: Parameters<typeof serve>[0]['app'], options: Partial<Parameters<typeof serve>[0]> = {}) =>
  serve({ app, model: 'reactor', backend: 'syscall', port: 0, logger: memoryLogger(), ...options });

// name N: names the connection. say N: two replies, A N then B N. all N: C name:N to every connection
// (this one too). bye: ciao, then FIN.
function roomApp() {
  const members = new Set<Connection>();
  return defineApp({
    protocol: 'line',
    open(conn) {
      members.add(conn);
    },
    close(conn) {
      members.delete(conn);
    },
    message(conn, line) {
      const [cmd, arg] = line.toString().split(' ');
      if (cmd === 'name') conn.data = arg;
      else if (cmd === 'say') {
        conn.send(`A ${arg}`);
        conn.send(`B ${arg}`);
      } else if (cmd === 'all') for (const m of members) m.send(`C ${conn.data}:${arg}`);
      else if (cmd === 'bye') {
        conn.send('ciao');
        conn.end();
      }
    },
  });
}

const CLIENTS = 12;
const COMMANDS = 300;

const cases = [
  { readBatch: 32, multiplexer: 'epoll', trigger: 'edge' },
  { readBatch: 3, multiplexer: 'epoll', trigger: 'edge' },
  { readBatch: 1, multiplexer: 'epoll', trigger: 'edge' },
  { readBatch: 3, multiplexer: 'epoll', trigger: 'level' },
  { readBatch: 3, multiplexer: 'poll', trigger: 'level' },
] as const;

for (const { readBatch, multiplexer, trigger } of cases) {
  test(`read batch ${readBatch} (${multiplexer}, ${trigger}): replies in order, to every connection, FIN last`, {
    skip,
  }, async () => {
    const server = await start(roomApp(), { multiplexer, trigger, readBatch });
    try {
      const random = prng(readBatch * 7 + multiplexer.length + trigger.length);
      const clients = await Promise.all(Array.from({ length: CLIENTS }, () => TestClient.open(server.port)));
      // Each client's own lines, as it must see them: its replies and its own broadcasts, in order.
      const expected: string[][] = clients.map(() => []);
      const scripts = clients.map((_, i) => {
        const lines = [`name c${i}`];
        for (let n = 0; n < COMMANDS; n++) {
          if (random() < 0.7) {
            lines.push(`say ${n}`);
            expected[i]!.push(`A ${n}`, `B ${n}`);
          } else {
            lines.push(`all ${n}`);
            expected[i]!.push(`C c${i}:${n}`);
          }
        }
        lines.push('bye');
        expected[i]!.push('ciao');
        return `${lines.join('\n')}\n`;
      });
      // Everyone sends at once, in pieces of random sizes: reads hold several commands or part of one.
      await Promise.all(
        clients.map(async (client, i) => {
          const script = scripts[i]!;
          for (let at = 0; at < script.length; ) {
            const size = 1 + Math.floor(random() * 200);
            client.write(script.slice(at, at + size));
            at += size;
            if (random() < 0.2) await new Promise((r) => setImmediate(r));
          }
        }),
      );
      await Promise.all(clients.map((c) => c.waitEnded(15_000)));
      for (const [i, client] of clients.entries()) {
        const lines = client.data().toString().split('\n');
        assert.equal(lines.pop(), '', `client ${i}: the stream ends with a whole line`);
        assert.equal(lines.at(-1), 'ciao', `client ${i}: nothing after the goodbye`);
        const own = lines.filter((l) => !l.startsWith('C ') || l.startsWith(`C c${i}:`));
        assert.deepEqual(own, expected[i], `client ${i}: its own replies, in order`);
        // Broadcasts from the others: each sender's in the order it sent them, none twice.
        const last = new Map<string, number>();
        for (const l of lines) {
          if (!l.startsWith('C ')) continue;
          const [who, n] = l.slice(2).split(':');
          assert.ok(Number(n) > (last.get(who!) ?? -1), `client ${i}: ${l} out of order`);
          last.set(who!, Number(n));
        }
      }
      for (const c of clients) c.close();
    } finally {
      await server.close();
    }
  });
}

test('read batch: a reply deferred to the end of the batch leaves before the FIN that end() sends', {
  skip,
}, async () => {
  const server = await start(roomApp());
  try {
    for (let round = 0; round < 20; round++) {
      const client = await TestClient.open(server.port);
      client.write('say 1\n');
      await client.waitFor(8);
      client.write('bye\n'); // alone in its read: its one reply is deferred, then end() is called
      await client.waitEnded();
      assert.equal(client.data().toString(), 'A 1\nB 1\nciao\n');
      client.close();
    }
  } finally {
    await server.close();
  }
});

test('read batch: replies deferred to the end of a batch that the kernel cannot take are queued, in order', {
  skip,
}, async () => {
  // 60 KB per request (under the 64 KiB high watermark: deferred), 120 requests: 7 MB, more than the
  // socket buffers of a peer that does not read can hold (the server's grows to 4 MB at most here).
  const REPLY = 60_000;
  const REQUESTS = 120;
  const reply = (n: number) => Buffer.alloc(REPLY, `${n},`);
  const app = defineApp({
    protocol: 'line',
    message(conn, line) {
      conn.send(reply(Number(line.toString())).subarray(0, REPLY - 1)); // the codec adds '\n'
    },
  });
  const server = await start(app, { maxWriteBuffer: 16 * 1024 * 1024 });
  try {
    const client = await TestClient.open(server.port);
    client.socket.pause(); // not reading: the replies fill both socket buffers, then the server's queue
    for (let n = 0; n < REQUESTS; n++) {
      client.write(`${n}\n`);
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await server.stats()).messagesIn, REQUESTS, 'the server read every request');
    client.socket.resume();
    const received = await client.waitFor(REQUESTS * REPLY, 20_000);
    for (let n = 0; n < REQUESTS; n++) {
      const expected = reply(n);
      expected[REPLY - 1] = 0x0a;
      assert.ok(
        received.subarray(n * REPLY, (n + 1) * REPLY).equals(expected),
        `reply ${n} whole and in place`,
      );
    }
    client.close();
  } finally {
    await server.close();
  }
});

test('read batch: the deferred reply of a connection that closes dies with it, even if its descriptor is reused at once', {
  skip,
}, async () => {
  const spare = skip ? null : tcpPair();
  let reused = -1;
  let former = -1;
  const app = defineApp({
    protocol: 'line',
    message(conn) {
      conn.send('secret'); // deferred to the end of the batch
      conn.destroy();
      // The lowest free descriptor number is the one the connection just closed: another socket takes it
      // before the batch's replies go out.
      former = (conn as unknown as { fd: number }).fd;
      reused = sys.dup(spare!.server);
    },
  });
  const server = await start(app);
  try {
    const client = await TestClient.open(server.port);
    client.write('go\n');
    await client.waitClosed();
    assert.equal(client.data().length, 0, 'the closed connection got nothing');
    assert.equal(reused, former, 'the descriptor was reused within the batch');
    assert.equal(waitFor(spare!.client, sys.POLLIN, 200) & sys.POLLIN, 0, 'its new owner got nothing');
  } finally {
    await server.close();
    if (reused >= 0) sys.close(reused);
    spare?.closeAll();
  }
});
