// select, poll and epoll side by side: one busy client and N idle connections against the syscall
// reactor. select and poll hand the kernel every watched descriptor on every call and scan them all
// again afterwards, so each message costs more as idle connections pile up; epoll returns only what is
// ready. select also stops at FD_SETSIZE: clients on descriptors >= 1024 are turned away. The proactor
// (io_uring) runs beside them: idle connections each hold an armed receive in the kernel and cost it
// nothing per message either.
import { spawn } from 'node:child_process';
import { readProcNetTcp } from '../inspect/proc-net-tcp.ts';
import { siblingModulePath } from '../module-path.ts';
import { treeUsage } from './process-tree.ts';
import { exited, freePort, startServer, stopGroup } from './server-process.ts';

const BIN = siblingModulePath('../../bin/c10k.ts', import.meta.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const MULTIPLEXERS = ['select', 'poll', 'epoll', 'io_uring'] as const;
export type MultiplexerName = (typeof MULTIPLEXERS)[number];

export interface MultiplexerResult {
  multiplexer: MultiplexerName;
  idle: number;
  /** Idle connections the server held (select turns away those it cannot watch). */
  held: number;
  messages: number;
  msgsPerSec: number;
  serverCpuUsPerMsg: number | null;
  status: string;
}

/** Connections on `port` the server side has established (accepted or waiting to be). */
function established(port: number): number {
  return readProcNetTcp({ port, countOnly: true }).counts.ESTABLISHED ?? 0;
}

export async function runMultiplexerStep(
  multiplexer: MultiplexerName,
  idle: number,
  durationMs: number,
): Promise<MultiplexerResult> {
  const result: MultiplexerResult = {
    multiplexer,
    idle,
    held: 0,
    messages: 0,
    msgsPerSec: 0,
    serverCpuUsPerMsg: null,
    status: 'ok',
  };
  const port = await freePort();
  const server = await startServer(
    multiplexer === 'io_uring'
      ? ['--model', 'proactor', '--backend', 'syscall']
      : ['--model', 'reactor', '--backend', 'syscall', '--multiplexer', multiplexer],
    port,
  );
  if (typeof server === 'string') {
    result.status = server;
    return result;
  }
  const holder = spawn(
    process.execPath,
    [
      BIN,
      'load',
      '--port',
      String(port),
      '--connections',
      String(idle),
      '--hold',
      '--duration',
      `${durationMs + 60_000}ms`,
      '--json',
    ],
    { stdio: 'ignore', detached: true },
  );
  try {
    // Wait until the idle connections are up (or stop growing: select turns some away).
    let last = -1;
    for (let stable = 0, until = Date.now() + 30_000; stable < 4 && Date.now() < until; ) {
      await sleep(250);
      const n = established(port);
      stable = n === last ? stable + 1 : 0;
      last = n;
      if (n >= idle && stable >= 1) break;
    }
    await sleep(500);
    result.held = Math.min(idle, established(port));
    const before = treeUsage(server.pid!);
    const busy = spawn(
      process.execPath,
      [BIN, 'load', '--port', String(port), '--connections', '1', '--duration', `${durationMs}ms`, '--json'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    busy.stdout!.on('data', (d) => (out += d));
    await exited(busy);
    const after = treeUsage(server.pid!);
    try {
      const j = JSON.parse(out);
      result.messages = j.messages;
      result.msgsPerSec = j.msgsPerSec;
      if (j.messages > 0) result.serverCpuUsPerMsg = ((after.cpuMs - before.cpuMs) * 1000) / j.messages;
      else
        result.status =
          multiplexer === 'select'
            ? 'turned away: select cannot watch fd >= 1024'
            : 'the busy client got no echo';
    } catch {
      result.status = 'the busy client failed';
    }
    return result;
  } finally {
    try {
      process.kill(-holder.pid!, 'SIGKILL');
    } catch {}
    await stopGroup(server, 3000);
  }
}
