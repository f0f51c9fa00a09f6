// A Connection on a node:net Socket. The socket's own stream buffer is the write queue (its high
// watermark is set from ours at accept, so write() reports back-pressure at the same point). Data lands
// in the event loop's one read buffer when the socket arrives paused (see user-buffer.ts), else through
// 'data' events (node:net allocates each chunk).
import type { Socket } from 'node:net';
import { ConnectionBase } from '../../net/connection.ts';
import type { CloseReason } from '../../net/connection-api.ts';
import type { ServerCore } from '../../net/server-core.ts';
import { adopt, nodeReads } from './user-buffer.ts';

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export class NodeConnection<In = unknown, Out = unknown> extends ConnectionBase<In, Out> {
  private readonly socket: Socket;
  private transportError: { reason: CloseReason; error: Error } | undefined;
  /** Reads land in the shared read buffer: what the app sends may be a view of it. */
  private readonly sharedReads: boolean;

  constructor(core: ServerCore<In, Out>, socket: Socket) {
    super(core);
    this.initColdFields();
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    socket.setNoDelay(true);
    this.sharedReads = adopt(socket, (chunk) => this.received(chunk));
    if (!this.sharedReads) socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('end', () => this.peerClosed());
    socket.on('drain', () => this.drained());
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.transportError ??= { reason: RESET_CODES.has(error.code ?? '') ? 'peer-reset' : 'error', error };
    });
    socket.on('close', () => this.closedByTransport(this.transportError?.reason, this.transportError?.error));
  }

  /** Register with the server, start reading (a socket may arrive paused) and run the app's open(). */
  start(): void {
    this.core.register(this);
    this.socket.resume();
    this.opened();
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  protected transportSendOrQueue(bytes: Buffer | string): number {
    // node:net keeps a reference to a Buffer it could not write at once (no copy): a view of the shared
    // read buffer (an echo) would be overwritten by the next read, so it goes as a copy (a pool slice).
    if (this.sharedReads && typeof bytes !== 'string' && nodeReads.holds(bytes)) bytes = Buffer.from(bytes);
    this.socket.write(bytes);
    return this.socket.writableLength;
  }

  protected transportCork(): void {
    this.socket.cork();
  }

  protected transportUncork(): void {
    this.socket.uncork();
  }

  protected transportPause(): void {
    this.socket.pause();
  }

  protected transportResume(): void {
    this.socket.resume();
  }

  protected transportEnd(): void {
    this.socket.end();
  }

  protected transportDestroy(): void {
    this.socket.destroy();
  }

  protected transportAbort(): void {
    this.socket.resetAndDestroy();
  }
}
