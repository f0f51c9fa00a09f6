// c10k bench: the models' showdown. `npm start` runs it with the defaults.

import { runBench } from '../report/bench.ts';
import { runLadderCommand } from '../report/ladder/report.ts';
import { DEFAULT_LOAD_NICE, DEFAULT_SERVER_NODE_OPTIONS } from '../report/ladder/run.ts';
import { BENCH_MODELS, pickModels } from '../report/models.ts';
import { stopAllServers } from '../report/server-process.ts';
import { duration, integer, parse, UsageError } from './args.ts';

export const HELP = `usage: c10k bench [options]

Runs every I/O model under the same closed-loop echo load at each connection count, one at a time, and
writes results.json and a self-contained report.html (charts) to --out; prints a summary table.

  --models LIST          all, or a comma-separated list of: ${BENCH_MODELS.map((m) => m.id).join(', ')}
                         (a prefix picks a family: 'reactor' = every reactor)  (default all)
  --connections LIST     the ladder of connection counts (default 100,1000,10000)
  --duration T           measured traffic per step (default 2s; --quick: 1s)
  --connect-timeout T    a client not connected by then counts as failed (default 2s)
  --size B               message size in bytes (default 64)
  --idle LIST            select/poll/epoll comparison: one busy client beside this many idle
                         connections (default 100,1000,10000; 'none' skips it)
  --out DIR              where results.json and report.html go (default report/)
  --quick                a short run: 1 s per step
  --ladder [LIST]        instead: the C1M climb, one multi-reactor server per rung sized from the
                         open-files limit, the load over processes and sources 127.0.0.2..; the
                         kernel settings are checked first (named, never set); each rung holds its
                         connections idle (--hold), times inspect --json, then every connection echoes
                         one verified message (default 10000,100000,1000000; --connections also works)
  --hold T               ladder: idle hold at each rung (default 10s); a rung stops, recorded as
                         ENOMEM, when MemAvailable falls under 2 GiB
  --echo-rate R          ladder: echoes/s the box is expected to manage at least; each connection
                         sends one message, and one not echoed within 3 x connections / R
                         counts as unanswered (default 20000)
  --server-node-options S  ladder: Node options of the server's workers (default
                         '--max-semi-space-size=2': V8's young generation, which grows to 16 MB
                         semi-spaces per worker under a burst of accepts, ~370 B per connection at
                         16,800 connections a worker; '' for V8's defaults)
  --load-nice N          ladder: nice value of the load's processes (default 5): the server accepts
                         first, so the load does not overflow its accept queues (0 to share equally)
  -h, --help             this text
`;

const OPTIONS = {
  models: { type: 'string' },
  connections: { type: 'string' },
  duration: { type: 'string' },
  'connect-timeout': { type: 'string' },
  size: { type: 'string' },
  idle: { type: 'string' },
  out: { type: 'string' },
  quick: { type: 'boolean' },
  ladder: { type: 'boolean' },
  hold: { type: 'string' },
  'echo-rate': { type: 'string' },
  'server-node-options': { type: 'string' },
  'load-nice': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** SIGINT, SIGTERM, SIGHUP: stop the servers this bench started (each in a process group of its own, so
 * the signal does not reach them), then exit as the signal would. The load's processes exit with us. */
function stopServersOnSignals(): void {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)
    process.once(signal, () => {
      process.stderr.write(`c10k bench: ${signal}: stopping its servers\n`);
      void stopAllServers(1000).finally(() => process.exit(code));
    });
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, OPTIONS);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  stopServersOnSignals();
  if (v.ladder) {
    const rungs = (v.connections ?? '10000,100000,1000000')
      .split(',')
      .map((c) => integer('connections', c.trim(), 1, 10_000_000)!);
    return runLadderCommand({
      rungs,
      holdMs: duration('hold', v.hold, 0) ?? 10_000,
      echoRate: integer('echo-rate', v['echo-rate'], 1, 10_000_000) ?? 20_000,
      size: integer('size', v.size, 1, 1 << 20) ?? 64,
      backend: 'syscall',
      inspect: true,
      minAvailableBytes: 2 * 2 ** 30,
      serverNodeOptions: v['server-node-options'] ?? DEFAULT_SERVER_NODE_OPTIONS,
      loadNice: integer('load-nice', v['load-nice'], 0, 19) ?? DEFAULT_LOAD_NICE,
      outDir: v.out ?? 'report',
    });
  }
  let models: ReturnType<typeof pickModels>;
  try {
    models = pickModels(v.models ?? 'all');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const ladder = (v.connections ?? '100,1000,10000')
    .split(',')
    .map((c) => integer('connections', c.trim(), 1, 1_000_000)!);
  const durationMs = duration('duration', v.duration, 1) ?? (v.quick ? 1000 : 2000);
  const connectTimeoutMs = duration('connect-timeout', v['connect-timeout'], 1) ?? 2000;
  const size = integer('size', v.size, 1, 1 << 20) ?? 64;
  const idle =
    v.idle === 'none'
      ? []
      : (v.idle ?? '100,1000,10000').split(',').map((c) => integer('idle', c.trim(), 0, 1_000_000)!);
  const tty = process.stderr.isTTY;
  const out = await runBench({
    models,
    ladder,
    durationMs,
    connectTimeoutMs,
    size,
    multiplexerLadder: idle,
    outDir: v.out ?? 'report',
    onStep: ({ index, total, model, connections, result }) => {
      if (!result) {
        process.stderr.write(
          `${tty ? '\r\x1b[K' : ''}[${index}/${total}] ${model} at ${connections} connections...${tty ? '' : '\n'}`,
        );
        return;
      }
      const what = result.status === 'ok' ? `${result.msgsPerSec} msgs/s` : result.status;
      process.stderr.write(
        `${tty ? '\r\x1b[K' : ''}[${index}/${total}] ${model} at ${connections}: ${what}\n`,
      );
    },
  });
  process.stdout.write(`\n${out.table}\n\nreport: ${out.htmlPath}\nresults: ${out.jsonPath}\n`);
  return 0;
}
