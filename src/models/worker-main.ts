// The entry of every worker process (prefork workers, multi-reactor workers, process-per-connection
// children). It waits for its 'start' message, rebuilds the serve options (the app is loaded here, from
// its module spec, exactly as `serve` loads it; the logger forwards to the parent), serves, answers
// stats requests, and on 'drain' (or when the parent disappears) stops gracefully, sends its final
// counters and exits. An app that fails to load is reported as 'fatal' with the module's message.
// The app's setup(ctx) runs before serving, its bus reaching the other workers (or connection children)
// through the parent, which relays; its teardown runs after the last connection closed.
import type { Socket } from 'node:net';
import { loadApp } from '../apps/index.ts';
import { BlockingConnection } from '../backends/blocking/connection.ts';
import { NodeConnection } from '../backends/node/connection.ts';
import type { AppRuntime } from '../bus/runtime.ts';
import { startAppRuntime } from '../bus/runtime.ts';
import { coreOptions, ServerCore, type ServerStats } from '../net/server-core.ts';
import * as sys from '../sys/index.ts';
import { applyHeapPolicy } from './heap-policy.ts';
import { acceptLoop } from './iterative.ts';
import type { ListenSpec, ResolvedServeOptions } from './types.ts';
import { type FromWorker, ipcLogger, type ToWorker, type WireOptions } from './worker-protocol.ts';

interface Running {
  stats(): Promise<ServerStats>;
  /** Stop accepting, drain, resolve when every connection is gone. */
  close(): Promise<void>;
  /** Resolves when the worker's work is done by itself (a connection child after its one client). */
  finished?: Promise<void>;
}

const send = (message: FromWorker): void => {
  if (process.connected) process.send!(message);
};

let running: Running | null = null;
let runtime: AppRuntime | null = null;
let handSocket: (socket: Socket) => void;
/** process-per-connection on node: the socket the parent sends (it may arrive before the app has loaded). */
const handedSocket = new Promise<Socket>((resolve) => (handSocket = resolve));
let stopping = false;
let drainRequested = false;

async function start(role: string, wire: WireOptions, listen: ListenSpec): Promise<void> {
  const logger = ipcLogger(send);
  let app: ResolvedServeOptions['app'];
  try {
    app = await loadApp(wire.appSpec);
  } catch (error) {
    fatal((error as Error).message);
    return;
  }
  const options: ResolvedServeOptions = { ...wire, app, logger };
  try {
    runtime = await startAppRuntime(app, { logger, where: 'worker' });
    // an event-loop worker is a process of c10k's own: a proactor's applies the policy unless turned off
    if (role === 'reactor' || role === 'proactor')
      applyHeapPolicy(options.smallYoungGeneration ?? role === 'proactor');
    if (role === 'reactor') running = await startReactor(options, listen);
    else if (role === 'proactor') {
      const { startProactor } = await import('./proactor.ts');
      running = await startProactor(options, listen);
    } else if (role === 'prefork') running = startPrefork(options, listen.fd!);
    else running = startConnectionChild(options);
  } catch (error) {
    fatal((error as Error).message);
    return;
  }
  if (role !== 'connection') {
    const port = role === 'prefork' ? sys.getsockname(listen.fd!).port : (running as { port?: number }).port;
    send({ t: 'ready', port: port ?? wire.port });
  }
  running.finished?.then(() => stop());
  if (drainRequested) void stop();
}

async function startReactor(options: ResolvedServeOptions, listen: ListenSpec): Promise<Running> {
  const { startNodeReactor, startSyscallReactor } = await import('./reactor.ts');
  return options.backend === 'node'
    ? startNodeReactor(options, listen)
    : startSyscallReactor(options, listen);
}

/** Apache's prefork worker: loop { accept() on the inherited socket; serve that client to the end }. */
function startPrefork(options: ResolvedServeOptions, listenFd: number): Running & { port: number } {
  const core = newCore(options);
  const loop = acceptLoop(core, listenFd);
  return {
    port: options.port,
    stats: async () => structuredClone(core.stats),
    close: async () => {
      loop.stop(); // accept() wakes within the socket's SO_RCVTIMEO and is not called again
      await core.drain(options.drainTimeout);
      await loop.done;
      sys.close(listenFd);
    },
  };
}

/** A process-per-connection child: serve the one connection it was handed, then exit. */
function startConnectionChild(options: ResolvedServeOptions): Running {
  const core = newCore(options);
  let finished: Promise<void>;
  let registered: Promise<unknown> = Promise.resolve();
  if (options.backend === 'syscall') {
    // The connected socket is our fd 4 (the parent put it in our stdio and closed its copy).
    finished = new BlockingConnection(core, 4, 'pool').serve();
  } else {
    registered = handedSocket;
    // node: the socket arrives over IPC (SCM_RIGHTS), already accepted and paused by the parent.
    finished = handedSocket.then(
      (socket) =>
        new Promise<void>((resolve) => {
          socket.on('close', () => setImmediate(resolve));
          new NodeConnection(core, socket).start();
          socket.resume();
        }),
    );
  }
  return {
    finished,
    stats: async () => structuredClone(core.stats),
    close: async () => {
      await registered;
      await new Promise((resolve) => setImmediate(resolve));
      await core.drain(options.drainTimeout);
      await finished;
    },
  };
}

function newCore(options: ResolvedServeOptions): ServerCore {
  const core = new ServerCore(coreOptions(options));
  core.start();
  return core;
}

async function stop(): Promise<void> {
  if (!running && process.connected) {
    drainRequested = true; // still loading the app: stop once started
    return;
  }
  if (stopping) return;
  stopping = true;
  if (running) {
    await running.close();
    await runtime?.close();
    const stats = await running.stats();
    if (process.connected) {
      process.send!({ t: 'final', stats } satisfies FromWorker, () => process.exit(0));
      return;
    }
  }
  process.exit(0);
}

function fatal(message: string): void {
  if (process.connected) process.send!({ t: 'fatal', message } satisfies FromWorker, () => process.exit(1));
  else process.exit(1);
}

process.on('message', (m: ToWorker | { t: 'socket' }, handle?: unknown) => {
  if (m.t === 'socket') handSocket(handle as Socket);
  else if (m.t === 'bus') runtime?.bus?.receive(m);
  else if (m.t === 'start') void start(m.role, m.options, m.listen);
  else if (m.t === 'stats') {
    if (running) void running.stats().then((stats) => send({ t: 'stats', id: m.id, stats }));
  } else if (m.t === 'drain') void stop();
});
// The parent is gone (crashed or killed): finish what we hold and leave.
process.on('disconnect', () => void stop());
// Signals are the parent's business (it drains us over IPC); a terminal's Ctrl-C reaches the whole group.
// SIGTERM may come to the whole group too (a service manager stopping it, `timeout`): drain as if told
// to, rather than die with our clients' connections; the parent's own 'drain' then finds us stopping.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
process.on('SIGTERM', () => void stop());
// The app threw outside any handler (a timer, an unhandled rejection): this process cannot be trusted any
// more and exits 1, as Node would, after telling the parent's log why (the parent replaces a worker; a
// connection child takes only its own client with it).
const crash = (error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error ? error.stack : undefined;
  if (!process.connected) {
    process.stderr.write(`${stack ?? message}\n`);
    process.exit(1);
  }
  process.send!(
    {
      t: 'log',
      level: 'error',
      message: `uncaught exception in pid ${process.pid}: ${message}`,
      fields: { stack },
    },
    () => process.exit(1),
  );
  setTimeout(() => process.exit(1), 1000).unref();
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);
