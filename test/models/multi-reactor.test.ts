// Multi-reactor across processes: connections spread over every worker (both balance modes), a worker
// killed with SIGKILL under load is replaced while the other's connections keep echoing (none drops, no
// message is lost), and a rolling reload under a steady stream of new connections refuses none.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { memoryLogger, type ServerHandle, serve } from '../../src/index.ts';
import { eventually, TestClient } from '../helpers/client.ts';
import { openPid, PID_APP } from './helpers.ts';

const migrateRequests = () => {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '1';
  } catch {
    return false;
  }
};

const start = (balance: 'reuseport' | 'shared', workers = 2, backend: 'node' | 'syscall' = 'node') =>
  serve({
    app: PID_APP,
    model: 'multi-reactor',
    backend,
    workers,
    balance,
    port: 0,
    logger: memoryLogger(),
  });

/** Open n connections in batches (or more, up to `max`, until `enough` holds); count them per serving pid. */
async function spread(
  server: ServerHandle,
  n: number,
  enough: (per: Map<number, number>) => boolean = () => true,
  max = n,
) {
  const per = new Map<number, number>();
  const clients: TestClient[] = [];
  for (let i = 0; i < n || (i < max && !enough(per)); i += 50) {
    // up to n, then past it (while `enough` does not hold) up to max
    const size = Math.min(50, (i < n ? n : max) - i);
    const batch = await Promise.all(Array.from({ length: size }, () => openPid(server.port)));
    for (const { client, pid } of batch) {
      per.set(pid, (per.get(pid) ?? 0) + 1);
      clients.push(client);
    }
  }
  return { per, clients };
}

for (const balance of ['reuseport', 'shared'] as const) {
  test(`multi-reactor (${balance}): connections spread over every worker`, async (t) => {
    const server = await start(balance, 3);
    try {
      const workers = server.pids().slice(1);
      // reuseport hashes connections evenly; on one shared socket whoever wakes first accepts, so on a
      // busy machine one worker may take a whole batch: keep opening (up to 1,000) until each has one.
      const { per, clients } = await spread(
        server,
        300,
        (p) => workers.every((pid) => (p.get(pid) ?? 0) > 0),
        balance === 'shared' ? 1000 : 300,
      );
      t.diagnostic(`${balance}: ${workers.map((pid) => per.get(pid) ?? 0).join(' / ')} of ${clients.length}`);
      for (const pid of workers) assert.ok((per.get(pid) ?? 0) > 0, `worker ${pid} got no connection`);
      assert.equal([...per.keys()].filter((pid) => !workers.includes(pid)).length, 0);
      for (const c of clients) c.close();
    } finally {
      await server.close();
    }
  });
}

describe('multi-reactor supervision', { concurrency: false }, () => {
  for (const [backend, balance] of [
    ['node', 'shared'],
    ['syscall', 'reuseport'],
  ] as const) {
    test(`a worker SIGKILLed under load is replaced (${backend}, ${balance}); the other's clients echo throughout`, async (t) => {
      const server = await start(balance, 2, backend);
      try {
        const [victim, survivor] = server.pids().slice(1);
        // On one shared socket whoever wakes first accepts: on a busy box one worker may take a whole batch.
        const { per, clients } = await spread(
          server,
          40,
          (p) => (p.get(victim) ?? 0) > 0 && (p.get(survivor) ?? 0) > 0,
          1000,
        );
        assert.ok(per.get(victim)! > 0 && per.get(survivor)! > 0);
        const owners = clients.map((c) => Number(c.data().toString().split('\n')[0]));
        const survivors = clients.filter((_, i) => owners[i] === survivor);
        const victims = clients.filter((_, i) => owners[i] === victim);
        // Continuous echo traffic on the survivor's connections, before, during and after the kill.
        let stop = false;
        let roundTrips = 0;
        const loops = survivors.map(async (c, i) => {
          for (let k = 0; !stop; k++) {
            const message = `c${i}m${k};`;
            const before = c.received;
            c.write(message);
            await c.waitFor(before + message.length, 5000);
            assert.equal(c.data().subarray(before).toString(), message);
            roundTrips++;
          }
        });
        await eventually(() => roundTrips > 200, 5000, 'load running');
        const killedAt = Date.now();
        const before = roundTrips;
        process.kill(victim, 'SIGKILL');
        await eventually(
          () => server.pids().length === 3 && !server.pids().includes(victim),
          10_000,
          'a replacement worker',
        );
        const replacedMs = Date.now() - killedAt;
        const fresh = await openPid(server.port);
        assert.ok(server.pids().includes(fresh.pid));
        fresh.client.write('new');
        await fresh.client.waitFor(fresh.client.data().indexOf(10) + 1 + 3, 5000);
        fresh.client.close();
        await new Promise((r) => setTimeout(r, 200));
        stop = true;
        await Promise.all(loops); // any lost message or dropped connection rejects here
        for (const c of survivors) assert.ok(!c.closed, 'a survivor connection dropped');
        for (const c of victims) await c.waitClosed(5000); // the killed worker's own clients are gone
        t.diagnostic(
          `${survivors.length} connections on the survivor: ${roundTrips} round trips (${roundTrips - before} after the kill), none lost, none dropped; ${victims.length} on the victim reset; replaced in ${replacedMs} ms`,
        );
        for (const c of clients) c.close();
      } finally {
        await server.close();
      }
    });
  }

  for (const balance of ['shared', 'reuseport'] as const) {
    test(`reload (${balance}) under a stream of new connections refuses none`, async (t) => {
      const server = await start(balance, 2);
      try {
        const before = server.pids().slice(1);
        let stop = false;
        let served = 0;
        const failures: string[] = [];
        const client = async () => {
          while (!stop) {
            try {
              const c = await TestClient.open(server.port, '127.0.0.1', 5000);
              c.write('ping');
              await c.waitFor(4 + 1, 5000); // the pid line comes first, then the echo
              await c.waitFor(c.data().indexOf(10) + 1 + 4, 5000);
              c.close();
              served++;
            } catch (error) {
              failures.push((error as Error).message);
            }
          }
        };
        const load = Promise.all(Array.from({ length: 8 }, client));
        await eventually(() => served > 50, 10_000, 'load running');
        await server.reload!();
        const after = server.pids().slice(1);
        await new Promise((r) => setTimeout(r, 300));
        stop = true;
        await load;
        t.diagnostic(
          `${served} connections served during the reload, ${failures.length} failed (tcp_migrate_req=${migrateRequests() ? 1 : 0})`,
        );
        // 'shared' has one queue that outlives every worker. 'reuseport': each worker slot has its own
        // socket and queue; a socket leaving the group would reset what waits in it (unless
        // net.ipv4.tcp_migrate_req=1), so the supervisor holds every slot's
        // socket and the new worker inherits the old one's: lossless too.
        assert.deepEqual(failures, []);
        assert.equal(after.length, 2);
        assert.ok(
          after.every((pid) => !before.includes(pid)),
          'old workers still serving',
        );
      } finally {
        await server.close();
      }
    });
  }
});
