// Thread pool: one acceptor (this thread) and `workers` worker_threads. The acceptor blocks in accept()
// (on a libuv pool thread, so this event loop stays free) and puts each connected descriptor in a
// BOUNDED queue (capacity = workers); an idle thread takes it and serves that client with blocking
// read()/write() on its own thread (thread-worker.ts). When the queue is full the acceptor stops calling
// accept(), so further clients wait in the kernel's accept queue: exactly `workers` clients are served
// at a time. Descriptor ownership: the acceptor owns an fd from accept() until it posts it to a thread
// (fds are process-wide, so the number is all that moves); from then on the thread owns it and closes it
// when the client is done. Descriptors still queued when the server closes are closed by the acceptor.
// node:net sockets cannot move to another thread: no node backend.
import { Worker } from 'node:worker_threads';
import { busAcknowledger, threadBusSender } from '../bus/thread-bus.ts';
import { siblingModule } from '../module-path.ts';
import { emptyStats, type ServerStats } from '../net/server-core.ts';
import type { ResolvedTls } from '../net/tls/config.ts';
import * as sys from '../sys/index.ts';
import { acceptOne, listenBlocking, takeQueued } from './blocking-listen.ts';
import { checkWorkerApp } from './supervisor.ts';
import type { FromThread, ToThread } from './thread-worker.ts';
import {
  type ModelDefinition,
  type ResolvedServeOptions,
  ServeError,
  type ServerHandle,
  type WorkerStats,
} from './types.ts';
import { type FleetWorker, forwardLog, WorkerFleet } from './worker-fleet.ts';
import { addStats, type FromWorker, toWire } from './worker-protocol.ts';

const THREAD_MAIN = siblingModule('./thread-worker.ts', import.meta.url);

interface Thread extends FleetWorker {
  worker: Worker;
  /** The descriptor this thread serves (it owns it), or -1 while it is idle. */
  fd: number;
  /** Its final counters arrived, or it exited. */
  finished: Promise<void>;
  send(message: ToThread): boolean;
}

class ThreadPool {
  readonly port: number;
  private readonly options: ResolvedServeOptions;
  private readonly listenFd: number;
  /** Connected descriptors waiting for an idle thread, at most `workers` of them. */
  private readonly queue: number[] = [];
  /** Refusals at accept, and the clients of threads that died or of the queue at close. */
  readonly parent = emptyStats();
  readonly fleet: WorkerFleet<Thread>;
  private wakeAcceptor: (() => void) | null = null;
  private wakeClose: (() => void) | null = null;
  private stopping = false;
  private acceptor: Promise<void> = Promise.resolve();

  constructor(options: ResolvedServeOptions, listenFd: number) {
    this.options = options;
    this.listenFd = listenFd;
    this.port = sys.getsockname(listenFd).port;
    this.fleet = new WorkerFleet('thread', options, (slot) =>
      this.startThread(slot).then(() => {
        this.dispatch();
        this.idle();
      }),
    );
  }

  async start(): Promise<void> {
    try {
      await Promise.all(Array.from({ length: this.options.workers }, (_, slot) => this.startThread(slot)));
    } catch (error) {
      this.fleet.stop();
      await Promise.all([...this.fleet.workers].map((t) => t.worker.terminate()));
      sys.close(this.listenFd);
      throw error;
    }
    this.acceptor = this.acceptLoop();
  }

  /** Start a thread in `slot`; resolves when it is ready to serve. */
  private startThread(slot: number): Promise<void> {
    const { options, fleet } = this;
    const worker = new Worker(THREAD_MAIN, {
      workerData: { options: { ...toWire(options), port: this.port } },
    });
    let onFinished!: () => void;
    const t: Thread = {
      worker,
      id: worker.threadId, // kept: it reads -1 once the thread has exited
      slot,
      startedAt: Date.now(),
      ready: false,
      retiring: false,
      final: null,
      lastKnown: emptyStats(),
      fd: -1,
      exited: new Promise((resolve) => worker.once('exit', () => resolve())),
      finished: new Promise((resolve) => (onFinished = resolve)),
      send: (m) => {
        worker.postMessage(m);
        return true;
      },
      kill: () => void worker.terminate(),
    };
    fleet.workers.add(t);
    return new Promise<void>((resolve, reject) => {
      const sender = threadBusSender((m) => worker.postMessage(m), options.logger, `thread ${t.id}`);
      const member = fleet.hub.joinVia(sender.send);
      const acknowledge = busAcknowledger((ack) => worker.postMessage(ack));
      worker.on('message', (m: FromThread) => {
        if (forwardLog(options.logger, m as FromWorker)) return;
        if (m.t === 'bus') {
          member.receive(m);
          acknowledge(m);
        } else if (m.t === 'bus-ack') sender.ack(m.bytes);
        else if (m.t === 'ready') {
          t.ready = true;
          resolve();
        } else if (m.t === 'done') {
          t.lastKnown = m.stats; // its counters as of its last finished client
          t.fd = -1;
          this.dispatch();
          this.idle();
        } else if (m.t === 'fatal') reject(new ServeError(m.message));
        else if (m.t === 'stats') fleet.answered(m.id, m.stats);
        else if (m.t === 'final') {
          fleet.finished(t, m.stats);
          onFinished();
        }
      });
      worker.on('error', (error) => {
        options.logger.error(`thread ${t.id} failed: ${error.message}`);
        reject(new ServeError(error.message));
      });
      worker.on('exit', (code) => {
        member.leave();
        fleet.left(t);
        onFinished();
        if (!t.ready) reject(new ServeError(`thread ${t.id} exited while starting (code ${code})`));
        else if (t.final === null && !this.stopping) this.died(t, code);
      });
    });
  }

  /**
   * A thread died while serving (an app that exits, or throws outside any handler): its client's
   * descriptor, which only it would have closed, is closed here, counted as an error, and a new
   * thread takes its place, so the pool keeps its size.
   */
  private died(dead: Thread, code: number): void {
    if (dead.fd >= 0) {
      sys.close(dead.fd);
      this.parent.accepted++; // registered by the dead thread after its last report
      this.parent.closed.error++;
      dead.fd = -1;
    }
    this.fleet.replace(dead, `code ${code}`);
  }

  /** Hand queued descriptors to idle threads; wake the acceptor when the queue has room. */
  private dispatch(): void {
    for (const t of this.fleet.workers) {
      if (this.queue.length === 0) break;
      if (t.fd >= 0 || t.final || !t.ready) continue;
      t.fd = this.queue.shift()!;
      t.send({ t: 'serve', fd: t.fd }); // ownership passes to the thread
    }
    if (this.queue.length < this.options.workers && this.wakeAcceptor) {
      const wake = this.wakeAcceptor;
      this.wakeAcceptor = null;
      wake();
    }
  }

  /** Closing: resolve the wait once nothing is queued and no thread serves a client. */
  private idle(): void {
    if (this.wakeClose && this.queue.length === 0 && [...this.fleet.workers].every((t) => t.fd < 0)) {
      this.wakeClose();
    }
  }

  private async acceptLoop(): Promise<void> {
    const { options, queue } = this;
    while (!this.stopping) {
      if (queue.length >= options.workers) {
        await new Promise<void>((resolve) => (this.wakeAcceptor = resolve)); // full: leave clients in the kernel
        continue;
      }
      const fd = await acceptOne(this.listenFd, options.logger, () => this.stopping);
      if (fd < 0) continue;
      const held = [...this.fleet.workers].filter((t) => t.fd >= 0).length + queue.length;
      if (held >= options.maxConnections) {
        sys.close(fd);
        this.parent.rejected++;
        this.parent.closed['max-connections']++;
        continue;
      }
      queue.push(fd);
      this.dispatch();
    }
  }

  async stats(): Promise<ServerStats> {
    return addStats(await this.fleet.stats(), this.parent);
  }

  async workerStats(): Promise<WorkerStats[]> {
    const answers = await this.fleet.workerStats();
    return answers.map(({ worker, stats }) => ({ pid: process.pid, thread: worker.id, stats }));
  }

  /** Each thread holds its own TLS context: it takes the re-read certificate for its next clients. */
  reloadTls(tls: ResolvedTls): void {
    for (const t of this.fleet.workers) t.worker.postMessage({ t: 'tls-reload', tls });
  }

  async close(): Promise<void> {
    const { fleet, queue, listenFd } = this;
    // Stop accepting, but serve (within the drain timeout) what the kernel has already queued.
    this.stopping = true;
    fleet.stop();
    for (const t of fleet.workers) t.send({ t: 'drain' });
    queue.push(...takeQueued(listenFd));
    sys.shutdown(listenFd, sys.SHUT_RD); // wakes the pool thread blocked in accept()
    this.wakeAcceptor?.();
    await this.acceptor;
    this.dispatch();
    const allIdle = new Promise<void>((resolve) => (this.wakeClose = resolve));
    this.idle();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      allIdle,
      new Promise((r) => (timer = setTimeout(r, this.options.drainTimeout + this.options.exitGrace))),
    ]);
    clearTimeout(timer);
    for (const fd of queue.splice(0)) {
      sys.close(fd); // never reached a thread in time: the acceptor still owns it
      this.parent.closed.shutdown++;
    }
    const threads = [...fleet.workers];
    for (const t of threads) t.send({ t: 'finish' });
    await Promise.all(threads.map((t) => t.finished));
    await Promise.all(threads.map((t) => t.worker.terminate()));
    fleet.hub.close();
    sys.close(listenFd);
  }
}

export async function startThreadPool(options: ResolvedServeOptions): Promise<ServerHandle> {
  checkWorkerApp(options, 'thread-pool', options.workers);
  const pool = new ThreadPool(options, listenBlocking(options));
  await pool.start();
  let closing: Promise<void> | null = null;
  return {
    model: 'thread-pool',
    backend: 'syscall',
    host: options.host,
    port: pool.port,
    pids: () => [process.pid],
    stats: () => pool.stats(),
    reloadTls: (tls) => pool.reloadTls(tls),
    workerStats: () => pool.workerStats(),
    close: () => (closing ??= pool.close()),
  };
}

export const threadPool: ModelDefinition = {
  name: 'thread-pool',
  summary:
    'an acceptor hands connected sockets through a bounded queue to N threads serving with blocking calls',
  backends: {
    syscall: startThreadPool,
    node: 'thread-pool needs connected descriptors handed to worker threads, which node:net sockets cannot do: use --backend syscall',
  },
};
