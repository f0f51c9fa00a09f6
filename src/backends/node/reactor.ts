// The reactor on node:net: libuv's one event loop (epoll underneath) serves every connection of this
// process. Connections are plain NodeConnections registered with one ServerCore.
import { createServer } from 'node:net';
import type { ListenSpec, ResolvedServeOptions, ServerHandle } from '../../models/types.ts';
import { coreOptions, ServerCore } from '../../net/server-core.ts';
import { NodeConnection } from './connection.ts';
import { listen } from './listen.ts';

export async function startNodeReactor(
  options: ResolvedServeOptions,
  spec: ListenSpec = {},
): Promise<ServerHandle> {
  const core = new ServerCore(coreOptions(options));
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
  const port = await listen(server, options, spec);
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
        // Accept what already waits in the accept queue first: closing the listening socket would reset
        // those clients, whose handshake the kernel completed. libuv accepts one connection per turn of
        // the loop, so turn it until two turns in a row accept nothing; they are then drained like the rest.
        for (let quiet = 0, seen = -1, turns = 0; quiet < 2 && turns <= options.backlog + 2; turns++) {
          const accepted = core.stats.accepted + core.stats.rejected;
          quiet = accepted === seen ? quiet + 1 : 0;
          seen = accepted;
          await turnOfTheLoop();
        }
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await core.drain(options.drainTimeout);
        await closed;
      })()),
  };
}

const turnOfTheLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
