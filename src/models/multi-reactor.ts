// Multi-reactor: one reactor per core, each in its own process (`workers`, default: the number of cores),
// all serving one port. This is the C10K answer: no per-client process or thread, and every core busy.
// Two ways to share the port (options.balance):
// - 'reuseport': every worker opens its own listening socket with SO_REUSEPORT. The kernel hashes each
//   new connection's 4-tuple onto one socket of the group, so each worker has its own accept queue and
//   only that worker is woken: no thundering herd, and connections spread evenly by count (but blindly:
//   a busy or stalled worker still gets its share, and its queue is not rebalanced). When a worker closes
//   its socket, connections still in *its* queue are reset unless net.ipv4.tcp_migrate_req=1, so a
//   reload drains each old worker's queue (the reactor accepts what waits before closing) with a small
//   window left.
// - 'shared': the supervisor opens one listening socket and every worker inherits it (as nginx does).
//   One accept queue: a worker that is busy simply accepts less, and a restart or reload loses nothing
//   (the socket outlives every worker). But every worker's epoll watches the same socket, so one new
//   connection may wake several of them (thundering herd; most find EAGAIN), and the spread is uneven:
//   whoever is idle and wakes first wins, so the least loaded worker tends to take more.
// Both backends: node (libuv's reactor, listen({ reusePort }) / listen({ fd })) and syscall (the epoll
// reactor of src/backends/syscall).

import * as sys from '../sys/index.ts';
import { listenSocket } from './blocking-listen.ts';
import { checkWorkerApp, Supervisor, supervisedHandle } from './supervisor.ts';
import type { ModelDefinition, ResolvedServeOptions, ServerHandle } from './types.ts';

export async function startMultiReactor(options: ResolvedServeOptions): Promise<ServerHandle> {
  checkWorkerApp(options, 'multi-reactor', options.workers);
  let listenFd: number | undefined;
  if (options.balance === 'shared') {
    listenFd = listenSocket(options, true);
    options = { ...options, port: sys.getsockname(listenFd).port };
  }
  const sup = new Supervisor(options, {
    role: 'reactor',
    count: options.workers,
    listenFd,
    reusePort: options.balance === 'reuseport',
  });
  await sup.start();
  return supervisedHandle(sup, 'multi-reactor', options);
}

export const multiReactor: ModelDefinition = {
  name: 'multi-reactor',
  summary: 'one reactor per core in worker processes sharing the port (SO_REUSEPORT or one inherited socket)',
  backends: { syscall: startMultiReactor, node: startMultiReactor },
};
