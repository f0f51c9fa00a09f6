// Hostile input against running servers (issue 16, findings 1, 2 and 5), at test scale; bench/hostile-
// flood.ts runs finding 1 at full scale (400 connections, 157 MB).
//  - kv: connections that each send `*65536` then 65,535 empty bulk strings and stop, one short of a
//    command: the server's memory grows by less than what they sent (before: ~33x, ~13 MB per 393 KB), it
//    keeps answering PING, and --partial-timeout cuts them (before: none, the decoder reported 0 bytes).
//  - http and kv: a client that sends only empty lines, one every 250 ms, is cut by --partial-timeout
//    although each line resets the idle timeout (before: never cut).
// Timeouts are short; assertions are relative to them with wide margins (no tight wall-clock bounds).
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { memoryLogger, serve } from '../../src/index.ts';
import { eventually, sleep } from '../helpers/client.ts';
import { MiB, startServerChild } from './helpers.ts';

const cleanup: (() => void)[] = [];
after(() => {
  for (const f of cleanup.splice(0)) f();
});

const FLOOD = Buffer.concat([Buffer.from('*65536\r\n'), Buffer.from('$0\r\n\r\n'.repeat(65_535))]);

async function open(port: number): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  await new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  return s;
}

/** Send PING on `s` and wait for +PONG; the round trip in ms. */
async function ping(s: Socket): Promise<number> {
  const t0 = performance.now();
  const got = new Promise<void>((resolve, reject) => {
    let have = '';
    const onData = (d: Buffer) => {
      have += d.toString();
      if (have.includes('+PONG\r\n')) {
        s.off('data', onData);
        resolve();
      }
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error('closed while waiting for PONG')));
  });
  s.write('PING\r\n');
  await got;
  return performance.now() - t0;
}

describe('hostile input', { concurrency: false, timeout: 120_000 }, () => {
  test('kv: 40 unfinished commands of 65,535 empty arguments hold less memory than they sent; PING answers', async (t) => {
    const server = await startServerChild({ app: 'kv', port: 0 }, { gc: true });
    cleanup.push(server.kill);
    const sockets: Socket[] = [];
    try {
      const pinger = await open(server.port);
      await ping(pinger);
      const base = await server.probe(true);
      const baseline = base.heapUsed + base.arrayBuffers;
      const N = 40;
      for (let i = 0; i < N; i++) {
        const s = await open(server.port);
        sockets.push(s);
        s.write(FLOOD);
      }
      const sent = N * FLOOD.length;
      const pings: number[] = [];
      await eventually(
        async () => {
          pings.push(await ping(pinger));
          return (await server.probe()).stats.bytesIn >= base.stats.bytesIn + sent;
        },
        60_000,
        'the server read every byte sent',
      );
      const probe = await server.probe(true);
      const held = probe.heapUsed + probe.arrayBuffers - baseline;
      t.diagnostic(
        `${N} x ${FLOOD.length} bytes sent (${(sent / MiB).toFixed(1)} MiB); held after GC: ${(held / MiB).toFixed(1)} MiB; RSS ${(probe.rss / MiB).toFixed(0)} MiB; PING answered ${pings.length} times during the flood, worst ${Math.max(...pings).toFixed(1)} ms`,
      );
      assert.equal(probe.stats.active, N + 1, 'every connection still open (none cut without a timeout)');
      // Before: ~13 MB of objects per connection, 520 MB here.
      assert.ok(held < sent, `held ${held} bytes for ${sent} sent`);
      await ping(pinger);
    } finally {
      for (const s of sockets) s.destroy();
      await server.close();
    }
  });

  test('kv: --partial-timeout cuts unfinished commands of empty arguments; complete commands go on', async () => {
    const server = await serve({ app: 'kv', port: 0, partialTimeout: 500, logger: memoryLogger() });
    const sockets: Socket[] = [];
    try {
      const pinger = await open(server.port);
      const flooders = await Promise.all(Array.from({ length: 20 }, () => open(server.port)));
      sockets.push(pinger, ...flooders);
      const closed = flooders.map((s) => new Promise((resolve) => s.once('close', resolve)));
      for (const s of flooders) s.write(FLOOD);
      const started = Date.now();
      let pings = 0;
      while (Date.now() - started < 1500) {
        await ping(pinger);
        pings++;
        await sleep(100);
      }
      await Promise.race([Promise.all(closed), sleep(10_000)]);
      const stats = await server.stats();
      assert.equal(stats.closed['partial-timeout'], 20, 'every unfinished command cut');
      assert.ok(pings > 5);
      assert.equal(pinger.destroyed, false, 'a client sending whole commands is not cut');
      await ping(pinger);
    } finally {
      for (const s of sockets) s.destroy();
      await server.close();
    }
  });

  for (const app of ['http', 'kv'] as const) {
    test(`${app}: a client sending only empty lines is cut by --partial-timeout, not kept by its activity`, async () => {
      // As the finding's --partial-timeout 2s --idle-timeout 3s with a CRLF a second, four times faster.
      const server = await serve({
        app,
        port: 0,
        partialTimeout: 500,
        idleTimeout: 750,
        logger: memoryLogger(),
      });
      const sockets: Socket[] = [];
      const timers: NodeJS.Timeout[] = [];
      try {
        const noisy = await Promise.all(Array.from({ length: 20 }, () => open(server.port)));
        const good = await open(server.port);
        sockets.push(...noisy, good);
        const request = app === 'http' ? 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' : 'PING\r\n';
        let answers = 0;
        good.on('data', () => answers++);
        timers.push(
          setInterval(() => {
            for (const s of noisy) if (!s.destroyed) s.write('\r\n');
            good.write(request);
          }, 250),
        );
        const closed = noisy.map((s) => new Promise((resolve) => s.once('close', resolve)));
        await Promise.race([Promise.all(closed), sleep(10_000)]);
        const stats = await server.stats();
        assert.equal(stats.closed['partial-timeout'], 20, 'every empty-line client cut as partial');
        assert.equal(good.destroyed, false, 'a client sending whole requests is not cut');
        assert.ok(answers > 0);
      } finally {
        for (const timer of timers) clearInterval(timer);
        for (const s of sockets) s.destroy();
        await server.close();
      }
    });
  }
});
