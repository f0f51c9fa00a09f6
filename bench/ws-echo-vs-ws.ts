// bench/ws-echo-vs-ws.ts — c10k's WebSocket echo (ws-echo on the syscall reactor) against a plain `ws`
// echo server (bench/plain-ws-echo.ts), messages per second per core of server CPU, in one run. Both
// servers serve at the same time, pinned to CPU 0, each under its own closed-loop load (same connections,
// same 64-byte text messages) pinned to CPU 1, so whatever slows the shared machine slows both. The load is
// bench/c/ws_load.c (built here with cc: a JavaScript client costs about what the server does per message,
// and two of them on one core leave both servers mostly idle, where per-wakeup costs hide the per-message
// ones), or `c10k load --protocol websocket` with --load c10k or without a compiler. The windows are
// measured on the servers' side: once every connection of both is up and echoing, each server's message
// count (c10k: --status; ws: its own counter) and CPU ticks (user and system apart) are read at the start
// and the end of each of --rounds windows: msgs/s per core = messages / CPU seconds; the median of the
// rounds' ratios is the figure. Printed beside it, so a reader can judge the run: each load's CPU (a load
// that is busy all the time, not the server, may be what sets the pace), the servers' share of CPU 0, the
// ratio c10k would reach if it spent no user time at all (ws's CPU per message over c10k's system CPU
// per message: what the kernel charges bounds the figure), and TCP segments sent per echoed message on
// the whole machine (2 when every acknowledgement rides on a reply; more when the kernel sends pure ACKs,
// which it does when messages queue past the delayed-ACK timeout, 40 ms and up: 10,000 in flight do).
//   node bench/ws-echo-vs-ws.ts [--connections 10000] [--seconds 4] [--rounds 3] [--size 64] [--load c|c10k] [-- serve args]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { wholeNumber } from './lib/args.ts';
import { HZ, treeTicks, treeTimes, waitPort } from './lib/yardstick.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    connections: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    size: { type: 'string', default: '64' },
    load: { type: 'string', default: 'c' },
  },
});
const conns = wholeNumber('connections', values.connections);
const seconds = wholeNumber('seconds', values.seconds);
const rounds = wholeNumber('rounds', values.rounds);
const size = wholeNumber('size', values.size);
const bin = new URL('../bin/c10k.ts', import.meta.url).pathname;

/** The C load, built into a temporary directory, or null (with why) when there is no compiler. */
function buildCLoad(): string | null {
  if (values.load !== 'c') return null;
  const out = join(mkdtempSync(join(tmpdir(), 'c10k-ws-load-')), 'ws_load');
  try {
    execFileSync('cc', ['-O2', '-o', out, new URL('./c/ws_load.c', import.meta.url).pathname], {
      stdio: 'pipe',
    });
    return out;
  } catch (error) {
    console.log(`no C load (${(error as Error).message.split('\n')[0]}): using c10k load instead`);
    return null;
  }
}
const cLoad = buildCLoad();
const plainWs = new URL('./plain-ws-echo.ts', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// below the ephemeral range (32768+), where a client's source port could already hold the number
const base = 20000 + Math.floor(Math.random() * 10000);
const servers = [
  {
    name: `c10k ws-echo (${positionals.length > 0 ? positionals.join(' ') : 'syscall reactor'})`,
    port: base,
    statsUrl: `http://127.0.0.1:${base + 2}/status`,
    argv: [bin, 'serve', '--app', 'ws-echo', '--port', String(base), '--log-level', 'warn', ...positionals],
    statsArgs: ['--status', `127.0.0.1:${base + 2}`],
  },
  {
    name: 'ws 8 (plain echo server)',
    port: base + 1,
    statsUrl: `http://127.0.0.1:${base + 3}/`,
    argv: [plainWs, String(base + 1), String(base + 3)],
    statsArgs: [],
  },
];

async function counts(url: string): Promise<{ messages: number; active: number }> {
  const j = (await (await fetch(url)).json()) as {
    totals?: { messagesIn: number; active: number };
    messagesIn?: number;
    active?: number;
  };
  const t = j.totals ?? j;
  return { messages: t.messagesIn!, active: t.active! };
}

/** TCP segments this machine has sent (/proc/net/snmp OutSegs), or -1. */
function tcpOutSegs(): number {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Tcp:'));
    const names = lines[0]!.split(' ');
    return Number(lines[1]!.split(' ')[names.indexOf('OutSegs')]);
  } catch {
    return -1;
  }
}

/** A window in which a server lost connections or echoed nothing measures nothing: stop, saying so. */
function assertWindow(round: number, m: { active: number }[], msgs: (i: number) => number): void {
  servers.forEach((s, i) => {
    if (m[i]!.active < conns || msgs(i) <= 0)
      throw new Error(
        `round ${round}: ${s.name} held ${m[i]!.active} of ${conns} connections and echoed ${msgs(i)} messages: a load ended or dropped connections`,
      );
  });
}
const children = servers.map((s) =>
  spawn('taskset', ['-c', '0', process.execPath, ...s.argv, ...s.statsArgs], {
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  }),
);
const loads: ReturnType<typeof spawn>[] = [];
try {
  await Promise.all(servers.map((s) => waitPort(s.port)));
  await sleep(500);
  // each load runs long enough to cover the connect phase of both and the window
  // the loads outlast the connect wait (up to 60 s) and every window; the finally below stops them
  const duration = rounds * seconds + 120;
  for (const s of servers) {
    const argv = cLoad
      ? [cLoad, String(s.port), String(conns), String(size), String(duration)]
      : [process.execPath, bin, 'load', '--port', String(s.port), '--protocol', 'websocket']
          .concat(['--connections', String(conns), '--size', String(size)])
          .concat(['--duration', `${duration}s`, '--json']);
    loads.push(
      spawn('taskset', ['-c', '1', ...argv], { stdio: ['ignore', 'ignore', 'inherit'], detached: true }),
    );
  }
  // wait until both hold every connection and are echoing
  const started = Date.now();
  for (;;) {
    const c = await Promise.all(servers.map((s) => counts(s.statsUrl)));
    if (c.every((x) => x.active >= conns)) break;
    if (Date.now() - started > 60_000)
      throw new Error(`connections did not all open: ${c.map((x) => x.active).join(', ')}`);
    await sleep(250);
  }
  await sleep(2000); // both loads past their connect phase and warm
  console.log(
    `${conns.toLocaleString('en-US')} connections each, ${size}-byte text messages, closed loop (${cLoad ? 'C ws_load' : 'c10k load'}), ${rounds} x ${seconds} s windows; both servers on CPU 0, both loads on CPU 1`,
  );
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const m0 = await Promise.all(servers.map((s) => counts(s.statsUrl)));
    const t0 = children.map((c) => treeTimes(c.pid!));
    const l0 = loads.map((l) => treeTicks(l.pid!));
    const segs0 = tcpOutSegs();
    const w0 = performance.now();
    await sleep(seconds * 1000);
    const m1 = await Promise.all(servers.map((s) => counts(s.statsUrl)));
    const t1 = children.map((c) => treeTimes(c.pid!));
    const l1 = loads.map((l) => treeTicks(l.pid!));
    const segs1 = tcpOutSegs();
    const wall = (performance.now() - w0) / 1000;
    assertWindow(round, m1, (i) => m1[i]!.messages - m0[i]!.messages);
    const pct = (ticks: number) => `${((ticks / HZ / wall) * 100).toFixed(0).padStart(3)}%`;
    console.log(`round ${round}:`);
    const perCore: number[] = [];
    const sysPerMsg: number[] = [];
    let allMsgs = 0;
    servers.forEach((s, i) => {
      const msgs = m1[i]!.messages - m0[i]!.messages;
      allMsgs += msgs;
      const user = t1[i]!.user - t0[i]!.user;
      const sys = t1[i]!.sys - t0[i]!.sys;
      const cpu = (user + sys) / HZ;
      perCore.push(msgs / cpu);
      sysPerMsg.push((sys * 1e6) / HZ / msgs);
      console.log(
        `  ${s.name.padEnd(32)} ${Math.round(msgs / wall)
          .toLocaleString('en-US')
          .padStart(9)} msgs/s  CPU ${pct(user + sys)} (user ${pct(user)}, system ${pct(sys)})  ${Math.round(
          msgs / cpu,
        )
          .toLocaleString('en-US')
          .padStart(9)} msgs/s per core  ${((cpu * 1e6) / msgs).toFixed(2)} us/msg (system ${(
          (sys * 1e6) / HZ / msgs
        ).toFixed(2)})  load CPU ${pct(l1[i]! - l0[i]!)}  (${m1[i]!.active} open)`,
      );
    });
    const ratio = perCore[0]! / perCore[1]!;
    ratios.push(ratio);
    // c10k's system time alone against ws's whole time: the ratio c10k would reach with no user time at all
    const ceiling = (1e6 / perCore[1]! / sysPerMsg[0]!).toFixed(2);
    const segs =
      segs0 >= 0 && segs1 >= 0
        ? ` TCP segments sent per echoed message, whole machine: ${((segs1 - segs0) / allMsgs).toFixed(2)};`
        : '';
    console.log(
      `  c10k / ws, messages per second per core: ${ratio.toFixed(2)}x (${ceiling}x if c10k spent no user time);${segs}`,
    );
  }
  ratios.sort((a, b) => a - b);
  console.log(
    `c10k / ws, messages per second per core: ${ratios[(ratios.length - 1) >> 1]!.toFixed(2)}x (median of ${rounds}; ${ratios.map((r) => r.toFixed(2)).join(', ')})`,
  );
} finally {
  for (const p of [...loads, ...children]) {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {}
  }
}
