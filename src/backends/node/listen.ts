import type { Server } from 'node:net';
import { type ListenSpec, type ResolvedServeOptions, ServeError } from '../../models/types.ts';

/** server.listen() as a promise, with the errors a person can act on spelled out. */
export function listen(server: Server, options: ResolvedServeOptions, spec: ListenSpec): Promise<number> {
  const { host, port, backlog } = options;
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') reject(new ServeError(`port ${port} is already in use on ${host}`));
      else if (error.code === 'EACCES') reject(new ServeError(`no permission to listen on ${host}:${port}`));
      else if (error.code === 'EADDRNOTAVAIL')
        reject(new ServeError(`address ${host} is not available here`));
      else reject(new ServeError(`cannot listen on ${host}:${port}: ${error.message}`));
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
