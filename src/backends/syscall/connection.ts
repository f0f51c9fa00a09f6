// A Connection on a raw non-blocking descriptor. It handles its own events (as libuv's uv__stream_io
// does): the multiplexer's readiness comes in through handleEvent(), a read of the loop's batch through
// handleRead(). Its pending output waits in one Outbox (allocated only then): a reply made while the loop
// handles a batch of reads waits for the batch's end, when the loop calls flushListed(); what the kernel
// refuses waits for writability.
import { ConnectionBase, TRANSPORT_FLAGS } from '../../net/connection.ts';
import type { CloseReason } from '../../net/connection-api.ts';
import type { ServerCore } from '../../net/server-core.ts';
import {
  close,
  connectionErrnoError,
  EAGAIN,
  ECONNRESET,
  EPIPE,
  MSG_NOSIGNAL,
  resetOnClose,
  SHUT_WR,
  send,
  sendRaw,
  shutdown,
  socketError,
  unreadBytes,
} from '../../sys/index.ts';
import type { ConnectionLoop } from './loop.ts';
import { ERROR, HANGUP, PEER_HANGUP, READABLE, WRITABLE } from './multiplexer.ts';
import { Outbox } from './outbox.ts';

// This transport's bits of ConnectionBase.flags.
/** Reading is paused (by the app, or while an async handler runs). */
const READ_PAUSED = TRANSPORT_FLAGS;
/** The peer sent FIN: read() returned 0. */
const EOF = TRANSPORT_FLAGS << 1;
/** end() was called: shut down our side once the output is flushed. */
const ENDING = TRANSPORT_FLAGS << 2;
/** A write failed: the connection closes on the next microtask. */
const FAILED = TRANSPORT_FLAGS << 3;
/** On the loop's list of connections to flush at the end of the batch. */
const FLUSH_LISTED = TRANSPORT_FLAGS << 4;
/** The kernel refused part of the output: the rest waits for writability. */
const WAIT_WRITABLE = TRANSPORT_FLAGS << 5;

/** The most output held to the end of a batch (and below the high watermark: see transportSendOrQueue). */
const HOLD_MAX = 64 * 1024;

export class SysConnection<In = unknown, Out = unknown> extends ConnectionBase<In, Out> {
  readonly fd: number;
  private readonly loop: ConnectionLoop<In, Out>;
  /** Output not yet taken by the kernel; null while there is none. */
  private out: Outbox | null = null;
  /** The interest registered with the multiplexer (level-triggered: WRITABLE only while refused bytes
   * wait). */
  private interest = READABLE;

  constructor(core: ServerCore<In, Out>, loop: ConnectionLoop<In, Out>, fd: number) {
    super(core);
    this.initColdFields();
    this.loop = loop;
    this.fd = fd;
  }

  start(): void {
    this.core.register(this);
    this.opened();
  }

  get writableLength(): number {
    return this.out === null ? 0 : this.out.bytes;
  }

  protected override unreadInKernel(): boolean {
    return unreadBytes(this.fd) > 0;
  }

  // ---- events ----------------------------------------------------------------------------------------
  /** The multiplexer reports `events` (READABLE | WRITABLE | ERROR | HANGUP | PEER_HANGUP) on the socket. */
  handleEvent(events: number): void {
    if (events & (READABLE | HANGUP | ERROR)) {
      const flags = this.flags;
      if ((flags & (READ_PAUSED | EOF)) === 0)
        this.loop.read(this, (events & (PEER_HANGUP | HANGUP | ERROR)) !== 0);
      // Edge-triggered and paused, the error or hang-up is left to the read that resuming makes.
      else if ((flags & READ_PAUSED) === 0 || !this.loop.edge) {
        if (events & ERROR) this.onError(socketError(this.fd) || ECONNRESET);
        else if (events & HANGUP) this.closeWith(flags & EOF ? undefined : 'peer-reset');
      }
    }
    // Edge-triggered reports writability with every event; only refused bytes wait for it.
    if (events & WRITABLE && this.flag(WAIT_WRITABLE) && !this.closed) this.handleWritable();
  }

  /**
   * The loop read `chunk` (a view of its slots) for this connection. `more`: the socket may hold more (a
   * full read, or a hang-up whose EOF is still to be read); edge-triggered, no event will say so.
   */
  handleRead(chunk: Buffer, more: boolean): void {
    this.received(chunk);
    // Level-triggered, the kernel reports the socket again; paused, resuming reads it.
    if (this.loop.edge && more && (this.flags & READ_PAUSED) === 0 && !this.closed) this.loop.readAgain(this);
  }

  /** The loop's turn to read this connection again (see readAgain). */
  continueReading(): void {
    if (!this.closed && (this.flags & (READ_PAUSED | EOF)) === 0) this.loop.read(this, true);
  }

  /** read() returned 0. */
  onEof(): void {
    this.flags |= EOF;
    if (this.flag(ENDING) && this.out === null) {
      this.closeWith(); // our FIN went out earlier; now the peer's came: done
      return;
    }
    this.updateInterest();
    this.peerClosed();
  }

  /** read() or write() failed with errno `code`. */
  onError(code: number): void {
    this.destroy(code === ECONNRESET || code === EPIPE ? 'peer-reset' : 'error', connectionErrnoError(code));
  }

  private handleWritable(): void {
    this.flush();
    if (!this.closed && this.writableLength <= this.core.limits.lowWaterMark) this.drained();
  }

  // ---- output ----------------------------------------------------------------------------------------
  /** The bytes now waiting for the kernel (0: all of them went). */
  protected transportSendOrQueue(bytes: Buffer | string): number {
    if (this.flag(FAILED)) return 0;
    const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    let out = this.out;
    if (out === null) {
      if (this.loop.inBatch && buf.length < this.core.limits.highWaterMark && buf.length <= HOLD_MAX) {
        // Held to the end of the batch, when the loop sends every connection's replies together.
        const slots = this.loop.slots;
        out = this.out = Outbox.take();
        out.push(buf, slots.holds(buf) ? slots.addressOf(buf) : -1);
        if (!this.flag(FLUSH_LISTED)) {
          this.flags |= FLUSH_LISTED;
          this.loop.flushLater(this);
        }
        return out.bytes;
      }
      const n = this.sendNow(buf);
      if (n === buf.length) return 0;
      if (n < 0 && n !== -EAGAIN) {
        this.fail(-n);
        return 0;
      }
      out = this.out = Outbox.take();
      out.push(n > 0 ? buf.subarray(n) : buf);
      this.waitWritable(out);
      return out.bytes;
    }
    if (this.flag(WAIT_WRITABLE)) {
      out.push(this.loop.slots.holds(buf) ? Buffer.from(buf) : buf); // it waits past the batch
      return out.bytes;
    }
    out.push(buf);
    if (out.bytes > HOLD_MAX || out.bytes >= this.core.limits.highWaterMark) this.flush();
    return this.writableLength;
  }

  /** The loop's end of a batch: the output held for it goes to the kernel. */
  flushListed(): void {
    this.flags &= ~FLUSH_LISTED;
    if (this.out === null || this.flags & (WAIT_WRITABLE | FAILED) || this.closed) return;
    this.flush();
  }

  /** Hand the output to the kernel: all of it, or the rest waits for writability. */
  private flush(): void {
    const out = this.out!;
    const r = out.flush(this.fd, this.loop.slots);
    if (r < 0) {
      this.fail(-r);
      return;
    }
    if (out.bytes > 0) {
      this.waitWritable(out);
      return;
    }
    this.out = null;
    Outbox.give(out);
    if (this.flags & WAIT_WRITABLE) {
      this.flags &= ~WAIT_WRITABLE;
      if (!this.flag(ENDING)) this.updateInterest();
    }
    if (this.flag(ENDING)) this.finishEnd();
  }

  private waitWritable(out: Outbox): void {
    // Already waiting, every push since was copied as it came (transportSendOrQueue): rescanning the
    // backlog on each partial flush would cost O(queue) per writable event.
    if (this.flag(WAIT_WRITABLE)) return;
    out.own(this.loop.slots);
    this.flags |= WAIT_WRITABLE;
    this.updateInterest();
  }

  /** A write failed: close on the next microtask, so the app's send() returns before close() runs. */
  private fail(errno: number): void {
    if (this.flag(FAILED)) return;
    this.flags |= FAILED;
    queueMicrotask(() => this.onError(errno));
  }

  /**
   * send(2) now. Bytes that are a view of the loop's read slots (an echo) go by raw address, with no
   * marshalling; others through koffi's Buffer argument.
   */
  private sendNow(buf: Buffer): number {
    const slots = this.loop.slots;
    if (slots.holds(buf)) return sendRaw(this.fd, slots.addressOf(buf), buf.length);
    return send(this.fd, buf, buf.length, MSG_NOSIGNAL);
  }

  // ---- the rest of the transport ---------------------------------------------------------------------
  protected transportPause(): void {
    this.flags |= READ_PAUSED;
    this.updateInterest();
  }

  protected transportResume(): void {
    this.flags &= ~READ_PAUSED;
    this.updateInterest();
    // Edge-triggered: the edge may have passed while paused: try a read soon.
    if (this.loop.edge) this.loop.readAgain(this);
  }

  /** Half-close once the output is flushed (a reply held for the batch leaves now, before the FIN). */
  protected transportEnd(): void {
    this.flags |= ENDING;
    if (this.out === null) this.finishEnd();
    else if (!this.flag(WAIT_WRITABLE | FAILED)) this.flush();
  }

  protected transportDestroy(): void {
    this.closeWith();
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
    if (this.flag(EOF)) {
      // Both sides are done: nothing more will come, close now.
      this.closeWith();
      return;
    }
    shutdown(this.fd, SHUT_WR);
    this.updateInterest();
  }

  /** Close the descriptor; unsent output is dropped, as on any close. */
  private release(): void {
    if (this.loop.forget(this)) close(this.fd);
    if (this.out !== null) {
      Outbox.give(this.out);
      this.out = null;
    }
  }

  /** What the multiplexer should watch now (level-triggered only; edge-triggered watches everything). */
  private updateInterest(): void {
    if (this.closed) return;
    const flags = this.flags;
    const interest = (flags & (READ_PAUSED | EOF) ? 0 : READABLE) | (flags & WAIT_WRITABLE ? WRITABLE : 0);
    if (interest !== this.interest) {
      this.interest = interest;
      this.loop.watch(this.fd, interest);
    }
  }
}
