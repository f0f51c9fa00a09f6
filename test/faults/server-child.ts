// A server in its own process, for the fault tests and bench/faults-*.ts (fd limits and memory are per
// process, and a fault must not take the test runner with it). The parent forks this file with an IPC
// channel and sends { t: 'start', options } (serve() options, the app as a name or module path); this
// process answers 'ready' with its port, then 'probe' requests with its counters, memory (RSS and V8 heap),
// open descriptors and a digest of its log, and on 'close' stops gracefully and exits 0. With --expose-gc
// a probe may first run V8's memory-reducing ("last resort") full GC: it frees all garbage and returns the
// heap pages V8 keeps pooled for reuse, so RSS then shows what the process holds for live data (after an
// ordinary GC, RSS stays at the high-water mark of the heap: not a leak, but it hides one).
import { readdirSync } from 'node:fs';
import { type ServeOptions, type ServerHandle, serve } from '../../src/index.ts';
import type { LogFields, Logger } from '../../src/log.ts';
import type { ServerStats } from '../../src/net/server-core.ts';

export type ToServerChild =
  | { t: 'start'; options: Omit<ServeOptions, 'logger'> & { app: string } }
  | { t: 'probe'; id: number; gc?: boolean }
  | { t: 'close'; id: number };

export interface Probe {
  stats: ServerStats;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  fds: number;
  /** Log lines so far by message (numbers stripped), e.g. { 'connection # closed: slow-consumer': 1000 }. */
  log: Record<string, number>;
  /** The last few warnings and errors, with their fields. */
  recent: { level: string; message: string; fields?: LogFields }[];
}

export type FromServerChild =
  | { t: 'ready'; port: number; pids: number[] }
  | { t: 'fatal'; message: string }
  | { t: 'probe'; id: number; probe: Probe }
  | { t: 'closed'; id: number; stats: ServerStats };

const log: Record<string, number> = {};
const recent: Probe['recent'] = [];
const note =
  (level: string) =>
  (message: string, fields?: LogFields): void => {
    const key = message.replace(/\d+/g, '#');
    log[key] = (log[key] ?? 0) + 1;
    if (level === 'warn' || level === 'error') {
      recent.push({ level, message, fields: JSON.parse(JSON.stringify(fields ?? {})) });
      if (recent.length > 20) recent.shift();
    }
  };
const logger: Logger = { debug: () => {}, info: note('info'), warn: note('warn'), error: note('error') };

let server: ServerHandle | null = null;
const send = (m: FromServerChild) => process.send?.(m);

async function probe(gc: boolean): Promise<Probe> {
  const stats = await server!.stats();
  if (gc && typeof globalThis.gc === 'function') {
    for (let i = 0; i < 3; i++) {
      (globalThis.gc as (options?: object) => void)({
        type: 'major',
        execution: 'sync',
        flavor: 'last-resort',
      });
      await new Promise((r) => setImmediate(r));
    }
  }
  const m = process.memoryUsage();
  return {
    stats,
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    fds: readdirSync('/proc/self/fd').length,
    log: { ...log },
    recent: [...recent],
  };
}

process.on('message', (m: ToServerChild) => {
  if (m.t === 'start') {
    serve({ ...m.options, logger }).then(
      (s) => {
        server = s;
        send({ t: 'ready', port: s.port, pids: s.pids() });
      },
      (error: Error) => {
        send({ t: 'fatal', message: error.message });
        process.exit(1);
      },
    );
  } else if (m.t === 'probe') {
    void probe(m.gc ?? false).then((p) => send({ t: 'probe', id: m.id, probe: p }));
  } else if (m.t === 'close') {
    void server!
      .close()
      .then(() => server!.stats())
      .then((stats) => {
        process.send!({ t: 'closed', id: m.id, stats } satisfies FromServerChild, () => process.exit(0));
      });
  }
});
process.on('disconnect', () => process.exit(0));
