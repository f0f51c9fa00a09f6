// Opening the listening socket, for every backend and model that opens its own: one place that turns a
// failed listen into the one-line error a person can act on.
import * as sys from '../sys/index.ts';
import { type ResolvedServeOptions, ServeError } from './server-contract.ts';

type Where = Pick<ResolvedServeOptions, 'host' | 'port'>;

/** The error for a listen that failed with `error` (a SysError or a node:net error, both carry .code). */
export function listenError(error: unknown, { host, port }: Where): ServeError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new ServeError(`port ${port} is already in use on ${host}`);
  if (code === 'EACCES') return new ServeError(`no permission to listen on ${host}:${port}`);
  if (code === 'EADDRNOTAVAIL') return new ServeError(`address ${host} is not available here`);
  return new ServeError(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
}

/** A listening socket opened with src/sys (socket, bind, listen); failures as listenError(). */
export function listenTcpSocket(
  options: Where & Pick<ResolvedServeOptions, 'backlog'>,
  how: { nonBlocking: boolean; reusePort: boolean },
): number {
  const { host, port, backlog } = options;
  try {
    return sys.listenTcp({ host, port, backlog, ...how });
  } catch (error) {
    throw listenError(error, options);
  }
}
