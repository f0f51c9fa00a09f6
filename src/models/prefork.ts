// Prefork (Apache's prefork MPM): the supervisor opens one blocking listening socket and forks `workers`
// long-lived processes that inherit it (stdio[4]). Each worker is an iterative server on that socket:
// loop { accept() (blocking); serve that one client with blocking read()/write() until it closes }. So
// exactly `workers` clients are served at a time and the rest wait in the one shared accept queue; the
// kernel wakes one blocked accept() per connection (accept() waiters are exclusive: no thundering herd).
// A crashed worker is replaced by the supervisor; the socket outlives it, so nothing queued is lost.
// The socket carries SO_RCVTIMEO (ACCEPT_TICK_MS), so a worker blocked in accept() notices a drain order
// without anyone shutting down the shared socket. node:net cannot block in accept(): no node backend.
import * as sys from '../sys/index.ts';
import { listenBlocking } from './blocking-listen.ts';
import { checkWorkerApp, Supervisor, supervisedHandle } from './supervisor.ts';
import type { ModelDefinition, ResolvedServeOptions, ServerHandle } from './types.ts';

export const ACCEPT_TICK_MS = 200;

export async function startPrefork(options: ResolvedServeOptions): Promise<ServerHandle> {
  checkWorkerApp(options, 'prefork', options.workers);
  const listenFd = listenBlocking(options);
  sys.setSocketTimeout(listenFd, 'recv', ACCEPT_TICK_MS);
  options = { ...options, port: sys.getsockname(listenFd).port };
  const sup = new Supervisor(options, { role: 'prefork', count: options.workers, listenFd });
  await sup.start();
  return supervisedHandle(sup, 'prefork', options);
}

export const prefork: ModelDefinition = {
  name: 'prefork',
  summary: 'N long-lived processes, each blocking in accept() on one shared socket, one client at a time',
  backends: {
    syscall: startPrefork,
    node: 'prefork needs worker processes blocking in accept() on one shared socket, which node:net cannot do: use --backend syscall',
  },
};
