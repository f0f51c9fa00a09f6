import type { Server } from 'node:net';
import { listenError } from '../../net/listen.ts';
import type { ListenSpec, ResolvedServeOptions } from '../../net/server-contract.ts';

/** server.listen() as a promise, with the errors a person can act on spelled out. */
export function listen(server: Server, options: ResolvedServeOptions, spec: ListenSpec): Promise<number> {
  const { host, port, backlog } = options;
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(listenError(error, options));
    };
    const onListening = () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    if (spec.fd !== undefined) server.listen({ fd: spec.fd, backlog });
    else server.listen({ host, port, backlog, reusePort: spec.reusePort ?? false });
  });
}
