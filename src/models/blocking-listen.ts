// Opening a listening socket with src/sys for the models that own it themselves (iterative, prefork's
// and process-per-connection's parent, thread-pool's acceptor, multi-reactor's 'shared' supervisor), with
// the one-line errors of src/net/listen.ts.
import type { Logger } from '../log.ts';
import { listenTcpSocket } from '../net/listen.ts';
import * as sys from '../sys/index.ts';
import { type ResolvedServeOptions, ServeError } from './types.ts';

export function listenSocket(options: ResolvedServeOptions, nonBlocking: boolean, reusePort = false): number {
  try {
    sys.assertSyscallBackendAvailable();
  } catch (error) {
    throw new ServeError((error as Error).message);
  }
  return listenTcpSocket(options, { nonBlocking, reusePort });
}

/** A listening socket in blocking mode: accept() waits for a client. */
export function listenBlocking(options: ResolvedServeOptions): number {
  return listenSocket(options, false);
}

/**
 * A graceful stop of a blocking model: take every connection the kernel has already completed (they
 * wait in the accept queue) so they are served, not reset when the listening socket closes. The socket
 * turns non-blocking for this; a pool thread still blocked in accept() is woken afterwards by shutdown().
 */
export function takeQueued(listenFd: number): number[] {
  const fds: number[] = [];
  sys.setNonBlocking(listenFd, true);
  for (;;) {
    const fd = sys.accept4(listenFd, sys.SOCK_CLOEXEC);
    if (fd >= 0) fds.push(fd);
    else if (fd !== -sys.ECONNABORTED && fd !== -sys.EINTR) return fds;
  }
}

/**
 * One blocking accept() on a pool thread: the connected descriptor, or -1 when it failed in a way the
 * caller should simply retry (EAGAIN from SO_RCVTIMEO, EINTR, ECONNABORTED; other errors, EMFILE for
 * one, are logged and retried after 100 ms). The caller checks whether it is stopping after each call.
 */
export async function acceptOne(listenFd: number, logger: Logger, stopping: () => boolean): Promise<number> {
  const fd = await sys.acceptAsync(listenFd, sys.SOCK_CLOEXEC);
  if (fd >= 0) return fd;
  const errno = -fd;
  if (errno === sys.EAGAIN || errno === sys.EINTR || errno === sys.ECONNABORTED || stopping()) return -1;
  logger.warn(`accept: ${sys.errnoName(errno)}: retrying in 100 ms`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  return -1;
}
