// The iterative server: accept one connection, serve it to the end with blocking calls, accept the next.
// Everyone else waits in the kernel's accept queue (up to the backlog), which is the model's lesson.
// The listening and connected sockets are in blocking mode; accept() and read()/write() block on libuv
// pool threads (one at a time for accept, then one reader and at most one writer for the one client), so
// this process's event loop still answers signals, the command line and stats while a call is blocked.
// node:net accepts every connection the moment it arrives and cannot stop per connection: no node backend.
import { BlockingConnection, READ_BUFFER_BYTES } from '../backends/blocking/connection.ts';
import { coreOptions, ServerCore } from '../net/server-core.ts';
import * as sys from '../sys/index.ts';
import { acceptOne, listenBlocking, takeQueued } from './blocking-listen.ts';
import { inProcessHandle } from './in-process-handle.ts';
import type { ModelDefinition, ResolvedServeOptions, ServerHandle } from './types.ts';

export async function startIterative(options: ResolvedServeOptions): Promise<ServerHandle> {
  const listenFd = listenBlocking(options);
  const port = sys.getsockname(listenFd).port;
  const core = new ServerCore(coreOptions(options));
  core.start();
  const served = acceptLoop(core, listenFd);
  return inProcessHandle('iterative', 'syscall', options, port, core, async () => {
    // Stop accepting: take the clients the kernel already queued (they are served, in turn, within
    // the drain timeout), then shutdown() turns the port away and wakes the pool thread in accept().
    served.stop();
    const queued = takeQueued(listenFd);
    sys.shutdown(listenFd, sys.SHUT_RD);
    await core.drain(options.drainTimeout);
    await served.done;
    sys.close(listenFd);
    await serveLate(core, queued);
  });
}

/** Serve connections accepted while stopping, one at a time, under the drain already under way. */
export async function serveLate(core: ServerCore, fds: number[]): Promise<void> {
  for (const fd of fds) {
    core.refreshClock(); // a full quiet period from now, as drain() gives every connection
    core.start(); // drain() stopped the timer once the server was empty: its ticks end this one
    await new BlockingConnection(core, fd, 'pool').serve();
  }
}

/**
 * loop { fd = accept() (blocking); serve fd until it closes }. Shared with prefork's workers, whose
 * listening socket is inherited: `tickMs` > 0 means accept() has SO_RCVTIMEO and returns EAGAIN now and
 * then, so a worker told to stop notices without anyone touching the shared socket.
 */
export function acceptLoop(
  core: ServerCore,
  listenFd: number,
  onConnection?: (active: boolean) => void,
): { done: Promise<void>; stop(): void } {
  let stopping = false;
  const buf = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const done = (async () => {
    while (!stopping) {
      const fd = await acceptOne(listenFd, core.logger, () => stopping);
      if (fd < 0) continue;
      // A connection accepted as we stop is served anyway (it is drained like the others): never dropped.
      onConnection?.(true);
      await new BlockingConnection(core, fd, 'pool', buf).serve();
      onConnection?.(false);
    }
  })();
  return {
    done,
    stop: () => {
      stopping = true;
    },
  };
}

export const iterative: ModelDefinition = {
  name: 'iterative',
  summary: 'accept one connection, serve it to the end with blocking calls, then the next',
  backends: {
    syscall: startIterative,
    node: 'the iterative model needs blocking accept()/read(), which node:net cannot express (it accepts every connection as it arrives): use --backend syscall',
  },
};
