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
import type { ChildProcess } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { listen } from '../backends/node/listen.ts';
import { BusHub, ipcBusSender } from '../bus/bus.ts';
import { emptyStats, type ServerStats } from '../net/server-core.ts';
import * as sys from '../sys/index.ts';
import { acceptOne, listenBlocking, takeQueued } from './blocking-listen.ts';
import { StatsAsker } from './stats-asker.ts';
import { checkWorkerApp, exitDeadline, forkWorker, forwardLog } from './supervisor.ts';
import type { ModelDefinition, ResolvedServeOptions, ServerHandle, WorkerStats } from './types.ts';
import { addStats, type FromWorker, type ToWorker, toWire } from './worker-protocol.ts';

interface Child {
  proc: ChildProcess;
  final: ServerStats | null;
  exited: Promise<void>;
  /** Set once the child has reported its final counters: it must be gone soon after. */
  exitDeadline?: NodeJS.Timeout;
}

/** The children and their counters: shared by both backends. */
class Children {
  readonly live = new Set<Child>();
  readonly parent = emptyStats(); // refusals at accept, and the counters of children that are gone
  private readonly options: ResolvedServeOptions;
  private waiters: (() => void)[] = [];
  private readonly asker = new StatsAsker<Child>();
  /** The app's bus between the children (each client's process), as a supervisor relays it between
   * workers; with --bus, to other servers too. */
  readonly hub: BusHub;

  constructor(options: ResolvedServeOptions) {
    this.options = options;
    this.hub = new BusHub({ url: options.bus, logger: options.logger });
  }

  /** Fork a child for one connection; `fd` goes to its stdio[4] (syscall). */
  spawn(fd: number | undefined): Child {
    const proc = forkWorker(fd);
    let onExit!: () => void;
    const child: Child = { proc, final: null, exited: new Promise((r) => (onExit = r)) };
    this.live.add(child);
    const member = this.hub.joinVia(
      ipcBusSender(() => proc, this.options.logger, `connection child ${proc.pid}`),
    );
    proc.on('message', (m: FromWorker) => {
      if (forwardLog(this.options.logger, m)) return;
      if (m.t === 'bus') {
        member.receive(m);
        return;
      }
      if (m.t === 'final') {
        child.final = m.stats;
        addStats(this.parent, m.stats);
        child.exitDeadline = exitDeadline(
          proc,
          this.options.logger,
          `connection child ${proc.pid}`,
          this.options.exitGrace,
        );
      } else if (m.t === 'stats') this.asker.answered(m.id, m.stats);
      else if (m.t === 'fatal') this.options.logger.error(`connection child ${proc.pid}: ${m.message}`);
    });
    proc.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') this.options.logger.error(`connection child: ${error.message}`); // EPIPE: it just exited
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(child.exitDeadline);
      this.live.delete(child);
      member.leave();
      if (child.final === null && (code !== 0 || signal))
        this.options.logger.warn(`connection child ${proc.pid} died (${signal ?? `code ${code}`})`);
      onExit();
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.send(child, { t: 'start', role: 'connection', options: toWire(this.options), listen: {} });
    return child;
  }

  send(child: Child, message: ToWorker | { t: 'socket' }, handle?: Socket): void {
    if (!child.proc.connected) return;
    try {
      if (handle) child.proc.send(message, handle);
      else child.proc.send(message);
    } catch {
      // the child is gone; its 'exit' does the bookkeeping
    }
  }

  /** Resolves when a child exits (a slot is free). */
  slotFree(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async stats(): Promise<ServerStats> {
    const live = [...this.live];
    const answers = await Promise.all(live.map((c) => this.ask(c)));
    const total = structuredClone(this.parent);
    live.forEach((c, i) => {
      const s = answers[i];
      if (c.final === null && s) addStats(total, s);
    });
    return total;
  }

  /** Each live child is a worker serving its one client (one that has reported its final counters is
   * leaving: its counts are in the parent's already). */
  async workerStats(): Promise<WorkerStats[]> {
    const live = [...this.live].filter((c) => c.final === null);
    const answers = await Promise.all(live.map((c) => this.ask(c)));
    return live.flatMap((c, i) => {
      const stats = answers[i];
      return stats && c.final === null ? [{ pid: c.proc.pid ?? 0, stats }] : [];
    });
  }

  private ask(child: Child): Promise<ServerStats | null> {
    return this.asker.ask(
      child,
      (m) => {
        if (!child.proc.connected) return false;
        this.send(child, m);
        return true;
      },
      child.exited,
    );
  }

  /** Tell every child to drain and wait for all of them; kill those still there past the drain timeout. */
  async drain(): Promise<void> {
    for (const c of this.live) this.send(c, { t: 'drain' });
    const all = Promise.all([...this.live].map((c) => c.exited));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.options.drainTimeout + this.options.exitGrace);
    });
    const outcome = await Promise.race([all, late]);
    clearTimeout(timer);
    if (outcome !== 'late') return;
    for (const c of this.live) {
      this.options.logger.warn(`connection child ${c.proc.pid} still there after the drain timeout: killed`);
      c.proc.kill('SIGKILL');
    }
    await all;
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
        if (stopping) children.send(child, { t: 'drain' });
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
        children.send(children.spawn(fd), { t: 'drain' });
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
    children.send(child, { t: 'socket' }, socket);
    if (stopping) children.send(child, { t: 'drain' });
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
    pids: () => [process.pid, ...[...children.live].map((c) => c.proc.pid ?? 0)],
    stats: () => children.stats(),
    workerStats: () => children.workerStats(),
    close: () =>
      (closing ??= (async () => {
        const stopped = stopAccepting();
        await children.drain();
        await stopped;
        await children.drain(); // any child forked as accepting stopped
        children.hub.close();
      })()),
  };
}

export const processPerConnection: ModelDefinition = {
  name: 'process-per-connection',
  summary: 'the parent accepts; each connected socket goes (as a descriptor) to a new child process',
  backends: { syscall: startSyscall, node: startNode },
};
