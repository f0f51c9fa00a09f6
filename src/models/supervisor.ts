// The supervisor of the multi-process models (prefork, multi-reactor, multi-proactor): forks `count`
// workers of worker-main.ts, each of which loads the app itself from options.appSpec, into a WorkerFleet
// (worker-fleet.ts: it reaps them, replaces a crashed one with a capped exponential backoff, sums their
// stats over IPC, forwards their log lines and drains them on close()); and reloads them one by one (a
// new worker is up and accepting before the old one is told to drain, so no connection is refused).
// It holds no connection itself. With an inherited listening socket (`listenFd`, prefork and 'shared'
// balance) it keeps its copy open for the server's lifetime so replacements can inherit it too; the
// socket therefore outlives any one worker and its accept queue is never lost to a restart.
// With `slotFds` (multi-reactor's 'reuseport' balance) it holds one SO_REUSEPORT socket per worker slot
// the same way: worker i and its replacements inherit socket i, so no socket ever leaves the port's
// reuseport group during a reload or a crash and no connection queued in it is reset.
// A global maxConnections is split among the slots (workerShare): each worker refuses past its share.
// It is also the hub of the app's bus (src/bus/bus.ts): a worker's publication goes to the other workers
// subscribed to its topic, and to Redis when the server has a --bus.

import { emptyStats, type ServerStats } from '../net/server-core.ts';
import * as sys from '../sys/index.ts';
import {
  type ListenSpec,
  type ResolvedServeOptions,
  ServeError,
  ServeOptionError,
  type ServerHandle,
  type WorkerStats,
} from './types.ts';
import { type ProcessWorker, spawnProcess, WorkerFleet } from './worker-fleet.ts';
import { toWire, type WorkerRole } from './worker-protocol.ts';

export interface SupervisorOptions {
  role: WorkerRole;
  count: number;
  /** A listening socket every worker inherits as fd 4 (the supervisor owns and finally closes it). */
  listenFd?: number;
  /** Workers open their own listening socket with SO_REUSEPORT. */
  reusePort?: boolean;
  /** One listening socket per worker slot (count of them), inherited as fd 4 by that slot's workers. */
  slotFds?: number[];
}

/**
 * A worker's share of a global connection cap: `total` split as evenly as integers allow over `count`
 * slots (shares differ by at most one and add up to total). Infinity stays Infinity.
 */
export function workerShare(total: number, count: number, slot: number): number {
  if (!Number.isFinite(total)) return total;
  return Math.floor(total / count) + (slot < total % count ? 1 : 0);
}

/** The descriptor number an inherited socket gets in a worker: stdio[4]. */
export const INHERITED_FD = 4;

export class Supervisor {
  port: number;
  private readonly options: ResolvedServeOptions;
  private readonly spec: SupervisorOptions;
  private readonly fleet: WorkerFleet<ProcessWorker>;
  private reloading: Promise<void> | null = null;

  constructor(options: ResolvedServeOptions, spec: SupervisorOptions) {
    this.options = options;
    this.spec = spec;
    this.port = options.port;
    this.fleet = new WorkerFleet('worker', options, (slot) => this.spawn(slot));
  }

  /** Start every worker; rejects with the first worker's fatal error (e.g. the app failed to load). */
  async start(): Promise<void> {
    try {
      // With SO_REUSEPORT and port 0, the first worker picks the port and the others join it.
      const first = this.spec.reusePort && this.port === 0 ? 1 : 0;
      if (first === 1) await this.spawn(0);
      await Promise.all(Array.from({ length: this.spec.count - first }, (_, i) => this.spawn(first + i)));
    } catch (error) {
      this.fleet.stop();
      for (const w of this.fleet.workers) w.kill();
      await Promise.all([...this.fleet.workers].map((w) => w.exited));
      this.closeListeners();
      this.fleet.hub.close();
      throw error;
    }
  }

  pids(): number[] {
    return [process.pid, ...[...this.fleet.workers].map((w) => w.id)];
  }

  stats(): Promise<ServerStats> {
    return this.fleet.stats();
  }

  /** Each live worker's counters (its last known ones if it does not answer in time). */
  async workerStats(): Promise<WorkerStats[]> {
    return (await this.fleet.workerStats()).map(({ worker, stats }) => ({ pid: worker.id, stats }));
  }

  /** Rolling reload: for each worker, start a replacement, wait until it accepts, then drain the old one. */
  reload(): Promise<void> {
    if (this.fleet.closing) return Promise.resolve();
    this.reloading ??= (async () => {
      try {
        for (const old of [...this.fleet.workers]) {
          if (this.fleet.closing) return;
          if (old.retiring) continue;
          await this.spawn(old.slot);
          await this.fleet.retire(old);
        }
        this.options.logger.info(`reloaded ${this.spec.count} workers`);
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  /** Drain every worker (each stops accepting, finishes its connections within drainTimeout) and exit. */
  async close(): Promise<void> {
    await this.fleet.drain();
    this.closeListeners();
    this.fleet.hub.close();
  }

  private closeListeners(): void {
    if (this.spec.listenFd !== undefined) sys.close(this.spec.listenFd);
    for (const fd of this.spec.slotFds ?? []) sys.close(fd);
  }

  /** A worker in `slot`; resolves once it accepts. */
  private spawn(slot: number): Promise<void> {
    const inherited = this.spec.slotFds?.[slot] ?? this.spec.listenFd;
    const listen: ListenSpec =
      inherited !== undefined ? { fd: INHERITED_FD } : { reusePort: this.spec.reusePort ?? false };
    const options = {
      ...toWire(this.options),
      port: this.port,
      maxConnections: workerShare(this.options.maxConnections, this.spec.count, slot),
    };
    return new Promise<void>((resolve, reject) => {
      const w = spawnProcess(
        this.fleet,
        slot,
        inherited,
        (w, m) => {
          if (m.t === 'ready') {
            w.ready = true;
            this.port = m.port;
            resolve();
          } else if (m.t === 'fatal') reject(new ServeError(m.message));
          else if (m.t === 'stats') w.lastKnown = m.stats;
        },
        (w, code, signal) => {
          const why = signal ?? `code ${code}`;
          if (!w.ready) reject(new ServeError(`worker ${w.id} exited while starting (${why})`));
          else if (!w.retiring && !this.fleet.closing) this.fleet.replace(w, why);
        },
      );
      w.lastKnown = emptyStats();
      w.send({ t: 'start', role: this.spec.role, options, listen });
    });
  }
}

/**
 * Models whose workers load the app themselves need its module spec, and an app that keeps its state in
 * one process cannot be spread over several.
 */
export function checkWorkerApp(options: ResolvedServeOptions, model: string, processes: number): void {
  if (options.appSpec === undefined) {
    throw new ServeOptionError(
      `model '${model}' loads the app in each worker: pass the app as a built-in name or a module path, not an object`,
    );
  }
  if (options.app.singleProcess && processes > 1) {
    throw new ServeOptionError(
      `app '${options.appSpec}' keeps its state in one process (singleProcess): model '${model}' would run it in ${processes} copies; use --model reactor or iterative, or --workers 1`,
    );
  }
}

/** The ServerHandle of a supervised model. */
export function supervisedHandle(
  sup: Supervisor,
  model: string,
  options: ResolvedServeOptions,
): ServerHandle {
  let closing: Promise<void> | null = null;
  return {
    model,
    backend: options.backend,
    host: options.host,
    get port() {
      return sup.port;
    },
    pids: () => sup.pids(),
    stats: () => sup.stats(),
    workerStats: () => sup.workerStats(),
    reload: () => sup.reload(),
    close: () => (closing ??= sup.close()),
  };
}
