// A Connection on a node:net Socket. The socket's own stream buffer is the write queue (its high
// watermark is set from ours at accept, so write() reports back-pressure at the same point); data
// arrives through the 'data' event (node:net allocates each chunk; only the syscall backend reuses one).
import type { Socket } from 'node:net';
import { type CloseReason, ConnectionBase } from '../../net/connection.ts';
import type { ServerCore } from '../../net/server-core.ts';

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export class NodeConnection<In = unknown, Out = unknown> extends ConnectionBase<In, Out> {
  private readonly socket: Socket;
  private transportError: { reason: CloseReason; error: Error } | undefined;

  constructor(core: ServerCore<In, Out>, socket: Socket) {
    super(core);
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('end', () => this.peerClosed());
    socket.on('drain', () => this.drained());
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.transportError ??= { reason: RESET_CODES.has(error.code ?? '') ? 'peer-reset' : 'error', error };
    });
    socket.on('close', () => this.closedByTransport(this.transportError?.reason, this.transportError?.error));
  }

  /** Register with the server and run the app's open(). */
  start(): void {
    this.core.register(this);
    this.opened();
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  protected transportWrite(bytes: Buffer | string): number {
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
}
