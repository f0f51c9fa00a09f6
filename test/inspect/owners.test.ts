// Owners across processes: a multi-reactor server (3 worker processes sharing one listening socket)
// holding 300 echo clients. The inspector must find every worker as a holder of the listener and give
// every connected socket its owner, with per-process counts that add up, on the first refresh (every
// process searched, fd tables read on two threads) and on the next (the last owners only).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { scanSocketFds } from '../../src/inspect/fd-scan.ts';
import { startOwnerScan } from '../../src/inspect/owner-scan.ts';
import { inspect, type Snapshot } from '../../src/inspect/snapshot.ts';
import { exited, startServe } from '../helpers/cli.ts';
import { eventually, TestClient } from '../helpers/client.ts';

const CLIENTS = 300;
const cleanup: (() => void)[] = [];
after(() => {
  for (const f of cleanup.splice(0)) f();
});

function checkOwners(s: Snapshot, workers: number[]): void {
  assert.equal(s.listeners.length, 1);
  const holders = s.listeners[0].owners.map((o) => o.pid);
  for (const w of workers) assert.ok(holders.includes(w), `worker ${w} not among the holders ${holders}`);
  assert.equal(s.connections, CLIENTS);
  assert.equal(s.sockets!.length, CLIENTS);
  const unowned = s.sockets!.filter((k) => k.owner === null);
  assert.equal(unowned.length, 0, `${unowned.length} sockets without an owner`);
  const byWorker = new Map<number, number>();
  for (const k of s.sockets!) byWorker.set(k.owner!.pid, (byWorker.get(k.owner!.pid) ?? 0) + 1);
  for (const p of s.processes) assert.equal(p.connections, byWorker.get(p.pid) ?? 0, `pid ${p.pid}`);
  assert.equal(
    s.processes.reduce((n, p) => n + p.connections, 0),
    CLIENTS,
  );
  assert.deepEqual(s.missing, []);
}

test('multi-reactor, 3 workers, one shared listener, 300 clients: every socket owned, counts add up', {
  timeout: 60_000,
}, async () => {
  const { child, port } = await startServe([
    '--model',
    'multi-reactor',
    '--workers',
    '3',
    '--balance',
    'shared',
    '--app',
    'echo',
    '--port',
    '0',
  ]);
  cleanup.push(() => child.kill('SIGKILL'));
  const clients: TestClient[] = [];
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const c = await TestClient.open(port);
      clients.push(c);
      c.write('x');
      await c.waitFor(1, 10_000); // accepted by a worker
    }
    const first = await inspect({ port, sockets: true, fullScan: true });
    const workers = first.processes.filter((p) => p.connections > 0).map((p) => p.pid);
    assert.ok(workers.length >= 2, `connections spread over ${workers.length} process(es)`);
    checkOwners(first, workers);
    const next = await inspect({ port, sockets: true });
    checkOwners(next, workers);

    // The worker thread's reading, alone (this thread claims nothing until finishTables()), equals this
    // thread's own reading of the same fd tables.
    const relevant = new Set([first.listeners[0].inode, ...first.sockets!.map((k) => k.inode)]);
    const job = startOwnerScan(workers);
    await eventually(() => job.claimed() === workers.length, 10_000, 'the worker to claim every pid');
    const byWorker = await job.finishTables();
    for (const pid of workers) {
      const t = byWorker.get(pid)!;
      const held = new Map<number, number>(); // the relevant inodes -> the first fd holding each
      for (let k = 0; k < t.inodes.length; k++)
        if (relevant.has(t.inodes[k]) && !held.has(t.inodes[k])) held.set(t.inodes[k], t.fds[k]);
      const direct = scanSocketFds(pid, relevant);
      assert.equal(held.size, direct.held.size);
      assert.deepEqual([...held], [...direct.held], `pid ${pid}: inode -> fd`);
      assert.equal(t.fdCount, direct.fdCount);
      assert.equal(t.complete, direct.complete);
    }
  } finally {
    for (const c of clients) c.close();
    child.kill('SIGTERM');
    await exited(child);
  }
});
