// A Connection on a raw non-blocking descriptor. Writes go straight to send(2) — or, while the reactor
// hands a batch of reads to the app, the first small one waits in the reactor's WriteBatch until the batch
// has been handled; whatever the kernel does not take goes to an Outbox (allocated only then) and is
// flushed when the multiplexer reports the socket writable. Reads happen in the reactor, which owns the
// read slots every connection shares.
import { ConnectionBase, TRANSPORT_FLAGS } from '../../net/connection.ts';
import type { CloseReason } from '../../net/connection-api.ts';
import type { ServerCore } from '../../net/server-core.ts';
import {
  close,
  EAGAIN,
  ECONNRESET,
  EPIPE,
  MSG_NOSIGNAL,
  resetOnClose,
  SHUT_WR,
  send,
  sendRaw,
  shutdown,
  unreadBytes,
} from '../../sys/index.ts';
import { READABLE, WRITABLE } from './multiplexer.ts';
import { Outbox } from './outbox.ts';
import type { SyscallReactor } from './reactor.ts';

// This transport's bits of ConnectionBase.flags.
const READ_PAUSED = TRANSPORT_FLAGS;
const EOF = TRANSPORT_FLAGS << 1;
const READ_PENDING = TRANSPORT_FLAGS << 2;
const ENDING = TRANSPORT_FLAGS << 3;
/** A write failed: the connection closes on the next microtask. */
const FAILED = TRANSPORT_FLAGS << 4;

/** The largest write deferred to the end of a batch (below the high watermark too: see transportWrite). */
const DEFER_MAX = 64 * 1024;

export class SysConnection<In = unknown, Out = unknown> extends ConnectionBase<In, Out> {
  readonly fd: number;
  private readonly reactor: SyscallReactor<In, Out>;
  /** Bytes waiting for the kernel; null while there are none. */
  private out: Outbox | null = null;
  /** The interest registered with the multiplexer (level-triggered: WRITABLE only while queued). */
  interest = READABLE;

  constructor(core: ServerCore<In, Out>, reactor: SyscallReactor<In, Out>, fd: number) {
    super(core);
    this.initFacts();
    this.reactor = reactor;
    this.fd = fd;
  }

  /** Reading is paused (by the app, or while an async handler runs). */
  get readPaused(): boolean {
    return this.flag(READ_PAUSED);
  }
  /** The peer sent FIN: read() returned 0. */
  get eof(): boolean {
    return this.flag(EOF);
  }
  /** Edge-triggered: a readable edge arrived while paused; read when resumed. */
  get readPending(): boolean {
    return this.flag(READ_PENDING);
  }
  set readPending(on: boolean) {
    this.setFlag(READ_PENDING, on);
  }
  /** end() was called: shut down our side once the queue is flushed. */
  private get ending(): boolean {
    return this.flag(ENDING);
  }

  private get failed(): boolean {
    return this.flag(FAILED);
  }

  /**
   * Bytes wait for writability (or a corked batch is open): what a writable event is for. Level-triggered
   * write interest is registered exactly while bytes are queued, so no event is missed by checking this.
   */
  get hasQueue(): boolean {
    return this.out !== null && !this.closed;
  }

  private get queued(): number {
    return this.out === null ? 0 : this.out.queued;
  }

  start(): void {
    this.core.register(this);
    this.opened();
  }

  get writableLength(): number {
    const deferred = this.reactor.batch.bytesOf(this.fd);
    return this.out === null ? deferred : deferred + this.out.queued + this.out.gathered;
  }

  protected override unreadInKernel(): boolean {
    return unreadBytes(this.fd) > 0;
  }

  /** The reactor read `chunk` (a view of its shared buffer) for this connection. */
  onData(chunk: Buffer): void {
    this.received(chunk);
  }

  /** read() returned 0. */
  onEof(): void {
    this.setFlag(EOF, true);
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
    const out = this.out;
    if (out !== null && out.queued > 0) {
      const r = out.flush(this.fd);
      if (r < 0) {
        this.fail(-r);
        return;
      }
    }
    if (this.closed) return;
    if (this.queued === 0) {
      if (out !== null && !out.corked) this.out = null;
      if (this.ending) this.finishEnd();
      else this.updateInterest();
    }
    if (this.queued <= this.core.limits.lowWaterMark) this.drained();
  }

  /** A write failed: close on the next microtask, so the app's send() returns before close() runs. */
  private fail(errno: number): void {
    if (this.failed) return;
    this.setFlag(FAILED, true);
    queueMicrotask(() => this.onError(errno));
  }

  protected transportCork(): void {
    // A reply deferred to the end of the batch leads the corked ones: it joins their writev.
    const deferred = this.reactor.batch.take(this.fd);
    const out = (this.out ??= new Outbox());
    out.cork();
    if (deferred !== null) out.hold(deferred);
  }

  protected transportUncork(): void {
    const out = this.out;
    if (out === null || !out.corked || this.failed || this.closed) return;
    const r = out.uncork(this.fd);
    if (r < 0) this.fail(-r);
    else if (out.queued === 0) this.out = null;
    else this.updateInterest();
  }

  protected transportWrite(bytes: Buffer | string): number {
    if (this.failed) return 0;
    const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    if (this.out === null) {
      const batch = this.reactor.batch;
      if (batch.open) {
        // Inside a batch: the first small write waits for the batch's end; a later one sends the first now.
        if (batch.has(this.fd)) this.flushDeferred();
        else if (
          buf.length < this.core.limits.highWaterMark &&
          buf.length <= DEFER_MAX &&
          batch.defer(this.fd, buf)
        )
          return 0;
        if (this.failed) return 0;
      }
    }
    const out = this.out;
    if (out === null) {
      const n = this.sendNow(buf);
      return n === buf.length ? 0 : this.queueRest(buf, n);
    }
    if (out.corked) out.hold(buf);
    else out.enqueue(buf, this.borrowed(buf));
    return out.queued + out.gathered;
  }

  /** The deferred write goes out now: something else must follow it in order. */
  private flushDeferred(): void {
    const deferred = this.reactor.batch.take(this.fd);
    if (deferred === null) return;
    const n = this.sendNow(deferred);
    if (n !== deferred.length) this.queueRest(deferred, n);
  }

  /** A write to an idle socket went out short (n bytes sent, or -errno): queue the rest; the bytes queued. */
  private queueRest(buf: Buffer, n: number): number {
    if (n < 0 && n !== -EAGAIN) {
      this.fail(-n);
      return 0;
    }
    const fresh = (this.out = new Outbox());
    fresh.enqueue(n > 0 ? buf.subarray(n) : buf, this.borrowed(buf));
    this.updateInterest();
    return fresh.queued;
  }

  /** The reactor sent this connection's deferred write at the end of a batch, and it went out short. */
  sentShort(buf: Buffer, n: number): void {
    // It has no queue: a write defers only to an idle socket, and whatever could queue behind it (a later
    // write, a cork, end()) takes the deferred write back first.
    if (!this.closed && !this.failed) this.queueRest(buf, n);
  }

  /** A view of the reactor's read slots (an echo), which a later read overwrites: queue a copy. */
  private borrowed(buf: Buffer): boolean {
    return this.reactor.reads.holds(buf);
  }

  /**
   * send(2) now. Bytes that are a view of the reactor's read slots (an echo) go by raw address, with no
   * marshalling; others through koffi's Buffer argument.
   */
  private sendNow(buf: Buffer): number {
    const reads = this.reactor.reads;
    if (reads.holds(buf)) return sendRaw(this.fd, reads.addressOf(buf), buf.length);
    return send(this.fd, buf, buf.length, MSG_NOSIGNAL);
  }

  protected transportPause(): void {
    this.setFlag(READ_PAUSED, true);
    this.updateInterest();
  }

  protected transportResume(): void {
    this.setFlag(READ_PAUSED, false);
    this.updateInterest();
    // Edge-triggered: the edge may have passed while paused: let the reactor try a read on its next turn.
    this.reactor.scheduleRead(this);
  }

  protected transportEnd(): void {
    this.flushDeferred();
    this.setFlag(ENDING, true);
    if (this.queued === 0) this.finishEnd();
  }

  protected transportDestroy(): void {
    this.release();
    this.closedByTransport();
  }

  protected transportAbort(): void {
    resetOnClose(this.fd);
    this.transportDestroy();
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
    this.out = null;
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
