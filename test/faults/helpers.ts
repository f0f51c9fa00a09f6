// Shared by the fault tests and bench/faults-*.ts: a server in its own process (server-child.ts), fleets
// of clients in their own processes (fleet.ts), and what /proc says about a process.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { ServeOptions } from '../../src/index.ts';
import type { FleetStatus, OpenResult, ToFleet, WaveResult } from './fleet.ts';
import type { FromServerChild, Probe, ToServerChild } from './server-child.ts';

const NODE = process.execPath;
const SERVER_CHILD = new URL('./server-child.ts', import.meta.url).pathname;
const FLEET = new URL('./fleet.ts', import.meta.url).pathname;

export const faultApp = (name: string) => new URL(`./apps/${name}.ts`, import.meta.url).pathname;

export interface ServerChild {
  child: ChildProcess;
  pid: number;
  port: number;
  probe(gc?: boolean): Promise<Probe>;
  /** Graceful close; resolves with the exit code. */
  close(): Promise<number | null>;
  kill(): void;
}

/** Spawn a child with an IPC channel, optionally under a lower open-files limit (`ulimit -n`). */
function spawnNode(script: string, args: string[], nofile?: number): ChildProcess {
  const stdio: ('inherit' | 'ipc' | 'ignore')[] = ['ignore', 'inherit', 'inherit', 'ipc'];
  if (nofile === undefined) return spawn(NODE, [...args, script], { stdio });
  return spawn('/bin/sh', ['-c', `ulimit -n ${nofile} && exec "$0" "$@"`, NODE, ...args, script], {
    stdio,
  });
}

export async function startServerChild(
  options: Omit<ServeOptions, 'logger'> & { app: string },
  { nofile, gc = false }: { nofile?: number; gc?: boolean } = {},
): Promise<ServerChild> {
  const child = spawnNode(SERVER_CHILD, gc ? ['--expose-gc'] : [], nofile);
  const waiters = new Map<number, (m: FromServerChild) => void>();
  let seq = 0;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<{ port: number }>((resolve, reject) => {
    child.on('message', (m: FromServerChild) => {
      if (m.t === 'ready') resolve(m);
      else if (m.t === 'fatal') reject(new Error(m.message));
      else waiters.get(m.id)?.(m);
    });
    void exited.then((code) => reject(new Error(`server child exited (${code}) before it was ready`)));
  });
  const ask = (m: ToServerChild & { id: number }) =>
    new Promise<FromServerChild>((resolve, reject) => {
      waiters.set(m.id, resolve);
      child.send(m);
      void exited.then(() => reject(new Error('server child exited')));
    });
  child.send({ t: 'start', options } satisfies ToServerChild);
  const { port } = await ready;
  return {
    child,
    pid: child.pid!,
    port,
    probe: async (gcNow = false) => {
      const m = await ask({ t: 'probe', id: ++seq, gc: gcNow });
      return (m as Extract<FromServerChild, { t: 'probe' }>).probe;
    },
    close: async () => {
      if (child.exitCode !== null) return child.exitCode;
      await ask({ t: 'close', id: ++seq }).catch(() => {});
      return exited;
    },
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export interface Fleet {
  pid: number;
  open(
    port: number,
    count: number,
    sources: string[],
    timeoutMs: number,
    extra?: { concurrency?: number; hello?: string },
  ): Promise<OpenResult>;
  ping(payload: string, timeoutMs: number): Promise<FleetStatus>;
  status(): Promise<FleetStatus>;
  close(count: number): Promise<number>;
  closeAll(): Promise<void>;
  slow(port: number, count: number, sources: string[], hello: string): Promise<number>;
  wave(
    port: number,
    count: number,
    sources: string[],
    concurrency: number,
    payload: string,
  ): Promise<WaveResult>;
  kill(): void;
}

export function startFleet(): Fleet {
  const child = spawnNode(FLEET, []);
  const waiters = new Map<number, (reply: unknown) => void>();
  let seq = 0;
  child.on('message', (m: { id: number; reply: unknown }) => waiters.get(m.id)?.(m.reply));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ask = <T>(m: ToFleet): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      waiters.set(id, (r) => {
        waiters.delete(id);
        resolve(r as T);
      });
      void exited.then((code) => reject(new Error(`fleet exited (${code})`)));
      child.send({ ...m, id });
    });
  return {
    pid: child.pid!,
    open: (port, count, sources, timeoutMs, extra = {}) =>
      ask({ t: 'open', port, count, sources, timeoutMs, ...extra }),
    ping: (payload, timeoutMs) => ask({ t: 'ping', payload, timeoutMs }),
    status: () => ask({ t: 'status' }),
    close: (count) => ask({ t: 'close', count }),
    closeAll: () => ask({ t: 'closeAll' }),
    slow: (port, count, sources, hello) => ask({ t: 'slow', port, count, sources, hello }),
    wave: (port, count, sources, concurrency, payload) =>
      ask({ t: 'wave', port, count, sources, concurrency, payload }),
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * `n` loopback source addresses of group `group`: 127.40.group.1 .. 127.40.group.n. The fault tests keep
 * to 127.40/16 so that other loopback load on the machine (which binds sources from 127.0.0.2 up) does not
 * compete for their ephemeral ports.
 */
export function sources(group: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.40.${group}.${i + 1}`);
}

const HZ = Number(execFileSync('getconf', ['CLK_TCK']).toString());

/** CPU seconds (user + system) a process has used. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / HZ;
}

/** Resident memory of a process, in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Percentiles of a list of numbers (sorted copy). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const MiB = 1024 * 1024;

/**
 * `waves` waves of `perWave` short connections (connect, echo a line, close: FIN and RST in turn) split
 * over the fleets, each fleet from 16 sources of its own group (group + k); returns totals.
 */
export async function runWaves(
  server: ServerChild,
  fleets: Fleet[],
  waves: number,
  perWave: number,
  group: number,
  onWave?: (wave: number, done: number, failed: number, ms: number) => void | Promise<void>,
): Promise<{ done: number; failed: number; errors: Record<string, number> }> {
  let done = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  for (let w = 0; w < waves; w++) {
    const started = Date.now();
    const share = Math.ceil(perWave / fleets.length);
    const results = await Promise.all(
      fleets.map((f, k) =>
        f.wave(
          server.port,
          Math.min(share, perWave - k * share),
          sources(group + k, 16),
          256,
          `wave ${w} ${k}\n`,
        ),
      ),
    );
    let waveDone = 0;
    let waveFailed = 0;
    for (const r of results) {
      waveDone += r.done;
      waveFailed += r.failed;
      for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
    }
    done += waveDone;
    failed += waveFailed;
    await onWave?.(w, waveDone, waveFailed, Date.now() - started);
  }
  return { done, failed, errors };
}
