// Process per connection: the parent owns the listening socket; every accepted connected socket is
// handed to a brand-new child process *as a descriptor* (the bytes never pass through the parent), the
// parent closes its copy, and the child (worker-main.ts, role 'connection') loads the app, serves that one
// client and exits. At most `maxChildren` children run at once. Node's child_process reaps every child
// (libuv's SIGCHLD handler calls waitpid), and 'exit' is where a slot frees: no zombie accumulates.
// - syscall: blocking accept() on a pool thread; beyond maxChildren the parent simply stops calling
//   accept(), so further clients wait in the kernel's accept queue. The child gets the socket as its fd 4
//   (stdio: ['ignore', 'inherit', 'inherit', 'ipc', fd]) and serves it with blocking read()/write().
// - node: net.Server with pauseOnConnect; child.send({t:'socket'}, socket) passes the descriptor over the
//   IPC channel (SCM_RIGHTS) and closes the parent's handle. node:net accepts eagerly and cannot leave a
//   connection in the kernel's queue, so beyond maxChildren accepted sockets wait, paused, in the parent.
// The parent is the hub of the app's bus, as a supervisor is: what one child publishes reaches the others
// (chat rooms work, each member in a process of its own).
import { createServer, type Socket } from 'node:net';
import { listen } from '../backends/node/listen.ts';
import type { ServerStats } from '../net/server-core.ts';
import * as sys from '../sys/index.ts';
import { acceptOne, listenBlocking, takeQueued } from './blocking-listen.ts';
import { checkWorkerApp } from './supervisor.ts';
import type { ModelDefinition, ResolvedServeOptions, ServerHandle, WorkerStats } from './types.ts';
import { type ProcessWorker, spawnProcess, WorkerFleet } from './worker-fleet.ts';
import { toWire } from './worker-protocol.ts';

/** The children and their counters: shared by both backends. */
class Children {
  /** The counters of children that are gone, and the parent's own refusals at accept. */
  readonly parent: ServerStats;
  readonly fleet: WorkerFleet<ProcessWorker>;
  private readonly options: ResolvedServeOptions;
  private waiters: (() => void)[] = [];

  constructor(options: ResolvedServeOptions) {
    this.options = options;
    // A child serves one client and is never replaced: the fleet's start is never called.
    this.fleet = new WorkerFleet('connection child', options, () => Promise.resolve());
    this.parent = this.fleet.retired;
  }

  get live(): Set<ProcessWorker> {
    return this.fleet.workers;
  }

  /** Fork a child for one connection; `fd` goes to its stdio[4] (syscall). */
  spawn(fd: number | undefined): ProcessWorker {
    const child = spawnProcess(
      this.fleet,
      0,
      fd,
      (c, m) => {
        if (m.t === 'fatal') this.options.logger.error(`connection child ${c.id}: ${m.message}`);
      },
      (c, code, signal) => {
        if (c.final === null && (code !== 0 || signal))
          this.options.logger.warn(`connection child ${c.id} died (${signal ?? `code ${code}`})`);
        for (const wake of this.waiters.splice(0)) wake();
      },
    );
    child.ready = true; // it can be asked for its counters at once (it sends no 'ready')
    child.send({ t: 'start', role: 'connection', options: toWire(this.options), listen: {} });
    return child;
  }

  /** Hand a child its client's socket (node). */
  sendSocket(child: ProcessWorker, socket: Socket): void {
    if (!child.child.connected) return;
    try {
      child.child.send({ t: 'socket' }, socket);
    } catch {
      // the child is gone; its 'exit' does the bookkeeping
    }
  }

  /** Resolves when a child exits (a slot is free). */
  slotFree(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stats(): Promise<ServerStats> {
    return this.fleet.stats();
  }

  /** Each live child is a worker serving its one client (one that has reported its final counters is
   * leaving: its counts are in the parent's already). */
  async workerStats(): Promise<WorkerStats[]> {
    return (await this.fleet.workerStats()).map(({ worker, stats }) => ({ pid: worker.id, stats }));
  }
}

async function startSyscall(options: ResolvedServeOptions): Promise<ServerHandle> {
  checkWorkerApp(options, 'process-per-connection', 2);
  const listenFd = listenBlocking(options);
  const port = sys.getsockname(listenFd).port;
  const children = new Children(options);
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      if (children.live.size >= options.maxChildren) {
        await children.slotFree(); // not accepting: the kernel queues further clients
        continue;
      }
      const fd = await acceptOne(listenFd, options.logger, () => stopping);
      if (fd < 0) continue;
      if (children.live.size >= options.maxConnections) {
        sys.close(fd);
        children.parent.rejected++;
        children.parent.closed['max-connections']++;
        continue;
      }
      // The parent owns fd from accept() until the child exists; spawn() dup2()s it into the child's
      // stdio[4] synchronously, so the parent's copy is closed right away: the child alone owns it.
      try {
        const child = children.spawn(fd);
        if (stopping) child.send({ t: 'drain' });
      } finally {
        sys.close(fd);
      }
    }
  })();
  return handle(options, port, children, async () => {
    stopping = true;
    const queued = takeQueued(listenFd); // completed handshakes: served under the drain, not reset
    sys.shutdown(listenFd, sys.SHUT_RD); // wakes the pool thread blocked in accept()
    await loop;
    sys.close(listenFd);
    for (const fd of queued) {
      while (children.live.size >= options.maxChildren) await children.slotFree();
      try {
        children.spawn(fd).send({ t: 'drain' });
      } finally {
        sys.close(fd);
      }
    }
  });
}

async function startNode(options: ResolvedServeOptions): Promise<ServerHandle> {
  checkWorkerApp(options, 'process-per-connection', 2);
  const children = new Children(options);
  const waiting: Socket[] = [];
  let stopping = false;
  let accepted = 0;
  const handOff = (socket: Socket) => {
    const child = children.spawn(undefined);
    // keepOpen false (the default): once sent, the parent's handle is closed; the child owns the socket.
    children.sendSocket(child, socket);
    if (stopping) child.send({ t: 'drain' });
    child.exited.then(() => {
      const next = waiting.shift();
      if (next) handOff(next);
    });
  };
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
    accepted++;
    socket.on('error', () => {}); // a waiting socket reset by its peer
    if (children.live.size + waiting.length >= options.maxConnections) {
      children.parent.rejected++;
      children.parent.closed['max-connections']++;
      socket.destroy();
    } else if (children.live.size >= options.maxChildren) waiting.push(socket);
    else handOff(socket);
  });
  const port = await listen(server, options, {});
  return handle(options, port, children, async () => {
    stopping = true;
    // libuv accepts one connection per loop turn: turn until quiet, so completed handshakes are served.
    for (let quiet = 0, seen = -1; quiet < 2; ) {
      quiet = accepted === seen ? quiet + 1 : 0;
      seen = accepted;
      await new Promise((resolve) => setImmediate(resolve));
    }
    // close() stops listening at once; its callback would wait for node's cross-process bookkeeping of
    // sockets sent to children, which our children (they exit after their one client) do not always send.
    server.close();
    while (waiting.length > 0) await children.slotFree();
  });
}

function handle(
  options: ResolvedServeOptions,
  port: number,
  children: Children,
  stopAccepting: () => Promise<void>,
): ServerHandle {
  let closing: Promise<void> | null = null;
  return {
    model: 'process-per-connection',
    backend: options.backend,
    host: options.host,
    port,
    pids: () => [process.pid, ...[...children.live].map((c) => c.id)],
    stats: () => children.stats(),
    workerStats: () => children.workerStats(),
    close: () =>
      (closing ??= (async () => {
        const stopped = stopAccepting();
        await children.fleet.drain();
        await stopped;
        await children.fleet.drain(); // any child forked as accepting stopped
        children.fleet.hub.close();
      })()),
  };
}

export const processPerConnection: ModelDefinition = {
  name: 'process-per-connection',
  summary: 'the parent accepts; each connected socket goes (as a descriptor) to a new child process',
  backends: { syscall: startSyscall, node: startNode },
};
