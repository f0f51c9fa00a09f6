// Benchmarks measure against the C reference in ../shared/yardstick (never a dependency of the product):
// this builds a private copy (the shared folder is read-only) and measures server CPU time per echoed
// message the way its `ratio` script does — server on CPU 0, load on CPU 1, utime+stime of every process
// of the server's tree from /proc, around one closed-loop echo_load run.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const SOURCE = new URL('../../../shared/yardstick/', import.meta.url).pathname;
const BUILD = join(tmpdir(), 'c10k-yardstick');

/** Path of the built yardstick tools, or throws with a reason. */
export function yardstick(): { echoEpoll: string; echoLoad: string; hold: string } {
  if (!existsSync(join(BUILD, 'echo_load'))) {
    if (!existsSync(SOURCE)) throw new Error(`no yardstick at ${SOURCE}`);
    cpSync(SOURCE, BUILD, { recursive: true });
    execFileSync('chmod', ['-R', 'u+w', BUILD]);
    execFileSync('make', ['-s', '-C', BUILD], { stdio: 'inherit' });
  }
  return {
    echoEpoll: join(BUILD, 'echo_epoll'),
    echoLoad: join(BUILD, 'echo_load'),
    hold: join(BUILD, 'hold'),
  };
}

/** Clock ticks per second (/proc times are in ticks). */
export const HZ = Number(execFileSync('getconf', ['CLK_TCK']).toString());

function children(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const list = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (list) out.push(...list.split(' ').map(Number));
    }
    return out;
  } catch {
    return [];
  }
}

/** utime and stime (clock ticks) of a process and all its descendants, apart. */
export function treeTimes(pid: number): { user: number; sys: number } {
  let user = 0;
  let sys = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(fields[11]);
      sys += Number(fields[12]);
    } catch {}
    stack.push(...children(p));
  }
  return { user, sys };
}

/** utime+stime in clock ticks of a process and all its descendants. */
export function treeTicks(pid: number): number {
  const t = treeTimes(pid);
  return t.user + t.sys;
}

/** Resident memory (bytes) of a process and all its descendants. */
export function treeRss(pid: number): number {
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {}
    stack.push(...children(p));
  }
  return total;
}

export async function waitPort(port: number, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `c10k serve` with the echo app on {PORT}, quiet, plus `extra` serve arguments. */
export function c10kEcho(extra: string[] = []): string[] {
  const bin = new URL('../../bin/c10k.ts', import.meta.url).pathname;
  return [
    process.execPath,
    bin,
    'serve',
    '--app',
    'echo',
    '--port',
    '{PORT}',
    '--log-level',
    'warn',
    ...extra,
  ];
}

/** An echo server named on a bench's command line: `c` (the C echo_epoll), `c10k [serve args]`, or a
 * command with {PORT}. */
export function echoServerCommand(spec: string): string[] {
  const words = spec.split(/\s+/).filter(Boolean);
  if (words[0] === 'c') return [yardstick().echoEpoll, '{PORT}'];
  if (words[0] === 'c10k') return c10kEcho(words.slice(1));
  return words;
}

/** The C echo_load on CPU 1 (the servers run on CPU 0): `conns` connections, 64-byte messages, `secs`. */
export async function runEchoLoad(port: number, conns: number, secs: number): Promise<EchoLoadResult> {
  const args = ['-c', '1', yardstick().echoLoad, String(port), String(conns), '64', String(secs)];
  const { stdout } = await promisify(execFile)('taskset', args);
  return parseEchoLoad(stdout);
}

export interface EchoLoadResult {
  conns: number;
  msgs: number;
  msgsPerSec: number;
  p50us: number;
  p99us: number;
  p999us: number;
  closed: number;
}

export function parseEchoLoad(out: string): EchoLoadResult {
  const get = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(out)?.[1] ?? Number.NaN);
  return {
    conns: get('conns'),
    msgs: get('msgs'),
    msgsPerSec: get('msgs_per_s'),
    p50us: get('p50_us'),
    p99us: get('p99_us'),
    p999us: get('p999_us'),
    closed: get('closed'),
  };
}

export function echoLoad(
  port: number,
  conns: number,
  size: number,
  seconds: number,
  cpu = '1',
  nsrc = 1,
): EchoLoadResult {
  const { echoLoad } = yardstick();
  const out = execFileSync(
    'taskset',
    ['-c', cpu, echoLoad, String(port), String(conns), String(size), String(seconds), String(nsrc)],
    {
      maxBuffer: 1 << 20,
    },
  ).toString();
  return parseEchoLoad(out);
}

/**
 * c10k's own load generator in open loop: `rate` messages/s in total over `conns` connections, pinned to
 * `cpu`; its JSON summed up as an EchoLoadResult. The C echo_load is closed loop only: the server is then
 * always the busier side, where a fixed rate shows what a server costs when it is not saturated.
 */
export function c10kLoadAtRate(
  port: number,
  conns: number,
  size: number,
  seconds: number,
  rate: number,
  cpu = '1',
): EchoLoadResult {
  const bin = new URL('../../bin/c10k.ts', import.meta.url).pathname;
  const args = ['load', '--port', String(port), '--connections', String(conns), '--size', String(size)];
  args.push('--duration', `${seconds}s`, '--rate', String(rate), '--json');
  const out = execFileSync('taskset', ['-c', cpu, process.execPath, bin, ...args], {
    maxBuffer: 64 << 20,
  }).toString();
  const j = JSON.parse(out);
  return {
    conns: j.connections.established,
    msgs: j.messages,
    msgsPerSec: j.msgsPerSec,
    p50us: j.latencyUs.p50,
    p99us: j.latencyUs.p99,
    p999us: j.latencyUs.p999,
    closed: j.connections.closedByServer,
  };
}

export interface CpuPerMessage {
  usPerMsg: number;
  load: EchoLoadResult;
}

/** Start `command` (with {PORT}) pinned to CPU 0, warm it up, and measure its CPU per echoed message. */
export async function cpuPerMessage(
  command: string[],
  port: number,
  conns: number,
  seconds: number,
  size = 64,
  /** Messages/s in open loop (c10k load); 0: closed loop (the C echo_load). */
  rate = 0,
): Promise<CpuPerMessage> {
  const load = (secs: number) =>
    rate > 0 ? c10kLoadAtRate(port, conns, size, secs, rate) : echoLoad(port, conns, size, secs);
  const argv = command.map((a) => a.replaceAll('{PORT}', String(port)));
  const child = spawn('taskset', ['-c', '0', ...argv], { stdio: 'ignore', detached: true });
  try {
    await waitPort(port);
    await new Promise((r) => setTimeout(r, 500));
    load(1); // warm-up
    const t0 = treeTicks(child.pid!);
    const result = load(seconds);
    const t1 = treeTicks(child.pid!);
    if (!(result.msgs > 0)) throw new Error(`no messages echoed by ${argv.join(' ')}`);
    return { usPerMsg: (((t1 - t0) / HZ) * 1e6) / result.msgs, load: result };
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
