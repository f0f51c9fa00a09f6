// Limits that hold (issue 8, item 1): a process stops accepting before it runs out of descriptors and
// resumes below the mark; under a multi-process model the other workers take the new connections;
// --max-connections is global, --max-connections-per-ip per address. Every refusal is counted by reason,
// and the server never crashes or spins. The servers run in their own processes (fd limits are per
// process); clients come from fleets of processes over source addresses 127.40.g.x.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { memoryLogger, type ServerHandle, serve } from '../../src/index.ts';
import { encodeProxyHeader } from '../../src/protocols/proxy.ts';
import { eventually, sleep } from '../helpers/client.ts';
import { cpuBesideSpinner, idleAgainstSpinner } from '../helpers/cpu.ts';
import { type Fleet, sources, startFleet, startServerChild } from './helpers.ts';

const cleanup: (() => void)[] = [];
after(() => {
  for (const f of cleanup.splice(0)) f();
});

function track<T extends { kill(): void }>(x: T): T {
  cleanup.push(() => x.kill());
  return x;
}

async function totals(fleets: Fleet[]) {
  const all = await Promise.all(fleets.map((f) => f.status()));
  return all.reduce((a, s) => ({
    open: a.open + s.open,
    answered: a.answered + s.answered,
    unanswered: a.unanswered + s.unanswered,
    closedByServer: a.closedByServer + s.closedByServer,
  }));
}

describe('open-files limit', { concurrency: false, timeout: 120_000 }, () => {
  test('25,000 clients against one syscall reactor: it pauses accepting at its fd cap, keeps serving, does not spin, resumes below the mark', async (t) => {
    const started = Date.now();
    const server = track(
      await startServerChild({ app: 'echo', model: 'reactor', backend: 'syscall', port: 0 }),
    );
    const fleets = [track(startFleet()), track(startFleet()), track(startFleet())];
    const counts = [8334, 8333, 8333];
    try {
      // Each client says 'ping' at once; those the server holds get it back, the rest wait unanswered.
      const opened = await Promise.all(
        fleets.map((f, k) => f.open(server.port, counts[k], sources(1 + k, 4), 4000, { hello: 'ping' })),
      );
      const attempted = opened.reduce((n, o) => n + o.opened + o.timedOut + o.failed, 0);
      assert.equal(attempted, 25_000);
      const capped = await server.probe();
      const active = capped.stats.active;
      // 20,000 open files, less what Node itself holds (~30), less the reserve of 64.
      assert.ok(active > 19_800 && active <= 20_000 - 64, `held ${active}`);
      assert.equal(
        capped.log["holding # connections, the most this process's fd limit allows: accepting paused"],
        1,
      );
      await eventually(
        async () => (await totals(fleets)).answered === active,
        20_000,
        'every held client answered',
      );
      const queued = await totals(fleets);
      const timedOut = opened.reduce((n, o) => n + o.timedOut, 0);
      const failed = opened.reduce((n, o) => n + o.failed, 0);
      t.diagnostic(
        `held ${active}; ${queued.unanswered} connected but waiting in the accept queue; ${timedOut} connect() timed out (queue full), ${failed} failed`,
      );
      // The rest were never accepted: they wait in the kernel (up to the backlog), none was reset.
      assert.equal(active + queued.unanswered + timedOut + failed, 25_000);
      assert.equal(queued.closedByServer, 0);
      assert.equal(failed, 0);
      // Capped and idle, the server sleeps: the listening socket is not watched, nothing is ready.
      const cpu = await cpuBesideSpinner(server.pid);
      const [idle, why] = idleAgainstSpinner(cpu, 0.1);
      t.diagnostic(`server CPU while capped and idle: ${why}`);
      assert.ok(idle, `the capped server spins: ${why}`);
      // The held connections still echo.
      await Promise.all(fleets.map((f) => f.ping('!', 0)));
      await eventually(
        async () => (await totals(fleets)).answered === active,
        20_000,
        'held clients echo again',
      );
      // Below the mark, accepting resumes: the queued clients are taken, up to the cap again.
      const closed = await fleets[0].close(1000);
      assert.equal(closed, 1000);
      await eventually(
        async () => (await server.probe()).stats.accepted >= active + 1000,
        10_000,
        'accepting resumed',
      );
      const resumed = await server.probe();
      assert.ok(resumed.stats.active <= 20_000 - 64);
      await eventually(
        async () => (await totals(fleets)).answered === resumed.stats.active,
        20_000,
        'the newly accepted clients answered',
      );
      assert.equal(resumed.stats.closed.error, 0);
      assert.equal(resumed.stats.rejected, 0);
      t.diagnostic(
        `after 1,000 left: accepted ${resumed.stats.accepted}, holding ${resumed.stats.active}; ${Date.now() - started} ms`,
      );
    } finally {
      for (const f of fleets) f.kill();
      assert.equal(await server.close(), 0);
    }
  });

  test('node backend: past its fd cap a client is accepted and closed at once (fd-limit), counted, no EMFILE, no spin', async (t) => {
    const server = track(
      await startServerChild({ app: 'echo', model: 'reactor', backend: 'node', port: 0 }, { nofile: 1000 }),
    );
    const fleet = track(startFleet());
    try {
      const opened = await fleet.open(server.port, 1200, sources(5, 2), 4000, { hello: 'ping' });
      assert.equal(opened.opened + opened.failed, 1200);
      const probe = await server.probe();
      const held = probe.stats.active;
      assert.ok(held > 800 && held <= 1000 - 64, `held ${held}`);
      await eventually(
        async () => {
          const s = await fleet.status();
          return s.answered === held && s.closedByServer + opened.failed === 1200 - held;
        },
        10_000,
        'held clients answered, the rest closed',
      );
      const after = await server.probe();
      assert.equal(after.stats.closed['fd-limit'], 1200 - held);
      assert.equal(after.stats.rejected, 1200 - held);
      assert.equal(after.stats.closed.error, 0);
      assert.ok(!JSON.stringify(after.log).includes('EMFILE'), JSON.stringify(after.log));
      const cpu = await cpuBesideSpinner(server.pid);
      const [idle, why] = idleAgainstSpinner(cpu, 0.1);
      assert.ok(idle, `the capped server spins: ${why}`);
      // Below the mark it takes clients again.
      await fleet.close(100);
      await eventually(async () => (await server.probe()).stats.active === held - 100, 5000, 'closes seen');
      const more = await fleet.open(server.port, 50, sources(5, 2), 4000, { hello: 'pong' });
      assert.equal(more.opened, 50);
      await eventually(async () => (await server.probe()).stats.active === held - 50, 5000, '50 more held');
      t.diagnostic(
        `held ${held} of 1,200 under ulimit -n 1000; ${1200 - held} closed as fd-limit; CPU ${(cpu.share * 100).toFixed(1)}%`,
      );
    } finally {
      fleet.kill();
      await server.close();
    }
  });

  test('multi-reactor (syscall, shared socket): a capped worker leaves new clients to the other one, so the server holds more than one process may open', async (t) => {
    const server = track(
      await startServerChild(
        { app: 'echo', model: 'multi-reactor', backend: 'syscall', workers: 2, balance: 'shared', port: 0 },
        { nofile: 600 },
      ),
    );
    const fleet = track(startFleet());
    try {
      // Each worker may hold ~500 (600 less its own ~30 less the reserve); 900 fit only across both.
      await fleet.open(server.port, 900, sources(6, 2), 4000, { hello: 'ping' });
      await eventually(async () => (await fleet.status()).answered === 900, 10_000, '900 answered');
      const both = await server.probe();
      assert.equal(both.stats.active, 900);
      // 300 more: both workers reach their caps, the surplus waits in the shared accept queue.
      await fleet.open(server.port, 300, sources(6, 2), 4000, { hello: 'ping' });
      await sleep(500);
      const full = await server.probe();
      const s = await fleet.status();
      assert.ok(full.stats.active < 1200 && full.stats.active > 1000, `held ${full.stats.active}`);
      assert.equal(s.answered, full.stats.active);
      assert.equal(s.unanswered, 1200 - full.stats.active);
      assert.equal(full.stats.rejected, 0);
      assert.equal(
        full.log["holding # connections, the most this process's fd limit allows: accepting paused"],
        2,
      );
      t.diagnostic(
        `held ${full.stats.active} across 2 workers of ulimit -n 600; ${s.unanswered} wait in the queue`,
      );
    } finally {
      fleet.kill();
      await server.close();
    }
  });
});

// ---- --max-connections (global) and --max-connections-per-ip ------------------------------------------

function dial(port: number, localAddress?: string, first?: Buffer | string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress, noDelay: true });
    s.once('connect', () => {
      if (first) s.write(first);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Does the connection echo `probe` back (held), or is it closed without a byte (refused)? */
function served(s: Socket, probe = 'x', timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    if (s.closed || s.readableEnded) {
      resolve(false); // refused before we asked
      return;
    }
    let got = '';
    const timer = setTimeout(() => resolve(false), timeoutMs);
    s.on('error', () => {});
    s.on('data', (d) => {
      got += d.toString();
      if (got.endsWith(probe)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    const refused = () => {
      clearTimeout(timer);
      resolve(false);
    };
    s.on('end', refused);
    s.on('close', refused);
    s.write(probe);
  });
}

describe('connection caps', { concurrency: false, timeout: 60_000 }, () => {
  for (const balance of ['shared', 'reuseport'] as const) {
    test(`--max-connections is global under multi-reactor (${balance}): 2 workers, cap 10, 30 clients`, async (t) => {
      const server = await serve({
        app: 'echo',
        model: 'multi-reactor',
        backend: 'syscall',
        workers: 2,
        balance,
        maxConnections: 10,
        port: 0,
        logger: memoryLogger(),
      });
      const sockets: Socket[] = [];
      try {
        for (let i = 0; i < 30; i++) sockets.push(await dial(server.port));
        const held = (await Promise.all(sockets.map((s) => served(s)))).filter(Boolean).length;
        const stats = await server.stats();
        t.diagnostic(`held ${held} of 30 (cap 10, 5 per worker); refused ${stats.closed['max-connections']}`);
        assert.ok(held <= 10 && held >= 5, `held ${held}`);
        assert.equal(stats.closed['max-connections'], 30 - held);
      } finally {
        for (const s of sockets) s.destroy();
        await server.close();
      }
    });
  }

  test('--max-connections below --workers, or --max-connections-per-ip on a bounded model, is refused with a reason', async () => {
    await assert.rejects(
      serve({
        app: 'echo',
        model: 'multi-reactor',
        workers: 2,
        maxConnections: 1,
        port: 0,
        logger: memoryLogger(),
      }),
      /max-connections 1 is below --workers 2/,
    );
    await assert.rejects(
      serve({ app: 'echo', model: 'thread-pool', maxConnectionsPerIp: 2, port: 0, logger: memoryLogger() }),
      /max-connections-per-ip is enforced by the reactor and multi-reactor models/,
    );
  });

  for (const backend of ['syscall', 'node'] as const) {
    test(`--max-connections-per-ip (${backend}): 3 per address, counted per real client behind a PROXY header`, async () => {
      let server: ServerHandle = await serve({
        app: 'echo',
        backend,
        maxConnectionsPerIp: 3,
        port: 0,
        logger: memoryLogger(),
      });
      const sockets: Socket[] = [];
      try {
        const a = await Promise.all(Array.from({ length: 5 }, () => dial(server.port, '127.40.9.1')));
        const b = await Promise.all(Array.from({ length: 5 }, () => dial(server.port, '127.40.9.2')));
        sockets.push(...a, ...b);
        const heldA = (await Promise.all(a.map((s) => served(s)))).filter(Boolean).length;
        const heldB = (await Promise.all(b.map((s) => served(s)))).filter(Boolean).length;
        assert.equal(heldA, 3);
        assert.equal(heldB, 3);
        let stats = await server.stats();
        assert.equal(stats.closed['per-ip-limit'], 4);
        assert.equal(stats.rejected, 4);
        // One from A leaves: A may connect once more.
        a[0].destroy();
        await eventually(async () => (await server.stats()).active === 5, 3000, 'a close seen');
        const again = await dial(server.port, '127.40.9.1');
        sockets.push(again);
        assert.ok(await served(again));
        stats = await server.stats();
        assert.equal(stats.closed['per-ip-limit'], 4);
      } finally {
        for (const s of sockets) s.destroy();
        await server.close();
      }
      // Behind a proxy every connection comes from the proxy's address: the header's client is counted.
      server = await serve({
        app: 'echo',
        backend,
        maxConnectionsPerIp: 2,
        proxyProtocol: true,
        port: 0,
        logger: memoryLogger(),
      });
      const proxied: Socket[] = [];
      try {
        const header = (client: string) =>
          encodeProxyHeader({
            version: 1,
            command: 'PROXY',
            family: 'IPv4',
            source: { address: client, port: 40000 },
            destination: { address: '127.0.0.1', port: server.port },
          });
        for (const client of ['203.0.113.1', '203.0.113.1', '203.0.113.1', '203.0.113.2', '203.0.113.2'])
          proxied.push(await dial(server.port, undefined, header(client)));
        const held = await Promise.all(proxied.map((s) => served(s)));
        assert.deepEqual(held, [true, true, false, true, true]);
        const stats = await server.stats();
        assert.equal(stats.closed['per-ip-limit'], 1);
        assert.equal(stats.active, 4);
      } finally {
        for (const s of proxied) s.destroy();
        await server.close();
      }
    });
  }
});
