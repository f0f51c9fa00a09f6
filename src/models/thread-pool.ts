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
import { BusHub } from '../bus/bus.ts';
import { busAcknowledger, threadBusSender } from '../bus/thread-bus.ts';
import { siblingModule } from '../module-path.ts';
import { emptyStats, type ServerStats } from '../net/server-core.ts';
import * as sys from '../sys/index.ts';
import { acceptOne, listenBlocking, takeQueued } from './blocking-listen.ts';
import { StatsAsker } from './stats-asker.ts';
import { checkWorkerApp, forwardLog, RestartBackoff } from './supervisor.ts';
import type { FromThread, ToThread } from './thread-worker.ts';
import { type ModelDefinition, type ResolvedServeOptions, ServeError, type ServerHandle } from './types.ts';
import { addStats, type FromWorker, toWire } from './worker-protocol.ts';

const THREAD_MAIN = siblingModule('./thread-worker.ts', import.meta.url);

interface Thread {
  worker: Worker;
  /** worker.threadId, kept (it reads -1 once the thread has exited). */
  id: number;
  /** The descriptor this thread serves (it owns it), or -1 while it is idle. */
  fd: number;
  startedAt: number;
  exited: boolean;
  /** Its counters as of its last finished client. */
  lastKnown: ServerStats;
  final: ServerStats | null;
  finished: Promise<void>;
}

export async function startThreadPool(options: ResolvedServeOptions): Promise<ServerHandle> {
  checkWorkerApp(options, 'thread-pool', options.workers);
  const listenFd = listenBlocking(options);
  const port = sys.getsockname(listenFd).port;
  const capacity = options.workers;
  const queue: number[] = [];
  const parent = emptyStats(); // refusals at accept
  const asker = new StatsAsker<Thread>();
  let wakeAcceptor: (() => void) | null = null;
  let stopping = false;
  let wakeClose: (() => void) | null = null;
  const idle = () => {
    if (wakeClose && queue.length === 0 && threads.every((t) => t.fd < 0 || t.exited)) wakeClose();
  };

  const post = (t: Thread, m: ToThread) => t.worker.postMessage(m);
  const dispatch = () => {
    for (const t of threads) {
      if (queue.length === 0) break;
      if (t.fd >= 0 || t.final || t.exited) continue;
      t.fd = queue.shift()!;
      post(t, { t: 'serve', fd: t.fd }); // ownership passes to the thread
    }
    if (queue.length < capacity && wakeAcceptor) {
      const wake = wakeAcceptor;
      wakeAcceptor = null;
      wake();
    }
  };

  const threads: Thread[] = [];
  /** Counters of threads that died, as last known (their client that was cut counted as an error). */
  const retired = emptyStats();
  let running = false;
  const backoff = new RestartBackoff(options.restartDelay, options.restartDelayMax);
  /** The app's bus between the threads (and, with --bus, other servers): this thread relays. */
  const hub = new BusHub({ url: options.bus, logger: options.logger });
  /** Start a thread in `slot`; resolves when it is ready to serve. */
  const startThread = (slot: number): Promise<void> => {
    const worker = new Worker(THREAD_MAIN, { workerData: { options: { ...toWire(options), port } } });
    let onFinished!: () => void;
    const finished = new Promise<void>((r) => (onFinished = r));
    const t: Thread = {
      worker,
      id: worker.threadId,
      fd: -1,
      startedAt: Date.now(),
      exited: false,
      lastKnown: emptyStats(),
      final: null,
      finished,
    };
    threads[slot] = t;
    return new Promise<void>((resolve, reject) => {
      const sender = threadBusSender((m) => worker.postMessage(m), options.logger, `thread ${t.id}`);
      const member = hub.joinVia(sender.send);
      const acknowledge = busAcknowledger((ack) => worker.postMessage(ack));
      worker.on('message', (m: FromThread) => {
        if (forwardLog(options.logger, m as FromWorker)) return;
        if (m.t === 'bus') {
          member.receive(m);
          acknowledge(m);
        } else if (m.t === 'bus-ack') sender.ack(m.bytes);
        else if (m.t === 'ready') resolve();
        else if (m.t === 'done') {
          t.lastKnown = m.stats;
          t.fd = -1;
          dispatch();
          idle();
        } else if (m.t === 'fatal') reject(new ServeError(m.message));
        else if (m.t === 'stats') asker.answered(m.id, m.stats);
        else if (m.t === 'final') {
          t.final = m.stats;
          onFinished();
        }
      });
      worker.on('error', (error) => {
        options.logger.error(`thread ${t.id} failed: ${error.message}`);
        reject(new ServeError(error.message));
      });
      worker.on('exit', (code) => {
        t.exited = true;
        member.leave();
        onFinished();
        if (!running || t.final !== null || stopping || threads[slot] !== t) return;
        replace(slot, t, code);
      });
    });
  };
  /**
   * A thread died while serving (an app that exits, or throws outside any handler): its client's
   * descriptor, which only it would have closed, is closed here, counted as an error, and a new
   * thread takes its place, so the pool keeps its size.
   */
  const replace = (slot: number, dead: Thread, code: number) => {
    addStats(retired, { ...dead.lastKnown, active: 0 });
    if (dead.fd >= 0) {
      sys.close(dead.fd);
      retired.accepted++; // registered by the dead thread after its last report
      retired.closed.error++;
      dead.fd = -1;
    }
    const delay = backoff.next(dead.startedAt);
    options.logger.warn(`thread ${dead.id} died (code ${code}): replacing it in ${delay} ms`);
    setTimeout(() => {
      if (stopping) return;
      startThread(slot).then(
        () => {
          dispatch();
          idle();
        },
        (error) => options.logger.error(`replacement thread failed: ${(error as Error).message}`),
      );
    }, delay).unref();
  };
  try {
    await Promise.all(Array.from({ length: options.workers }, (_, slot) => startThread(slot)));
    running = true;
  } catch (error) {
    await Promise.all(threads.map((t) => t.worker.terminate()));
    sys.close(listenFd);
    throw error;
  }

  const acceptor = (async () => {
    while (!stopping) {
      if (queue.length >= capacity) {
        await new Promise<void>((resolve) => (wakeAcceptor = resolve)); // full: leave clients in the kernel
        continue;
      }
      const fd = await acceptOne(listenFd, options.logger, () => stopping);
      if (fd < 0) continue;
      const held = threads.filter((t) => t.fd >= 0).length + queue.length;
      if (held >= options.maxConnections) {
        sys.close(fd);
        parent.rejected++;
        parent.closed['max-connections']++;
        continue;
      }
      queue.push(fd);
      dispatch();
    }
  })();

  /** Each thread's counters (its last reported ones if it does not answer in time). */
  const threadStats = (): Promise<ServerStats[]> =>
    Promise.all(
      threads.map((t) => {
        if (t.final || t.exited) return t.final ?? t.lastKnown;
        const asked = asker.ask(t, (m) => {
          post(t, m);
          return true;
        });
        return asked.then((s) => s ?? t.lastKnown);
      }),
    );
  const stats = async (): Promise<ServerStats> =>
    (await threadStats()).reduce(
      (total, s) => addStats(total, s),
      addStats(structuredClone(parent), retired),
    );

  let closing: Promise<void> | null = null;
  return {
    model: 'thread-pool',
    backend: 'syscall',
    host: options.host,
    port,
    pids: () => [process.pid],
    stats,
    // Each thread holds its own TLS context: it takes the re-read certificate for its next clients.
    reloadTls: (tls) => {
      for (const t of threads) if (!t.exited) t.worker.postMessage({ t: 'tls-reload', tls });
    },
    workerStats: async () => {
      const answers = await threadStats();
      return threads.map((t, i) => ({ pid: process.pid, thread: t.id, stats: answers[i] }));
    },
    close: () =>
      (closing ??= (async () => {
        // Stop accepting, but serve (within the drain timeout) what the kernel has already queued.
        stopping = true;
        for (const t of threads) post(t, { t: 'drain' });
        queue.push(...takeQueued(listenFd));
        sys.shutdown(listenFd, sys.SHUT_RD); // wakes the pool thread blocked in accept()
        wakeAcceptor?.();
        await acceptor;
        dispatch();
        const allIdle = new Promise<void>((resolve) => (wakeClose = resolve));
        idle();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          allIdle,
          new Promise((r) => (timer = setTimeout(r, options.drainTimeout + options.exitGrace))),
        ]);
        clearTimeout(timer);
        for (const fd of queue.splice(0)) {
          sys.close(fd); // never reached a thread in time: the acceptor still owns it
          parent.closed.shutdown++;
        }
        for (const t of threads) post(t, { t: 'finish' });
        await Promise.all(threads.map((t) => t.finished));
        await Promise.all(threads.map((t) => t.worker.terminate()));
        hub.close();
        sys.close(listenFd);
      })()),
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
