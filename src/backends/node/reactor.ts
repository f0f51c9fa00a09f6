// The reactor on node:net: libuv's one event loop (epoll underneath) serves every connection of this
// process. Connections are plain NodeConnections registered with one ServerCore.
// Descriptors: node:net accepts every connection as it arrives and has no way to pause accepting (short
// of closing the listening socket, which would reset the clients queued in it). So past the fd cap (the
// open-files limit less the descriptors open at start less FD_RESERVE, see src/net/fd-cap.ts) a new
// client is accepted and closed at once, counted as 'fd-limit': refused cleanly, never EMFILE. (The
// syscall reactor instead leaves such clients in the accept queue, for itself later or another worker.)
import { createServer, type Server, type Socket } from 'node:net';
import { connectionFdCap } from '../../net/fd-cap.ts';
import type { ListenSpec, ResolvedServeOptions } from '../../net/server-contract.ts';
import { coreOptions, ServerCore } from '../../net/server-core.ts';
import { NodeConnection } from './connection.ts';
import { listen } from './listen.ts';

export class NodeReactor {
  readonly core: ServerCore;
  private readonly options: ResolvedServeOptions;
  private readonly server: Server;
  private readonly fdCap = connectionFdCap();
  private atFdCap = false;

  constructor(options: ResolvedServeOptions) {
    this.options = options;
    this.core = new ServerCore(coreOptions(options));
    this.server = createServer(
      {
        noDelay: true,
        allowHalfOpen: true,
        highWaterMark: options.limits.highWaterMark,
        // Paused until NodeConnection puts it on the shared-read-buffer path (user-buffer.ts).
        pauseOnConnect: true,
      },
      (socket) => this.admit(socket),
    );
  }

  /** Listen (or adopt an inherited listening descriptor) and start; the port. */
  async listen(spec: ListenSpec): Promise<number> {
    const port = await listen(this.server, this.options, spec);
    this.server.on('error', (error) => this.options.logger.error('listening socket failed', { error }));
    this.core.start();
    return port;
  }

  private admit(socket: Socket): void {
    const core = this.core;
    let refusal = core.refusal(core.perIp === null ? '' : (socket.remoteAddress ?? ''));
    if (refusal === null && core.connections.size >= this.fdCap) {
      refusal = 'fd-limit';
      if (!this.atFdCap) {
        this.atFdCap = true;
        this.options.logger.warn(
          `holding ${core.connections.size} connections, the most this process's fd limit allows: refusing new ones`,
        );
      }
    } else if (this.atFdCap && core.connections.size < this.fdCap - 16) this.atFdCap = false;
    if (refusal !== null) {
      core.reject(refusal);
      socket.destroy();
      return;
    }
    new NodeConnection(core, socket).start();
  }

  async close(): Promise<void> {
    const { core, options } = this;
    // Accept what already waits in the accept queue first: closing the listening socket would reset
    // those clients, whose handshake the kernel completed. libuv accepts one connection per turn of
    // the loop, so turn it until two turns in a row accept nothing; they are then drained like the rest.
    for (let quiet = 0, seen = -1, turns = 0; quiet < 2 && turns <= options.backlog + 2; turns++) {
      const accepted = core.stats.accepted + core.stats.rejected;
      quiet = accepted === seen ? quiet + 1 : 0;
      seen = accepted;
      await turnOfTheLoop();
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await core.drain(options.drainTimeout);
    await closed;
  }

  /** Release what the constructor made, for a reactor that never listened. */
  dispose(): void {}
}

const turnOfTheLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
