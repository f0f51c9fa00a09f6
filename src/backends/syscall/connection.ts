// A Connection on a raw non-blocking descriptor. Writes go straight to write(2); whatever the kernel does
// not take is copied into an owned queue (the bytes may be a view of the shared read buffer) and flushed
// when the multiplexer reports the socket writable. Reads happen in the reactor, which owns the one
// read buffer every connection shares.
import { type CloseReason, ConnectionBase } from '../../net/connection.ts';
import type { ServerCore } from '../../net/server-core.ts';
import {
  close,
  EAGAIN,
  ECONNRESET,
  EPIPE,
  IOV_MAX,
  SHUT_WR,
  shutdown,
  write,
  writevBuffers,
} from '../../sys/index.ts';
import { READABLE, WRITABLE } from './multiplexer.ts';
import type { SyscallReactor } from './reactor.ts';

export class SysConnection<In = unknown, Out = unknown> extends ConnectionBase<In, Out> {
  readonly fd: number;
  private readonly reactor: SyscallReactor<In, Out>;
  /** Bytes the kernel has not taken yet, oldest first; the head is sent from `headOffset`. */
  private queue: Buffer[] | null = null;
  private headOffset = 0;
  private queued = 0;
  /** The interest registered with the multiplexer (level-triggered: WRITABLE only while queued). */
  interest = READABLE;
  /** Reading is paused (by the app, or while an async handler runs). */
  readPaused = false;
  /** The peer sent FIN: read() returned 0. */
  eof = false;
  /** Edge-triggered: a readable edge arrived while paused; read when resumed. */
  readPending = false;
  /** end() was called: shut down our side once the queue is flushed. */
  private ending = false;
  /** Writes held during a read that produced several replies (see ConnectionBase's cork). */
  private gather: Buffer[] | null = null;
  private gathered = 0;
  /** errno of a failed write, pending its close. */
  private failed = 0;

  constructor(core: ServerCore<In, Out>, reactor: SyscallReactor<In, Out>, fd: number) {
    super(core);
    this.reactor = reactor;
    this.fd = fd;
  }

  start(): void {
    this.core.register(this);
    this.opened();
  }

  get writableLength(): number {
    return this.queued + this.gathered;
  }

  /** The reactor read `chunk` (a view of its shared buffer) for this connection. */
  onData(chunk: Buffer): void {
    this.received(chunk);
  }

  /** read() returned 0. */
  onEof(): void {
    this.eof = true;
    if (this.ending && this.queued === 0) {
      this.closeWith(); // our FIN went out earlier; now the peer's came: done
      return;
    }
    this.updateInterest();
    this.peerClosed();
  }

  /** read() or write() failed with errno `code`. */
  onError(code: number): void {
    this.destroy(code === ECONNRESET || code === EPIPE ? 'peer-reset' : 'error', new Error(`errno ${code}`));
  }

  /** The multiplexer reports the socket writable. */
  onWritable(): void {
    if (this.queued > 0 && !this.flush()) return;
    if (this.closed) return;
    if (this.queued === 0) {
      if (this.ending) this.finishEnd();
      else this.updateInterest();
    }
    if (this.queued <= this.core.limits.lowWaterMark) this.drained();
  }

  /** A write failed: close on the next microtask, so the app's send() returns before close() runs. */
  private fail(errno: number): void {
    if (this.failed !== 0) return;
    this.failed = errno;
    queueMicrotask(() => this.onError(errno));
  }

  protected transportCork(): void {
    this.gather = [];
  }

  /** Write what was gathered during the read with writev; whatever the kernel refuses is queued. */
  protected transportUncork(): void {
    const gather = this.gather;
    this.gather = null;
    this.gathered = 0;
    if (gather === null || this.failed !== 0 || this.closed) return;
    if (this.queued > 0) {
      for (const b of gather) this.enqueue(b);
      return;
    }
    for (let at = 0; at < gather.length; at += IOV_MAX) {
      const batch = at === 0 && gather.length <= IOV_MAX ? gather : gather.slice(at, at + IOV_MAX);
      let n = writevBuffers(this.fd, batch);
      if (n < 0) {
        if (n !== -EAGAIN) {
          this.fail(-n);
          return;
        }
        n = 0;
      }
      let i = 0;
      for (; i < batch.length && n >= batch[i].length; i++) n -= batch[i].length;
      if (i < batch.length) {
        // The kernel took part: queue the rest (copied: it may show the read buffer) and stop here.
        this.enqueue(n > 0 ? batch[i].subarray(n) : batch[i]);
        for (const b of batch.slice(i + 1)) this.enqueue(b);
        for (const b of gather.slice(at + IOV_MAX)) this.enqueue(b);
        this.updateInterest();
        return;
      }
    }
  }

  protected transportWrite(bytes: Buffer | string): number {
    if (this.failed !== 0) return 0;
    const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    if (this.gather !== null) {
      this.gather.push(buf);
      this.gathered += buf.length;
      return this.queued + this.gathered;
    }
    if (this.queued === 0) {
      const n = write(this.fd, buf, buf.length);
      if (n === buf.length) return 0;
      if (n < 0 && n !== -EAGAIN) {
        this.fail(-n);
        return 0;
      }
      this.enqueue(n > 0 ? buf.subarray(n) : buf);
      this.updateInterest();
      return this.queued;
    }
    this.enqueue(buf);
    return this.queued;
  }

  protected transportPause(): void {
    this.readPaused = true;
    this.updateInterest();
  }

  protected transportResume(): void {
    this.readPaused = false;
    this.updateInterest();
    // Edge-triggered: the edge may have passed while paused, and level-triggered data already read from
    // the kernel is not re-announced: let the reactor try a read on its next turn.
    this.reactor.scheduleRead(this);
  }

  protected transportEnd(): void {
    this.ending = true;
    if (this.queued === 0) this.finishEnd();
  }

  protected transportDestroy(): void {
    this.release();
    this.closedByTransport();
  }

  /** Transport-level close with a reason (errors, EOF after our FIN). */
  closeWith(reason?: CloseReason, error?: unknown): void {
    this.release();
    this.closedByTransport(reason, error);
  }

  private finishEnd(): void {
    if (this.eof) {
      // Both sides are done: nothing more will come, close now.
      this.closeWith();
      return;
    }
    shutdown(this.fd, SHUT_WR);
    this.updateInterest();
  }

  private release(): void {
    if (this.reactor.forget(this)) close(this.fd);
    this.queue = null;
    this.queued = 0;
  }

  private enqueue(bytes: Buffer): void {
    const copy = Buffer.allocUnsafe(bytes.length);
    bytes.copy(copy);
    (this.queue ??= []).push(copy);
    this.queued += copy.length;
  }

  /** Write queued bytes until the kernel refuses; false if the connection failed. */
  private flush(): boolean {
    const queue = this.queue!;
    while (queue.length > 0) {
      const head = queue[0];
      const left = head.length - this.headOffset;
      const n = write(this.fd, this.headOffset === 0 ? head : head.subarray(this.headOffset), left);
      if (n < 0) {
        if (n === -EAGAIN) return true;
        this.fail(-n);
        return false;
      }
      this.queued -= n;
      if (n < left) {
        this.headOffset += n;
        return true;
      }
      queue.shift();
      this.headOffset = 0;
    }
    return true;
  }

  /** What the multiplexer should watch now (level-triggered only; edge-triggered watches everything). */
  updateInterest(): void {
    if (this.closed) return;
    const interest = (this.readPaused || this.eof ? 0 : READABLE) | (this.queued > 0 ? WRITABLE : 0);
    if (interest !== this.interest) {
      this.interest = interest;
      this.reactor.setInterest(this, interest);
    }
  }
}
