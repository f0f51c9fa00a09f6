// worker.ts — the entry of a forked load worker: drives one slice of the connections, in lock step with
// the parent (run.ts): 'start' -> connect the slice -> 'connected'; 'run' -> measure -> 'result'.
//
// Why it is shaped this way: the parent decides when every worker starts measuring, so all workers'
// windows coincide; the stats travel back as JSON (histograms as sparse buckets) for an exact merge.
// SIGINT is ignored here: a Ctrl-C reaches the whole process group, and the parent turns it into 'stop'
// so the workers still report what they measured.
import { setPriority } from 'node:os';
import { createEngine, type Engine } from './engine.ts';
import type { FromWorker, Phase, ToWorker } from './run.ts';
import { countersOf, statsToJSON } from './stats.ts';

let engine: Engine | null = null;
let phase: Phase = 'connecting';
let progress: NodeJS.Timeout | null = null;

function send(m: FromWorker): void {
  process.send?.(m);
}

async function start(m: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  if (m.options.nice) setPriority(m.options.nice);
  engine = await createEngine(m.options, m.slice);
  const e = engine;
  progress = setInterval(() => send({ type: 'progress', counters: countersOf(e.stats), phase }), 500);
  const t0 = performance.now();
  await e.connect();
  send({ type: 'connected', connectPhaseMs: performance.now() - t0, counters: countersOf(e.stats) });
}

async function run(): Promise<void> {
  const e = engine!;
  phase = 'running';
  await e.run();
  phase = 'closing';
  await e.close();
  if (progress) clearInterval(progress);
  send({ type: 'result', stats: statsToJSON(e.stats) });
  process.disconnect?.();
}

function fail(err: unknown): void {
  send({ type: 'error', message: (err as Error)?.stack ?? String(err) });
  process.exitCode = 1;
  process.disconnect?.();
}

process.on('SIGINT', () => {});
process.on('message', (m: ToWorker) => {
  if (m.type === 'start') start(m).catch(fail);
  else if (m.type === 'run') run().catch(fail);
  else if (m.type === 'stop') engine?.stopEarly();
});
process.on('disconnect', () => {
  // the parent is gone: nothing to report to
  if (phase !== 'closing') process.exit(1);
});
