// A Connection served by the proactor: the kernel receives into the proactor's shared buffer ring and
// sends what we hand it; this class keeps what is in flight and what waits. Sends stay in order: one send
// in flight per connection; what the app writes meanwhile waits (`first`, `rest`) and leaves as one send (joined)
// when the one in flight completes, its remainder first if it went out short. The first write of a turn
// is not sent at once either: the connection is put on the proactor's flush list and every write the
// turn makes leaves together, in the turn's one io_uring_enter.
import { ConnectionBase, TRANSPORT_FLAGS } from '../../net/connection.ts';
import type { CloseReason } from '../../net/connection-api.ts';
import type { ServerCore } from '../../net/server-core.ts';
import { connectionErrnoError, ECONNRESET, EPIPE, resetOnClose, SHUT_WR, shutdown } from '../../sys/index.ts';
import type { Proactor } from './proactor.ts';

const READ_PAUSED = TRANSPORT_FLAGS;
const EOF = TRANSPORT_FLAGS << 1;
const ENDING = TRANSPORT_FLAGS << 2;
/** A write failed: the connection closes on the next microtask. */
const FAILED = TRANSPORT_FLAGS << 3;
/** A multishot receive is armed for this connection. */
export const RECV_ARMED = TRANSPORT_FLAGS << 4;
/** On the proactor's flush list. */
export const FLUSH_LISTED = TRANSPORT_FLAGS << 5;
/** EOF arrived while paused: delivered after the stash on resume. */
const STASHED_EOF = TRANSPORT_FLAGS << 6;
/** Bits 16-23 of flags: the descriptor's generation (see tag). */
const GENERATION_SHIFT = 16;

export class UringConnection<In = unknown, Out = unknown> extends ConnectionBase<In, Out> {
  readonly fd: number;
  /** Its proactor: on the prototype of the proactor's own subclass (see connectionClass), not a field of
   * every connection. */
  declare protected readonly proactor: Proactor<In, Out>;
  // What it sends, in the connection itself: a separate object would be one more cache line per
  // message, for a few more bytes per idle connection (figures: docs/performance.md).
  /** The send in flight (null: none) and how much of it the kernel has taken. */
  inflight: Buffer | null = null;
  inflightDone = 0;
  /** The pool buffer the send in flight is a view of (-1: none), held until it completes. */
  inflightHold = -1;
  /** The first write waiting for the send in flight (or for the turn's flush), and those after it. */
  first: Buffer | null = null;
  rest: Buffer[] | null = null;
  /** The pool buffer `first` is a view of (-1: none): only a write that may go out as it is holds one. */
  firstHold = -1;
  queuedBytes = 0;

  /**
   * `generation`: of the descriptor number (0-255), kept in flags' bits 16-23 (memory per connection).
   * The addresses are set here, after initColdFields() created them, and not by the caller: V8 sizes the
   * object from the `this.x =` assignments it sees in the constructors, and without these four the last
   * facts spill into a separate property array (docs/performance.md).
   */
  constructor(
    core: ServerCore<In, Out>,
    fd: number,
    generation: number,
    remoteAddress: string,
    remotePort: number,
    localAddress: string,
    localPort: number,
  ) {
    super(core);
    this.initColdFields();
    this.fd = fd;
    this.flags |= generation << GENERATION_SHIFT;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.localAddress = localAddress;
    this.localPort = localPort;
  }

  /** user_data's low word without the operation: (generation << 24) | (fd << 4). */
  get tag(): number {
    return (((this.flags >>> GENERATION_SHIFT) << 24) | (this.fd << 4)) >>> 0;
  }

  get readPaused(): boolean {
    return this.flag(READ_PAUSED);
  }
  get eof(): boolean {
    return this.flag(EOF);
  }
  has(bit: number): boolean {
    return this.flag(bit);
  }
  set(bit: number, on: boolean): void {
    this.setFlag(bit, on);
  }

  start(): void {
    this.core.register(this);
    this.opened();
  }

  get writableLength(): number {
    const inflight = this.inflight === null ? 0 : this.inflight.length - this.inflightDone;
    return inflight + this.queuedBytes;
  }

  // ---- what the proactor reports -----------------------------------------------------------------------
  /** Received bytes: a view of the shared buffer ring, valid until this returns. */
  onData(chunk: Buffer): void {
    if (this.readPaused) {
      // Arrived before the cancel of the receive took effect: kept for resume.
      this.proactor.stash(this, Buffer.from(chunk));
      return;
    }
    this.received(chunk);
  }

  onEof(): void {
    if (this.readPaused) {
      this.setFlag(STASHED_EOF, true);
      return;
    }
    this.setFlag(EOF, true);
    if (this.flag(ENDING) && this.writableLength === 0) {
      this.closeWith();
      return;
    }
    this.peerClosed();
  }

  onError(code: number): void {
    this.destroy(code === ECONNRESET || code === EPIPE ? 'peer-reset' : 'error', connectionErrnoError(code));
  }

  /** Reading resumed: what was stashed while paused goes to the app first. */
  deliverStash(): void {
    const stashes = this.proactor.stashes;
    const stash = stashes.get(this);
    if (stash !== undefined) {
      while (stash.length > 0 && !this.readPaused && !this.closed) this.received(stash.shift()!);
      if (stash.length === 0 || this.closed) stashes.delete(this);
    }
    if (this.flag(STASHED_EOF) && !stashes.has(this) && !this.readPaused && !this.closed) {
      this.setFlag(STASHED_EOF, false);
      this.onEof();
    }
  }

  /** The send in flight completed with `res` (bytes or -errno). */
  onSent(res: number): void {
    const buf = this.inflight!;
    if (res < 0) {
      this.inflight = null;
      this.fail(-res);
      return;
    }
    this.inflightDone += res;
    if (this.inflightDone < buf.length) {
      this.proactor.sendRest(this); // partial: the rest goes first
      return;
    }
    this.inflight = null;
    this.inflightDone = 0;
    if (this.closed) return;
    if (this.first !== null) this.proactor.listFlush(this);
    else if (this.flag(ENDING)) this.finishEnd();
    if (this.writableLength <= this.core.limits.lowWaterMark) this.drained();
  }

  /** The proactor's flush: what waits becomes the send in flight (joined if several); false if none. */
  startSend(): boolean {
    const first = this.first;
    if (first === null || this.inflight !== null) return false;
    const rest = this.rest;
    if (rest === null) {
      this.inflight = first;
      this.inflightHold = this.firstHold;
    } else {
      rest.unshift(first);
      this.inflight = Buffer.concat(rest, this.queuedBytes);
      if (this.firstHold >= 0) this.proactor.release(this.firstHold);
      this.inflightHold = -1;
    }
    this.inflightDone = 0;
    this.first = null;
    this.rest = null;
    this.firstHold = -1;
    this.queuedBytes = 0;
    return true;
  }

  // ---- transport operations ----------------------------------------------------------------------------
  protected transportSendOrQueue(bytes: Buffer | string): number {
    if (this.flag(FAILED)) return 0;
    let buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    let hold = -1;
    const p = this.proactor;
    if (p.inPool(buf)) {
      // A view of received bytes (an echo): sent as it is if it goes out this turn (its buffer is held
      // until then), else copied, so that received buffers go back to the kernel at once.
      if (this.inflight === null && this.first === null) hold = p.hold(buf);
      else buf = Buffer.from(buf);
    }
    if (this.first === null) {
      this.first = buf;
      this.firstHold = hold;
    } else (this.rest ??= []).push(buf);
    this.queuedBytes += buf.length;
    if (this.inflight === null) p.listFlush(this);
    return this.writableLength;
  }

  private fail(errno: number): void {
    if (this.flag(FAILED)) return;
    this.setFlag(FAILED, true);
    queueMicrotask(() => this.onError(errno));
  }

  protected transportPause(): void {
    this.setFlag(READ_PAUSED, true);
    this.proactor.pauseRecv(this);
  }

  protected transportResume(): void {
    this.setFlag(READ_PAUSED, false);
    this.proactor.resumeRecv(this);
  }

  protected transportEnd(): void {
    this.setFlag(ENDING, true);
    if (this.writableLength === 0) this.finishEnd();
  }

  protected transportDestroy(): void {
    this.closeWith();
  }

  protected transportAbort(): void {
    resetOnClose(this.fd);
    this.transportDestroy();
  }

  closeWith(reason?: CloseReason, error?: unknown): void {
    this.release();
    this.closedByTransport(reason, error);
  }

  private finishEnd(): void {
    if (this.eof) {
      this.closeWith();
      return;
    }
    shutdown(this.fd, SHUT_WR);
  }

  private release(): void {
    if (this.firstHold >= 0) this.proactor.release(this.firstHold);
    this.first = null;
    this.rest = null;
    this.firstHold = -1;
    this.queuedBytes = 0;
    this.proactor.stashes.delete(this);
    this.proactor.forget(this);
  }
}

/** The connection class of one proactor: its connections find it on their prototype. */
export function connectionClass<In, Out>(proactor: Proactor<In, Out>): typeof UringConnection<In, Out> {
  const ProactorConnection = class extends UringConnection<In, Out> {};
  Object.defineProperty(ProactorConnection.prototype, 'proactor', { value: proactor });
  return ProactorConnection;
}
