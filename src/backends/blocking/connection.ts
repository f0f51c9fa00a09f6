// A Connection over a *blocking* connected descriptor: the textbook server's read()/write(), used by the
// iterative, prefork, thread-pool and (syscall) process-per-connection models. One object per client;
// serve() runs its loop and resolves once the descriptor is closed, so a model "serves one client to the
// end" by awaiting it.
//
// Two ways to block, because the JS thread that owns the connection must keep answering:
// - 'pool' (iterative, prefork workers, connection children): read() and write() block on libuv pool
//   threads (koffi's async calls) while this thread's event loop runs timers, IPC and signals. The reader
//   and the writer are separate pool calls, so the socket is full duplex; at most two pool threads per
//   connection. Writes queue in user space (owned copies) and writableLength reports them, so
//   back-pressure and the slow-consumer cut-off behave as on every other backend.
// - 'thread' (thread-pool workers): the worker thread itself blocks in read()/write(), as a pool thread of
//   a C server does. SO_RCVTIMEO/SO_SNDTIMEO of THREAD_TICK_MS make a blocked call return EAGAIN now and
//   then, so the thread's own event loop (ServerCore timers, drain, async handlers, messages from the
//   acceptor) gets a turn. Replies are queued while the app handles a chunk and written out before the
//   next read (read, process, write back: the blocking server's rhythm).
// Timeouts use the ServerCore idle list (its timer runs in both modes). Half-close is shutdown(SHUT_WR).
// destroy() is shutdown(SHUT_RDWR), which wakes any thread blocked on the socket; the descriptor is
// closed only after every blocked call has returned, so its number is never reused under a pending call.
import { ConnectionBase } from '../../net/connection.ts';
import type { CloseReason } from '../../net/connection-api.ts';
import type { ServerCore } from '../../net/server-core.ts';
import * as sys from '../../sys/index.ts';

export type BlockingMode = 'pool' | 'thread';

export const READ_BUFFER_BYTES = 64 * 1024;
/** 'thread' mode: how often a thread blocked in read()/write() wakes to run its event loop. */
export const THREAD_TICK_MS = 50;
/** Coalesce queued chunks into one write() up to this size. */
const COALESCE_BYTES = 256 * 1024;

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function reasonFor(errno: number): CloseReason {
  return errno === sys.ECONNRESET || errno === sys.EPIPE || errno === sys.ETIMEDOUT ? 'peer-reset' : 'error';
}

export class BlockingConnection<In = unknown, Out = unknown> extends ConnectionBase<In, Out> {
  readonly fd: number;
  private readonly mode: BlockingMode;
  private readonly buf: Buffer;
  private queue: Buffer[] = [];
  private headOffset = 0;
  private queued = 0;
  private writing = false; // 'pool': a write() is blocked on a pool thread
  private ending = false; // end() was called: FIN once the queue is flushed
  private finSent = false;
  private readDone = false;
  private paused = false;
  private wake: (() => void) | null = null; // the loop waits here (paused, or for the write side)
  private failure: { reason: CloseReason; error: Error } | undefined;
  private shut = false;

  /** `buf` is the read buffer, reused for every read (a serving loop passes one buffer to all its clients). */
  constructor(core: ServerCore<In, Out>, fd: number, mode: BlockingMode, buf?: Buffer) {
    super(core);
    this.initColdFields();
    this.fd = fd;
    this.mode = mode;
    this.buf = buf ?? Buffer.allocUnsafe(READ_BUFFER_BYTES);
    try {
      const peer = sys.getpeername(fd);
      const local = sys.getsockname(fd);
      this.remoteAddress = peer.address;
      this.remotePort = peer.port;
      this.localAddress = local.address;
      this.localPort = local.port;
      sys.setsockopt(fd, sys.IPPROTO_TCP, sys.TCP_NODELAY, 1);
      sys.setNonBlocking(fd, false);
      if (mode === 'thread') {
        sys.setSocketTimeout(fd, 'recv', THREAD_TICK_MS);
        sys.setSocketTimeout(fd, 'send', THREAD_TICK_MS);
      }
    } catch {
      // the peer already left (ENOTCONN): the first read reports it
    }
  }

  get writableLength(): number {
    return this.queued;
  }

  protected override unreadInKernel(): boolean {
    return sys.unreadBytes(this.fd) > 0;
  }

  /** Register, run open(), serve until the descriptor is closed. Never rejects. */
  async serve(): Promise<void> {
    this.core.register(this);
    this.opened();
    try {
      if (this.mode === 'pool') await this.poolLoop();
      else await this.threadLoop();
    } catch (error) {
      this.failure ??= { reason: 'error', error: error as Error };
    }
    this.shutdownBoth();
    while (this.writing) await this.sleep();
    sys.close(this.fd);
    this.closedByTransport(this.failure?.reason, this.failure?.error);
  }

  // ---- 'pool': reads and writes block on libuv pool threads ----------------------------------------
  private async poolLoop(): Promise<void> {
    while (!this.closed && !this.failure) {
      if (this.paused) {
        await this.sleep();
        continue;
      }
      const n = await sys.readAsync(this.fd, this.buf, this.buf.length);
      if (!this.onRead(n)) break;
    }
    // Reading is over: wait for the write side (flush + FIN), unless the connection is gone.
    while (!this.closed && !this.failure && !this.finSent) await this.sleep();
  }

  private pump(): void {
    if (this.writing || this.queued === 0) return;
    this.writing = true;
    void this.pumpLoop();
  }

  private async pumpLoop(): Promise<void> {
    try {
      await this.pumpQueue();
    } catch (error) {
      this.failure ??= { reason: 'error', error: error as Error };
      this.shutdownBoth();
    }
    this.writing = false;
    if (this.queued === 0 && this.ending) this.sendFin();
    this.signal();
  }

  private async pumpQueue(): Promise<void> {
    while (this.queued > 0 && !this.closed && !this.failure) {
      const chunk = this.nextChunk();
      const n = await sys.writeAsync(this.fd, chunk, chunk.length);
      if (this.closed || this.failure) break; // destroyed meanwhile: the queue is gone
      if (n < 0) {
        if (n === -sys.EINTR || n === -sys.EAGAIN) continue;
        this.fail(-n, 'write');
        break;
      }
      this.consume(n);
      if (this.queued <= this.core.limits.lowWaterMark) this.drained();
    }
  }

  // ---- 'thread': this thread blocks; a receive/send timeout lets its event loop turn --------------
  private async threadLoop(): Promise<void> {
    for (;;) {
      if (this.closed || this.failure) return;
      if (this.queued > 0) {
        const chunk = this.nextChunk();
        const n = sys.write(this.fd, chunk, chunk.length);
        if (n === -sys.EAGAIN || n === -sys.EINTR) await turn();
        else if (n < 0) this.fail(-n, 'write');
        else {
          this.consume(n);
          if (this.queued <= this.core.limits.lowWaterMark) this.drained();
        }
        continue;
      }
      if (this.ending && !this.finSent) this.sendFin();
      if (this.readDone) {
        if (this.finSent) return;
        await this.sleep(); // EOF seen, an async handler is still running: wait for its end()
        continue;
      }
      if (this.paused) {
        await this.sleep();
        continue;
      }
      const n = sys.read(this.fd, this.buf, this.buf.length);
      if (n === -sys.EAGAIN || n === -sys.EINTR) {
        await turn();
        continue;
      }
      this.onRead(n);
      await turn(); // let messages and timers in between requests
    }
  }

  // ---- shared ------------------------------------------------------------------------------------
  /** A read returned n; false when reading is over. */
  private onRead(n: number): boolean {
    if (n > 0) {
      this.received(this.buf.subarray(0, n));
      return true;
    }
    if (n === -sys.EINTR || n === -sys.EAGAIN) return true;
    this.readDone = true;
    if (n === 0) {
      if (!this.closed && !this.failure) this.peerClosed();
    } else this.fail(-n, 'read');
    return false;
  }

  /** The next bytes to write: the head of the queue, or several small chunks copied into one. */
  private nextChunk(): Buffer {
    const head = this.headOffset > 0 ? this.queue[0].subarray(this.headOffset) : this.queue[0];
    if (this.queue.length === 1 || head.length >= COALESCE_BYTES) return head;
    const parts = [head];
    let size = head.length;
    for (let i = 1; i < this.queue.length && size < COALESCE_BYTES; i++) {
      parts.push(this.queue[i]);
      size += this.queue[i].length;
    }
    const joined = Buffer.concat(parts, size);
    this.queue.splice(0, parts.length, joined);
    this.headOffset = 0;
    return joined;
  }

  private consume(n: number): void {
    this.queued -= n;
    while (n > 0) {
      const left = this.queue[0].length - this.headOffset;
      if (n < left) {
        this.headOffset += n;
        return;
      }
      n -= left;
      this.queue.shift();
      this.headOffset = 0;
    }
  }

  private fail(errno: number, call: string): void {
    this.failure ??= {
      reason: reasonFor(errno),
      error: new Error(`${call}: ${sys.errnoName(errno)} (${sys.errnoDescription(errno)})`),
    };
    this.shutdownBoth();
    this.signal();
  }

  private sendFin(): void {
    if (this.finSent) return;
    this.finSent = true;
    if (!this.shut) sys.shutdown(this.fd, sys.SHUT_WR);
    this.signal();
  }

  /** Wakes every thread blocked on this socket (read returns 0, write EPIPE). */
  private shutdownBoth(): void {
    if (this.shut) return;
    this.shut = true;
    sys.shutdown(this.fd, sys.SHUT_RDWR);
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  protected transportSendOrQueue(bytes: Buffer | string): number {
    if (this.failure || this.shut) return 0;
    let buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    if (buf.length === 0) return this.queued;
    // In 'pool' mode the next read may overwrite the read buffer before a pool thread writes: copy views of it.
    if (this.mode === 'pool' && buf.buffer === this.buf.buffer) buf = Buffer.from(buf);
    this.queue.push(buf);
    this.queued += buf.length;
    if (this.mode === 'pool') this.pump();
    else this.signal(); // the thread's loop may be waiting (paused, or after EOF): it writes this out
    return this.queued;
  }

  protected transportPause(): void {
    this.paused = true;
  }

  protected transportResume(): void {
    this.paused = false;
    this.signal();
  }

  protected transportEnd(): void {
    this.ending = true;
    if (this.queued === 0 && !this.writing) this.sendFin();
    else this.signal();
  }

  protected transportDestroy(): void {
    this.queue = [];
    this.queued = 0;
    this.shutdownBoth();
    this.signal();
  }

  protected transportAbort(): void {
    sys.resetOnClose(this.fd); // the serving loop's close() then resets
    this.transportDestroy();
  }
}
