// The syscall reactor's listening socket, shaped like muduo's Acceptor: accept4 in bounded batches,
// admission (connection limits, the per-process descriptor cap), client addresses, and pausing: while
// accepting is paused the listening socket is not watched, so new clients wait in the kernel's accept
// queue (or go to another worker sharing the port) instead of being accepted and dropped. What to do with
// an admitted descriptor is the owner's business (onConnection): the reactor builds the connection.
import { connectionFdCap } from '../../net/fd-cap.ts';
import { listenTcpSocket } from '../../net/listen.ts';
import type { ListenSpec, ResolvedServeOptions } from '../../net/server-contract.ts';
import type { ServerCore } from '../../net/server-core.ts';
import * as sys from '../../sys/index.ts';
import type { Multiplexer } from './multiplexer.ts';

/** An admitted client: its descriptor and address. */
export type OnConnection = (fd: number, address: string, port: number) => void;

/** Accepts per readiness of the listening socket, so a connection storm cannot starve served clients. */
const ACCEPT_BATCH = 256;
const ADDRESS_CACHE = 4096;

export class Acceptor {
  /** The listening descriptor; -1 before listen() and after close. */
  fd = -1;
  /** close() began: what waits in the accept queue was taken, nothing more is. */
  closing = false;
  /** Connections beyond which accepting pauses: the open-files limit less what the process already uses. */
  readonly fdCap: number;
  private watching = false;
  private pausedUntil = 0;
  private readonly peer = Buffer.alloc(sys.SOCKADDR_STORAGE_SIZE);
  private readonly addresses = new Map<number, string>();
  /** The listening socket's own address. */
  localAddress = '';
  localPort = 0;
  private readonly mux: Multiplexer;
  private readonly core: ServerCore<unknown, unknown>;
  private readonly onConnection: OnConnection;

  constructor(mux: Multiplexer, core: ServerCore<unknown, unknown>, onConnection: OnConnection) {
    this.mux = mux;
    this.core = core;
    this.onConnection = onConnection;
    this.fdCap = connectionFdCap();
  }

  /** Open (or adopt) the listening socket and watch it; the port. */
  listen(spec: ListenSpec, options: ResolvedServeOptions): number {
    if (spec.fd !== undefined) {
      this.fd = spec.fd;
      sys.setNonBlocking(this.fd);
    } else {
      this.fd = listenTcpSocket(options, { nonBlocking: true, reusePort: spec.reusePort ?? false });
    }
    const local = sys.getsockname(this.fd);
    this.localAddress = local.address;
    this.localPort = local.port;
    this.watch(true);
    return local.port;
  }

  /** The listening socket is readable: accept what waits, up to a batch. */
  ready(): void {
    if (this.closing) return;
    this.acceptBatch();
  }

  private acceptBatch(): void {
    const core = this.core;
    for (let i = 0; i < ACCEPT_BATCH; i++) {
      if (core.connections.size >= this.fdCap) {
        this.pause('fd-limit');
        return;
      }
      const fd = sys.accept4(this.fd, sys.SOCK_NONBLOCK | sys.SOCK_CLOEXEC, this.peer);
      if (fd < 0) {
        if (fd === -sys.EAGAIN) return;
        if (fd === -sys.EMFILE || fd === -sys.ENFILE || fd === -sys.ENOBUFS || fd === -sys.ENOMEM) {
          core.logger.warn(`accept4: ${sys.errnoName(-fd)}: pausing accepts for 100 ms`);
          this.pause('errno', 100);
          return;
        }
        if (fd === -sys.ECONNABORTED || fd === -sys.EINTR) continue;
        core.logger.error(`accept4 failed: ${sys.errnoName(-fd)}`);
        return;
      }
      this.admit(fd);
    }
  }

  private admit(fd: number): void {
    const core = this.core;
    const refusal = core.refusal(core.perIp === null ? '' : this.peerAddress());
    if (refusal !== null) {
      sys.close(fd);
      core.reject(refusal);
      return;
    }
    // sin_port and sin6_port: both at offset 2, big-endian
    this.onConnection(fd, this.peerAddress(), this.peer.readUInt16BE(2));
  }

  /**
   * The client's address from accept4's sockaddr (also what maxConnectionsPerIp counts, before a
   * connection exists). IPv4 address strings are shared between connections from the same host (a bounded
   * cache): thousands of clients behind few addresses pay for one string.
   */
  private peerAddress(): string {
    const peer = this.peer;
    if (peer.readUInt16LE(0) !== sys.AF_INET) return sys.decodeSockaddr(peer).address;
    const ip = peer.readUInt32BE(4);
    let address = this.addresses.get(ip);
    if (address === undefined) {
      address = `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
      if (this.addresses.size < ADDRESS_CACHE) this.addresses.set(ip, address);
    }
    return address;
  }

  /** Watch the listening socket or not. */
  private watch(on: boolean): void {
    if (on === this.watching || this.fd < 0) return;
    this.watching = on;
    if (on) this.mux.addListener(this.fd);
    else this.mux.remove(this.fd, false);
  }

  /** Stop watching the listening socket until a connection closes (fd-limit) or for `ms` (errno). */
  private pause(why: 'fd-limit' | 'errno', ms = 0): void {
    if (!this.watching) return;
    this.watch(false);
    if (why === 'fd-limit') {
      this.core.logger.warn(
        `holding ${this.core.connections.size} connections, the most this process's fd limit allows: accepting paused`,
      );
      return;
    }
    this.pausedUntil = Date.now() + ms;
    setTimeout(() => {
      this.pausedUntil = 0;
      if (!this.closing) this.watch(true);
    }, ms).unref();
  }

  /** A connection closed: accepting resumes if it was paused at the descriptor cap and there is room. */
  connectionGone(): void {
    if (this.watching || this.pausedUntil !== 0 || this.closing || this.fd < 0) return;
    if (this.core.connections.size <= this.fdCap - 16) this.watch(true);
  }

  /** Stop accepting: take what already waits in the accept queue (those clients completed their
   * handshake; closing the socket would reset them), then close the listening socket. */
  close(): void {
    if (this.fd < 0 || this.closing) return;
    this.acceptBatch();
    this.closing = true;
    this.watch(false);
    sys.close(this.fd);
    this.fd = -1;
  }

  /** Close the listening socket without taking what waits: for a loop that never ran. Idempotent. */
  abandon(): void {
    if (this.fd < 0) return;
    this.closing = true;
    this.watch(false);
    sys.close(this.fd);
    this.fd = -1;
  }
}
