// The workers of a server that serves from more than one process or thread: the supervisor's worker
// processes (prefork, multi-reactor, multi-proactor), process-per-connection's children and the thread
// pool's threads. The fleet counts them, asks them for their counters, keeps the counters of those that
// are gone, drains them, and replaces one that died with an exponential backoff. How a worker is started
// and what its own messages mean stay with its model; spawnProcess() below starts one of worker-main.ts.
import { type ChildProcess, fork } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BusHub, ipcBusSender } from '../bus/bus.ts';
import type { Logger } from '../log.ts';
import { emptyStats, type ServerStats } from '../net/server-core.ts';
import { StatsAsker, type StatsQuestion } from './stats-asker.ts';
import type { ResolvedServeOptions } from './types.ts';
import { addStats, type FromWorker, type ToWorker, WORKER_MAIN } from './worker-protocol.ts';

/** One worker as the fleet sees it. */
export interface FleetWorker {
  /** Its pid, or its threadId. */
  readonly id: number;
  /** Which place in the fleet it fills (its replacement takes the same one). */
  readonly slot: number;
  readonly startedAt: number;
  /** Serving (it said 'ready'): it can be asked for its counters. */
  ready: boolean;
  /** Told to drain: its exit is expected. */
  retiring: boolean;
  /** The counters it reported when it finished. */
  final: ServerStats | null;
  /** Its counters as of its last report, kept should it die without a final one (null: none kept). */
  lastKnown: ServerStats | null;
  readonly exited: Promise<void>;
  /** IPC or postMessage; false when it can no longer be reached. */
  send(message: StatsQuestion | { t: 'drain' }): boolean;
  /** SIGKILL, or terminate() for a thread. */
  kill(): void;
}

type FleetOptions = Pick<
  ResolvedServeOptions,
  'logger' | 'bus' | 'drainTimeout' | 'exitGrace' | 'restartDelay' | 'restartDelayMax'
>;

export class WorkerFleet<W extends FleetWorker> {
  readonly workers = new Set<W>();
  /** Counters of the workers that finished or are gone. */
  readonly retired = emptyStats();
  /** The app's bus between the workers (and, with --bus, other servers): the fleet's owner relays. */
  readonly hub: BusHub;
  /** close() began: nothing is replaced any more. */
  closing = false;
  /** What a worker is called in the log: 'worker', 'thread', 'connection child'. */
  readonly name: string;
  readonly options: FleetOptions;
  readonly logger: Logger;
  private readonly start: (slot: number) => Promise<unknown>;
  private readonly asker = new StatsAsker<W>();
  private readonly backoff: RestartBackoff;
  private readonly restartTimers = new Set<NodeJS.Timeout>();

  /** `start(slot)` starts a worker in a slot: how a dead one is replaced. */
  constructor(name: string, options: FleetOptions, start: (slot: number) => Promise<unknown>) {
    this.name = name;
    this.options = options;
    this.logger = options.logger;
    this.start = start;
    this.backoff = new RestartBackoff(options.restartDelay, options.restartDelayMax);
    this.hub = new BusHub({ url: options.bus, logger: options.logger });
  }

  /** Its final counters: from now on they count among the retired. */
  finished(w: W, stats: ServerStats): void {
    w.final = stats;
    addStats(this.retired, stats);
  }

  /** It exited: it leaves the fleet, its last known counters kept if it never reported final ones. */
  left(w: W): void {
    this.workers.delete(w);
    if (w.final === null && w.lastKnown !== null) addStats(this.retired, { ...w.lastKnown, active: 0 });
  }

  /** A { t: 'stats', id, stats } answer. */
  answered(id: number, stats: ServerStats): void {
    this.asker.answered(id, stats);
  }

  /** Its counters now, or null (finished, not serving yet, gone or silent). */
  ask(w: W): Promise<ServerStats | null> {
    if (w.final !== null || !w.ready) return Promise.resolve(null);
    return this.asker.ask(w, (m) => w.send(m), w.exited);
  }

  /** Counters summed over the fleet, the retired included; a worker that does not answer counts as last known. */
  async stats(): Promise<ServerStats> {
    const counted = await this.workerStats();
    return counted.reduce((total, c) => addStats(total, c.stats), structuredClone(this.retired));
  }

  /** Each serving worker's counters (its last known ones if it does not answer in time). */
  async workerStats(): Promise<{ worker: W; stats: ServerStats }[]> {
    const live = [...this.workers].filter((w) => w.final === null && w.ready);
    const answers = await Promise.all(live.map((w) => this.ask(w)));
    return live.flatMap((worker, i) => {
      const stats = answers[i] ?? worker.lastKnown;
      return stats === null || worker.final !== null ? [] : [{ worker, stats }];
    });
  }

  /** Tell it to drain and wait for its exit; past the drain and the exit grace it is stuck: killed. */
  async retire(w: W): Promise<void> {
    w.retiring = true;
    const hardStop = setTimeout(() => {
      this.logger.warn(`${this.name} ${w.id} still there after the drain timeout: killed`);
      w.kill();
    }, this.options.drainTimeout + this.options.exitGrace);
    w.send({ t: 'drain' });
    await w.exited;
    clearTimeout(hardStop);
  }

  /** Nothing is replaced from now on. */
  stop(): void {
    this.closing = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
  }

  /** Retire every worker (one started meanwhile too); nothing is replaced from now on. */
  async drain(): Promise<void> {
    this.stop();
    while (this.workers.size > 0) await Promise.all([...this.workers].map((w) => this.retire(w)));
  }

  /** It died unasked (`why`: 'code 1', 'signal SIGKILL'): a new one takes its slot after the backoff (and
   * again if that one fails to start). */
  replace(w: W, why: string): void {
    const delay = this.backoff.next(w.startedAt);
    this.logger.warn(`${this.name} ${w.id} died (${why}): replacing it in ${delay} ms`);
    this.replaceIn(w, delay);
  }

  private replaceIn(w: W, delay: number): void {
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.closing) return;
      this.start(w.slot).catch((error: Error) => {
        if (this.closing) {
          this.logger.error(`replacement ${this.name} failed to start: ${error.message}`);
          return;
        }
        // Said as what it is: the replacement failed, not the worker it replaces dying again.
        const again = { ...w, startedAt: Date.now() };
        const next = this.backoff.next(again.startedAt);
        this.logger.error(
          `replacement for ${this.name} ${w.id} failed to start (${error.message}): trying again in ${next} ms`,
        );
        this.replaceIn(again, next);
      });
    }, delay);
    this.restartTimers.add(timer);
  }
}

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

// ---- worker processes (worker-main.ts) ----------------------------------------------------------------

export interface ProcessWorker extends FleetWorker {
  readonly child: ChildProcess;
  send(message: ToWorker): boolean;
}

/**
 * Fork a worker-main.ts process into `fleet` (`stdioFd`: a descriptor it inherits as its fd 4). The fleet
 * takes its log lines, bus messages, stats answers and final counters (after which it must exit within
 * exitGrace); `onMessage` gets the rest ('ready', 'fatal', 'stats' too) and `onExit` its exit, after the
 * fleet has let it go.
 */
export function spawnProcess(
  fleet: WorkerFleet<ProcessWorker>,
  slot: number,
  stdioFd: number | undefined,
  onMessage: (w: ProcessWorker, m: FromWorker) => void,
  onExit: (w: ProcessWorker, code: number | null, signal: NodeJS.Signals | null) => void,
): ProcessWorker {
  const child = forkWorker(stdioFd);
  let onExited!: () => void;
  let deadline: NodeJS.Timeout | undefined;
  const w: ProcessWorker = {
    child,
    id: child.pid ?? 0,
    slot,
    startedAt: Date.now(),
    ready: false,
    retiring: false,
    final: null,
    lastKnown: null,
    exited: new Promise((resolve) => (onExited = resolve)),
    send: (message) => {
      if (!child.connected) return false;
      try {
        child.send(message);
        return true;
      } catch {
        return false; // it is gone; its 'exit' does the bookkeeping
      }
    },
    kill: () => child.kill('SIGKILL'),
  };
  const name = `${fleet.name} ${w.id}`;
  fleet.workers.add(w);
  const member = fleet.hub.joinVia(ipcBusSender(() => child, fleet.logger, name));
  child.on('message', (m: FromWorker) => {
    if (forwardLog(fleet.logger, m)) return;
    if (m.t === 'bus') member.receive(m);
    else {
      if (m.t === 'stats') fleet.answered(m.id, m.stats);
      else if (m.t === 'final') {
        fleet.finished(w, m.stats);
        deadline = exitDeadline(child, fleet.logger, name, fleet.options.exitGrace);
      }
      onMessage(w, m);
    }
  });
  // EPIPE: a worker exiting (on its own signal: Ctrl-C reaches the whole process group) closed its
  // channel before our message went out. Nothing is lost.
  child.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') fleet.logger.error(`${name}: ${error.message}`);
  });
  child.on('exit', (code, signal) => {
    clearTimeout(deadline);
    member.leave();
    fleet.left(w);
    onExited();
    onExit(w, code, signal);
  });
  return w;
}

/**
 * Kill `proc` (`name` in the log) unless it exits within `graceMs` (options.exitGrace) of reporting its
 * final counters; the caller clears the timer on its exit. Node's own exit can deadlock (the main thread
 * joins a compiler thread that waits for a GC the main thread will never run: nodejs/node#54918), and a
 * process stuck there would hold its slot, its memory and a stop or reload for ever.
 */
function exitDeadline(proc: ChildProcess, logger: Logger, name: string, graceMs: number): NodeJS.Timeout {
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

function forkWorker(stdioFd: number | undefined): ChildProcess {
  const stdio: (string | number)[] = ['ignore', 'inherit', 'inherit', 'ipc'];
  if (stdioFd !== undefined) stdio.push(stdioFd);
  return fork(WORKER_MAIN, [], {
    execArgv: [],
    // V8's compile cache (keyed by source) spares each new worker the stripping and compiling of every
    // module, which is most of a connection child's start-up (docs/performance.md).
    env: { ...process.env, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? COMPILE_CACHE },
    serialization: 'advanced',
    stdio: stdio as ('ignore' | 'inherit' | 'ipc' | number)[],
  });
}
