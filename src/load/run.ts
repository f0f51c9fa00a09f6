// run.ts — runs a load test in this process, or in several worker processes, and returns merged stats.
//
// Why it is shaped this way: one process may hold at most ~20,000 descriptors, so past that the
// connections are split into contiguous slices, one per forked worker (worker.ts, same execArgv so
// TypeScript type stripping applies). The phases are lock-stepped over IPC so the workers measure the
// same window: every worker connects its slice and says 'connected'; when all have, the parent says
// 'run' to all at once; each measures `duration` and sends its stats as JSON (histograms serialized),
// which the parent merges exactly. Progress counters flow up every 500 ms for the live line.
import { type ChildProcess, fork } from 'node:child_process';
import { siblingModulePath } from '../module-path.ts';
import { createEngine } from './engine.ts';
import {
  addCounters,
  type Counters,
  countersOf,
  type LoadOptions,
  type LoadStats,
  type LoadStatsJSON,
  mergeStats,
  newCounters,
  type Slice,
  splitSlices,
  statsFromJSON,
} from './stats.ts';

export type Phase = 'connecting' | 'running' | 'closing';

export interface LoadHooks {
  /** Called about every 500 ms with the counters so far (summed over processes). */
  onProgress?(counters: Counters, phase: Phase): void;
  /** Stop early (e.g. on SIGINT): the run ends as if its duration were over. */
  signal?: AbortSignal;
  /** Called once every connection is up (or has failed), before the measured phase; the phase waits for
   * it (the ladder measures memory and holds the connections idle here). */
  onConnected?(counters: Counters, connectPhaseMs: number): Promise<void>;
}

export interface LoadResult {
  options: LoadOptions;
  stats: LoadStats;
  /** Time to open every connection, ms (the slowest process). */
  connectPhaseMs: number;
  /** Stopped early through hooks.signal (Ctrl-C): the figures cover a shorter run. */
  interrupted: boolean;
}

export type ToWorker =
  | { type: 'start'; options: LoadOptions; slice: Slice }
  | { type: 'run' }
  | { type: 'stop' };
export type FromWorker =
  | { type: 'connected'; connectPhaseMs: number; counters: Counters }
  | { type: 'progress'; counters: Counters; phase: Phase }
  | { type: 'result'; stats: LoadStatsJSON }
  | { type: 'error'; message: string };

const PROGRESS_MS = 500;

export async function runLoad(options: LoadOptions, hooks: LoadHooks = {}): Promise<LoadResult> {
  if (options.processes > 1) return runForked(options, hooks);
  const engine = await createEngine(options, { first: 0, count: options.connections });
  let phase: Phase = 'connecting';
  const timer = hooks.onProgress
    ? setInterval(() => hooks.onProgress!(countersOf(engine.stats), phase), PROGRESS_MS)
    : null;
  const stop = () => engine.stopEarly();
  hooks.signal?.addEventListener('abort', stop, { once: true });
  try {
    const t0 = performance.now();
    await engine.connect();
    const connectPhaseMs = performance.now() - t0;
    await hooks.onConnected?.(countersOf(engine.stats), connectPhaseMs);
    phase = 'running';
    await engine.run();
    phase = 'closing';
    await engine.close();
    return { options, stats: engine.stats, connectPhaseMs, interrupted: hooks.signal?.aborted === true };
  } finally {
    hooks.signal?.removeEventListener('abort', stop);
    if (timer) clearInterval(timer);
  }
}

const WORKER = siblingModulePath('./worker.ts', import.meta.url);

async function runForked(options: LoadOptions, hooks: LoadHooks): Promise<LoadResult> {
  const slices = splitSlices(options.connections, options.processes).filter((s) => s.count > 0);
  const workers: ChildProcess[] = [];
  const latest: Counters[] = slices.map(() => newCounters());
  const results: (LoadStats | null)[] = slices.map(() => null);
  let phase: Phase = 'connecting';
  let connected = 0;
  let connectPhaseMs = 0;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const poke = () => wake?.();
  const until = async (cond: () => boolean) => {
    while (!cond() && failure === null) await new Promise<void>((r) => (wake = r));
    if (failure !== null) throw failure;
  };

  for (let i = 0; i < slices.length; i++) {
    const child = fork(WORKER, [], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    workers.push(child);
    child.on('message', (m: FromWorker) => {
      if (m.type === 'progress') latest[i] = m.counters;
      else if (m.type === 'connected') {
        latest[i] = m.counters;
        connected++;
        connectPhaseMs = Math.max(connectPhaseMs, m.connectPhaseMs);
      } else if (m.type === 'result') results[i] = statsFromJSON(m.stats);
      else if (m.type === 'error') failure ??= new Error(`load worker ${i}: ${m.message}`);
      poke();
    });
    // 'close', not 'exit': it comes after the IPC channel has delivered everything (a worker sends its
    // result and exits at once; 'exit' can overtake that last message).
    child.on('close', (code, sig) => {
      if (results[i] === null)
        failure ??= new Error(`load worker ${i} exited (${sig ?? `code ${code}`}) early`);
      poke();
    });
    child.send({ type: 'start', options, slice: slices[i] } satisfies ToWorker);
  }
  const timer = hooks.onProgress
    ? setInterval(() => {
        const sum = newCounters();
        for (const c of latest) addCounters(sum, c);
        hooks.onProgress!(sum, phase);
      }, PROGRESS_MS)
    : null;
  const onAbort = () => {
    for (const w of workers) if (w.connected) w.send({ type: 'stop' } satisfies ToWorker);
  };
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await until(() => connected === slices.length);
    if (hooks.onConnected) {
      const sum = newCounters();
      for (const c of latest) addCounters(sum, c);
      await hooks.onConnected(sum, connectPhaseMs);
    }
    phase = 'running';
    for (const w of workers) w.send({ type: 'run' } satisfies ToWorker);
    await until(() => results.every((r) => r !== null));
    const stats = mergeStats(results as LoadStats[]);
    return { options, stats, connectPhaseMs, interrupted: hooks.signal?.aborted === true };
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
    if (timer) clearInterval(timer);
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill();
  }
}
