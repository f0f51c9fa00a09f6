// Multi-reactor: one reactor per core, each in its own process (`workers`, default: the number of cores),
// all serving one port. This is the C10K answer: no per-client process or thread, and every core busy.
// Two ways to share the port (options.balance):
// - 'reuseport': one listening socket per worker with SO_REUSEPORT. The kernel hashes each new
//   connection's 4-tuple onto one socket of the group, so each worker has its own accept queue and only
//   that worker is woken: no thundering herd, and connections spread evenly by count (but blindly: a
//   busy, stalled or fd-capped worker still gets its share, and its queue is not rebalanced). A socket
//   that leaves the group resets the connections in its queue (unless net.ipv4.tcp_migrate_req=1), so
//   the supervisor opens the sockets and holds them for the server's lifetime, one per worker slot: a
//   worker's replacement (reload or crash) inherits the same socket and nothing queued is lost (a crashed
//   worker's queue waits for its replacement, ~the restart backoff). Without the syscall bindings (not
//   Linux) each worker opens its own socket and a reload keeps that small window.
// - 'shared': the supervisor opens one listening socket and every worker inherits it (as nginx does).
//   One accept queue: a worker that is busy simply accepts less, and a restart or reload loses nothing
//   (the socket outlives every worker). But every worker's epoll watches the same socket, so one new
//   connection may wake several of them (thundering herd; most find EAGAIN), and the spread is uneven:
//   whoever is idle and wakes first wins, so the least loaded worker tends to take more.
// Both backends: node (libuv's reactor, listen({ reusePort }) / listen({ fd })) and syscall (the epoll
// reactor of src/backends/syscall).

import * as sys from '../sys/index.ts';
import { listenSocket } from './blocking-listen.ts';
import { probePortFree } from './probe-port.ts';
import { checkWorkerApp, Supervisor, supervisedHandle } from './supervisor.ts';
import {
  type ModelDefinition,
  type ResolvedServeOptions,
  ServeOptionError,
  type ServerHandle,
} from './types.ts';

export function startMultiReactor(options: ResolvedServeOptions): Promise<ServerHandle> {
  return startEventLoopWorkers(options, 'multi-reactor', 'reactor');
}

/** `workers` processes, each one event loop (a reactor, or a proactor: multi-proactor.ts), on one port. */
export async function startEventLoopWorkers(
  options: ResolvedServeOptions,
  model: string,
  role: 'reactor' | 'proactor',
): Promise<ServerHandle> {
  checkWorkerApp(options, model, options.workers);
  if (options.maxConnections < options.workers) {
    throw new ServeOptionError(
      `--max-connections ${options.maxConnections} is below --workers ${options.workers}: it is split among the workers`,
    );
  }
  let listenFd: number | undefined;
  let slotFds: number[] | undefined;
  // a reuseport group would let a second server join silently: a plain listen probes the port first
  if (options.balance === 'reuseport') options = { ...options, port: await probePortFree(options) };
  if (options.balance === 'shared') {
    listenFd = listenSocket(options, true);
    options = { ...options, port: sys.getsockname(listenFd).port };
  } else if (sys.syscallBackendAvailable()) {
    slotFds = [];
    try {
      for (let i = 0; i < options.workers; i++) slotFds.push(listenSocket(options, true, true));
    } catch (error) {
      for (const fd of slotFds) sys.close(fd);
      throw error;
    }
  }
  const sup = new Supervisor(options, {
    role,
    count: options.workers,
    listenFd,
    slotFds,
    reusePort: options.balance === 'reuseport',
  });
  await sup.start();
  return supervisedHandle(sup, model, options);
}

export const multiReactor: ModelDefinition = {
  name: 'multi-reactor',
  summary: 'one reactor per core in worker processes sharing the port (SO_REUSEPORT or one inherited socket)',
  backends: { syscall: startMultiReactor, node: startMultiReactor },
};
