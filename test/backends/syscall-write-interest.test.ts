// Once a connection's queued bytes are all gone, the syscall reactor stops asking for writability: with
// level-triggered epoll (and select and poll) a socket that stays in the write set is reported ready on
// every wait, and the reactor would spin at 100% CPU while nothing happens. Checked after replies were
// queued behind a peer that did not read, and corked (several lines in one read) on top of that queue.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryLogger, serve } from '../../src/index.ts';
import { syscallBackendAvailable } from '../../src/sys/index.ts';
import { cpuBesideSpinner, idleAgainstSpinner } from '../helpers/cpu.ts';

const LINES = 20_000;
const LINE = `${'x'.repeat(30)}\n`; // 31 bytes: 620,000 bytes each way, under the 1 MiB write-buffer cap

const cases = [
  { multiplexer: 'epoll', trigger: 'level' },
  { multiplexer: 'epoll', trigger: 'edge' },
  { multiplexer: 'poll', trigger: 'level' },
] as const;

for (const { multiplexer, trigger } of cases) {
  test(`syscall reactor (${multiplexer}, ${trigger}): idle again after a queued, corked reply drains`, {
    skip: syscallBackendAvailable() ? false : 'the syscall backend needs Linux',
  }, async () => {
    const server = await serve({
      app: 'line-echo',
      model: 'reactor',
      backend: 'syscall',
      multiplexer,
      trigger,
      port: 0,
      logger: memoryLogger(),
    });
    try {
      const socket = net.connect(server.port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      socket.pause(); // not reading: the replies back up in the server's queue
      // Many lines per write: each read holds several, so replies are corked onto whatever is queued.
      const batch = LINE.repeat(100);
      const half = LINES / 200;
      for (let i = 0; i < half; i++) socket.write(batch);
      await sleep(200);
      let received = 0;
      const all = new Promise<void>((resolve) => {
        socket.on('data', (d: Buffer) => {
          received += d.length;
          if (received >= LINES * LINE.length) resolve();
        });
      });
      socket.resume();
      // The rest arrives while the queue drains: some reads find it almost gone, and their corked
      // replies leave it empty at once.
      for (let i = 0; i < half; i++) {
        socket.write(batch);
        await sleep(2);
      }
      await all;
      assert.equal(received, LINES * LINE.length);
      await sleep(100); // let the last writable event come and go
      // Idle now: this process (reactor and client alike) should barely use the CPU, against what a busy
      // loop beside it gets over the same window.
      const [idle, why] = idleAgainstSpinner(await cpuBesideSpinner(process.pid, 500));
      assert.ok(idle, `a spinning reactor: the idle process used ${why}`);
      socket.destroy();
    } finally {
      await server.close();
    }
  });
}
