// The supervisor of the multi-process models (prefork, multi-reactor): forks `count` workers of
// worker-main.ts, each of which loads the app itself from options.appSpec; reaps them and replaces a
// crashed one (exponential backoff, capped); sums their stats over IPC; forwards their log lines to the
// caller's logger; drains them on close(); and reloads them one by one (a new worker is up and accepting
// before the old one is told to drain, so no connection is refused meanwhile).
// It holds no connection itself. With an inherited listening socket (`listenFd`, prefork and 'shared'
// balance) it keeps its copy open for the server's lifetime so replacements can inherit it too; the
// socket therefore outlives any one worker and its accept queue is never lost to a restart.
// With `slotFds` (multi-reactor's 'reuseport' balance) it holds one SO_REUSEPORT socket per worker slot
// the same way: worker i and its replacements inherit socket i, so no socket ever leaves the port's
// reuseport group during a reload or a crash and no connection queued in it is reset.
// A global maxConnections is split among the slots (workerShare): each worker refuses past its share.
// It is also the hub of the app's bus (src/bus/bus.ts): a worker's publication goes to the other workers
// subscribed to its topic, and to Redis when the server has a --bus.
import { type ChildProcess, fork } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BusHub, ipcBusSender } from '../bus/bus.ts';
import type { Logger } from '../log.ts';
import { emptyStats, type ServerStats } from '../net/server-core.ts';
import * as sys from '../sys/index.ts';
import { StatsAsker } from './stats-asker.ts';
import {
  type ListenSpec,
  type ResolvedServeOptions,
  ServeError,
  ServeOptionError,
  type WorkerStats,
} from './types.ts';
import {
  addStats,
  type FromWorker,
  type ToWorker,
  toWire,
  WORKER_MAIN,
  type WorkerRole,
} from './worker-protocol.ts';

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
/**
 * How long to wait before replacing what died: `minMs` (options.restartDelay) for the first death,
 * doubled for each death in a row up to `maxMs` (options.restartDelayMax). A run longer than twice
 * `maxMs` counts as stable and starts the count again: a worker that crashes at start-up costs
 * little CPU, and one that dies once a day is replaced after the first, short delay.
 */
export class RestartBackoff {
  private deaths = 0;
  private readonly minMs: number;
  private readonly maxMs: number;

  constructor(minMs: number, maxMs: number) {
    this.minMs = minMs;
    this.maxMs = maxMs;
  }

  /** The delay before replacing something that was started at `startedAt` and just died. */
  next(startedAt: number, now = Date.now()): number {
    if (now - startedAt > 2 * this.maxMs) this.deaths = 0;
    return Math.min(this.maxMs, this.minMs * 2 ** this.deaths++);
  }
}

interface Worker {
  child: ChildProcess;
  pid: number;
  /** 0..count-1: which listening socket (slotFds) and which share of maxConnections it has. */
  slot: number;
  startedAt: number;
  ready: boolean;
  retiring: boolean;
  final: ServerStats | null;
  lastKnown: ServerStats;
  exited: Promise<void>;
  /** Set once the worker has reported its final counters: it must be gone soon after. */
  exitDeadline?: NodeJS.Timeout;
}

/**
 * Kill `proc` (`name` in the log) unless it exits within `graceMs` (options.exitGrace) of reporting its
 * final counters; the caller clears the timer on its exit. Node's own exit can deadlock (the main thread
 * joins a compiler thread that waits for a GC the main thread will never run: nodejs/node#54918), and a
 * process stuck there would hold its slot, its memory and a stop or reload for ever.
 */
export function exitDeadline(
  proc: ChildProcess,
  logger: Logger,
  name: string,
  graceMs: number,
): NodeJS.Timeout {
  return setTimeout(() => {
    logger.warn(`${name} finished but did not exit within ${graceMs} ms: killed`);
    proc.kill('SIGKILL');
  }, graceMs);
}

/** The worker's forward of a log line, or a no-op for a message that is not one. */
export function forwardLog(logger: Logger, message: FromWorker): boolean {
  if (message.t !== 'log') return false;
  logger[message.level === 'silent' ? 'debug' : message.level](message.message, message.fields);
  return true;
}

const COMPILE_CACHE = join(tmpdir(), 'c10k-compile-cache');

export function forkWorker(stdioFd: number | undefined): ChildProcess {
  const stdio: (string | number)[] = ['ignore', 'inherit', 'inherit', 'ipc'];
  if (stdioFd !== undefined) stdio.push(stdioFd);
  return fork(WORKER_MAIN, [], {
    execArgv: [],
    // V8's compile cache (keyed by source) spares each new worker the stripping and compiling of every
    // module: a connection child starts in ~60 ms instead of ~300 ms.
    env: { ...process.env, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? COMPILE_CACHE },
    serialization: 'advanced',
    stdio: stdio as ('ignore' | 'inherit' | 'ipc' | number)[],
  });
}

export class Supervisor {
  port: number;
  private readonly options: ResolvedServeOptions;
  private readonly spec: SupervisorOptions;
  private readonly logger: Logger;
  private workers = new Set<Worker>();
  private retired = emptyStats(); // counters of workers that are gone
  private closing = false;
  private readonly backoff: RestartBackoff;
  private restartTimers = new Set<NodeJS.Timeout>();
  private reloading: Promise<void> | null = null;
  private readonly hub: BusHub;
  private readonly asker = new StatsAsker<Worker>();

  constructor(options: ResolvedServeOptions, spec: SupervisorOptions) {
    this.options = options;
    this.backoff = new RestartBackoff(options.restartDelay, options.restartDelayMax);
    this.spec = spec;
    this.logger = options.logger;
    this.port = options.port;
    this.hub = new BusHub({ url: options.bus, logger: options.logger });
  }

  /** Start every worker; rejects with the first worker's fatal error (e.g. the app failed to load). */
  async start(): Promise<void> {
    try {
      // With SO_REUSEPORT and port 0, the first worker picks the port and the others join it.
      const first = this.spec.reusePort && this.port === 0 ? 1 : 0;
      if (first === 1) await this.spawn(0);
      await Promise.all(Array.from({ length: this.spec.count - first }, (_, i) => this.spawn(first + i)));
    } catch (error) {
      this.closing = true;
      for (const w of this.workers) w.child.kill('SIGKILL');
      await Promise.all([...this.workers].map((w) => w.exited));
      this.closeListeners();
      this.hub.close();
      throw error;
    }
  }

  pids(): number[] {
    return [process.pid, ...[...this.workers].map((w) => w.pid)];
  }

  async stats(): Promise<ServerStats> {
    const live = [...this.workers];
    const answers = await Promise.all(live.map((w) => this.ask(w)));
    const total = structuredClone(this.retired);
    live.forEach((w, i) => {
      if (w.final === null) addStats(total, answers[i] ?? w.lastKnown); // still running
    });
    return total;
  }

  /** Each live worker's counters (its last known ones if it does not answer in time). */
  async workerStats(): Promise<WorkerStats[]> {
    const live = [...this.workers].filter((w) => w.final === null && w.ready);
    const answers = await Promise.all(live.map((w) => this.ask(w)));
    return live.map((w, i) => ({ pid: w.pid, stats: answers[i] ?? w.lastKnown }));
  }

  /** Rolling reload: for each worker, start a replacement, wait until it accepts, then drain the old one. */
  reload(): Promise<void> {
    if (this.closing) return Promise.resolve();
    this.reloading ??= (async () => {
      try {
        for (const old of [...this.workers]) {
          if (this.closing) return;
          if (old.retiring) continue;
          await this.spawn(old.slot);
          await this.retire(old);
        }
        this.logger.info(`reloaded ${this.spec.count} workers`);
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  /** Drain every worker (each stops accepting, finishes its connections within drainTimeout) and exit. */
  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    await Promise.all([...this.workers].map((w) => this.retire(w)));
    this.closeListeners();
    this.hub.close();
  }

  private closeListeners(): void {
    if (this.spec.listenFd !== undefined) sys.close(this.spec.listenFd);
    for (const fd of this.spec.slotFds ?? []) sys.close(fd);
  }

  private async retire(w: Worker): Promise<void> {
    w.retiring = true;
    // Past the drain and the exit grace, a worker still there is stuck: kill it.
    const hardStop = setTimeout(
      () => w.child.kill('SIGKILL'),
      this.options.drainTimeout + this.options.exitGrace,
    );
    this.send(w, { t: 'drain' });
    await w.exited;
    clearTimeout(hardStop);
  }

  private spawn(slot: number): Promise<void> {
    const inherited = this.spec.slotFds?.[slot] ?? this.spec.listenFd;
    const child = forkWorker(inherited);
    let onExit!: () => void;
    const w: Worker = {
      child,
      pid: child.pid ?? 0,
      slot,
      startedAt: Date.now(),
      ready: false,
      retiring: false,
      final: null,
      lastKnown: emptyStats(),
      exited: new Promise((resolve) => (onExit = resolve)),
    };
    this.workers.add(w);
    const listen: ListenSpec =
      inherited !== undefined ? { fd: INHERITED_FD } : { reusePort: this.spec.reusePort ?? false };
    const options = {
      ...toWire(this.options),
      port: this.port,
      maxConnections: workerShare(this.options.maxConnections, this.spec.count, slot),
    };
    return new Promise<void>((resolve, reject) => {
      const member = this.hub.joinVia(ipcBusSender(() => child, this.logger, `worker ${w.pid}`));
      child.on('message', (m: FromWorker) => {
        if (forwardLog(this.logger, m)) return;
        if (m.t === 'bus') {
          member.receive(m);
          return;
        }
        if (m.t === 'ready') {
          w.ready = true;
          this.port = m.port;
          resolve();
        } else if (m.t === 'fatal') reject(new ServeError(m.message));
        else if (m.t === 'stats') {
          w.lastKnown = m.stats;
          this.asker.answered(m.id, m.stats);
        } else if (m.t === 'final') {
          w.final = m.stats;
          addStats(this.retired, m.stats);
          w.exitDeadline = exitDeadline(child, this.logger, `worker ${w.pid}`, this.options.exitGrace);
        }
      });
      child.on('error', (error) => {
        // A worker told to drain may be exiting already on its own signal (Ctrl-C reaches the whole
        // process group): our message then finds its channel closed. Nothing is lost.
        if (w.retiring && (error as NodeJS.ErrnoException).code === 'EPIPE') return;
        this.logger.error(`worker ${w.pid}: ${error.message}`);
      });
      child.on('exit', (code, signal) => {
        clearTimeout(w.exitDeadline);
        this.workers.delete(w);
        member.leave();
        if (w.final === null) addStats(this.retired, { ...w.lastKnown, active: 0 });
        onExit();
        if (!w.ready) {
          reject(new ServeError(`worker ${w.pid} exited while starting (${signal ?? `code ${code}`})`));
          return;
        }
        if (w.retiring || this.closing) return;
        this.crashed(w, code, signal);
      });
      this.send(w, { t: 'start', role: this.spec.role, options, listen });
    });
  }

  private crashed(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    const delay = this.backoff.next(w.startedAt);
    this.logger.warn(`worker ${w.pid} died (${signal ?? `code ${code}`}): replacing it in ${delay} ms`);
    const restart = () => {
      this.restartTimers.delete(timer);
      if (this.closing) return;
      this.spawn(w.slot).catch((error: Error) => {
        this.logger.error(`replacement worker failed: ${error.message}`);
        if (!this.closing) this.crashed({ ...w, startedAt: Date.now() }, 1, null);
      });
    };
    const timer = setTimeout(restart, delay);
    this.restartTimers.add(timer);
  }

  private ask(w: Worker): Promise<ServerStats | null> {
    if (w.final !== null || !w.ready) return Promise.resolve(null);
    return this.asker.ask(w, (m) => this.send(w, m), w.exited);
  }

  private send(w: Worker, message: ToWorker): boolean {
    if (!w.child.connected) return false;
    try {
      w.child.send(message);
      return true;
    } catch {
      return false;
    }
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
): import('./types.ts').ServerHandle {
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
