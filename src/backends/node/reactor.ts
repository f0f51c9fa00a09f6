// The reactor on node:net: libuv's one event loop (epoll underneath) serves every connection of this
// process. Connections are plain NodeConnections registered with one ServerCore.
import { createServer } from 'node:net';
import type { ResolvedServeOptions, ServerHandle } from '../../models/types.ts';
import { ServerCore } from '../../net/server-core.ts';
import { NodeConnection } from './connection.ts';
import { listen } from './listen.ts';

export async function startNodeReactor(options: ResolvedServeOptions): Promise<ServerHandle> {
  const core = new ServerCore({
    app: options.app,
    limits: options.limits,
    logger: options.logger,
    maxConnections: options.maxConnections,
  });
  const server = createServer(
    { noDelay: true, allowHalfOpen: true, highWaterMark: options.limits.highWaterMark },
    (socket) => {
      if (!core.admits()) {
        core.reject(core.draining ? 'shutdown' : 'max-connections');
        socket.destroy();
        return;
      }
      new NodeConnection(core, socket).start();
    },
  );
  const port = await listen(server, options.host, options.port, options.backlog);
  server.on('error', (error) => options.logger.error('listening socket failed', { error }));
  core.start();
  let closing: Promise<void> | null = null;
  return {
    model: 'reactor',
    backend: 'node',
    host: options.host,
    port,
    pids: () => [process.pid],
    stats: async () => structuredClone(core.stats),
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await core.drain(options.drainTimeout);
        await closed;
      })()),
  };
}
