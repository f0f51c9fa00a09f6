// The connected socket as every model and backend presents it to an app. ConnectionBase holds all that
// does not depend on the transport (decoding, dispatch, counters, watermarks, timeouts, close bookkeeping);
// a backend subclass supplies the few transport operations (write, pause, half-close, destroy).
import type { Decoder } from '../protocols/codec.ts';
import { ProtocolError } from '../protocols/codec.ts';
import type { CloseReason, Connection } from './connection-api.ts';
import { ProxyGate } from './proxy-gate.ts';
import type { ServerCore } from './server-core.ts';
import { Deadline } from './timeout-list.ts';
import { type TlsHost, type TlsInfo, TlsSession } from './tls/session.ts';

/** Reasons worth a log line: something went wrong on one side. */
const LOGGED: ReadonlySet<CloseReason> = new Set([
  'protocol-error',
  'handler-error',
  'slow-consumer',
  'tls-error',
  'error',
]);

const OPEN = 0;
const ENDING = 1; // we sent or will send FIN after the queue flushes
const CLOSED = 2;

// Bits of ConnectionBase.flags: this class's in the low byte, a transport's own from TRANSPORT_FLAGS up.
/** The app paused reading. */
const USER_PAUSED = 1;
/** An async handler is running: messages wait in the backlog, reading is paused. */
const BUSY = 2;
/** The peer sent FIN. */
const PEER_ENDED = 4;
/** send() returned false: tell the app when the queue falls to the low watermark. */
const NEED_DRAIN = 8;
/** Inside received(). */
const READING = 16;
/** A PROXY protocol header is expected first (see proxy-gate.ts). */
const PREFACE_PENDING = 32;
/** TLS runs between the transport and the codec (see tls/session.ts). */
const TLS_ON = 64;
/** TLS: the app's open() waits for the end of the handshake. */
const OPEN_PENDING = 128;
/** The first bit of ConnectionBase.flags a transport may use for its own yes/no state. */
export const TRANSPORT_FLAGS = 1 << 8;

export abstract class ConnectionBase<In = unknown, Out = unknown> implements Connection<Out>, TlsHost {
  // Field order is memory order (V8 lays fields out as they are created): the fields every message
  // touches come first — this class's, then the transport's (a subclass's fields are created right
  // after these) — and the facts that few messages touch last, created by initColdFields(). With
  // thousands of connections each cache line a message touches is usually a miss: a message costs two or
  // three lines of this object, not four or five.
  protected state = OPEN;
  /**
   * The connection's yes/no state in one small integer, not a field each: memory per connection is what a
   * server holding 100,000 idle clients pays for (the bits are listed above). A transport keeps its own bits
   * here too, from TRANSPORT_FLAGS up.
   */
  protected flags = 0;
  protected readonly core: ServerCore<In, Out>;
  private readonly decoder: Decoder<In>;
  /** Sends counted inside received(), so that a read's second reply corks the transport. */
  private sendsInRead = 0;
  /** Coarse time of the last byte in or out (ServerCore's clock: ms since the core's epoch, a small int). */
  lastActive: number;
  bytesIn = 0;
  bytesOut = 0;
  messagesIn = 0;
  messagesOut = 0;

  // The facts (see initColdFields()). Not readonly only because initColdFields() sets them.
  declare id: number;
  declare remoteAddress: string;
  declare remotePort: number;
  declare localAddress: string;
  declare localPort: number;
  declare data: unknown;
  /** When accepted, on the same clock (kept small: a full timestamp would be a boxed double). */
  declare private openedTime: number;
  declare private closeReason: CloseReason | undefined;
  declare private closeError: unknown;
  declare private backlog: In[] | null; // messages decoded while busy
  declare private proxyGate: ProxyGate | null; // until a PROXY header is read (see proxy-gate.ts)
  declare private tlsSession: TlsSession | null;
  /** Places in the server's timeout lists; null when that timeout is off (memory per idle connection). */
  declare idleDeadline: Deadline<ConnectionBase<In, Out>> | null;
  declare partialDeadline: Deadline<ConnectionBase<In, Out>> | null;

  /**
   * The connection whose bytes a decoder is decoding now. Decoders emit to one shared function that
   * delivers to it, not to a closure per connection: a closure and its context are two more objects, so
   * two more cache misses, per message.
   */
  private static decoding: ConnectionBase<unknown, unknown> | null = null;
  private static readonly emitDecoded = (message: unknown): void => {
    const conn = ConnectionBase.decoding!;
    conn.deliver(conn.core.app.retainMessages ? conn.retain(message) : message);
  };

  constructor(core: ServerCore<In, Out>) {
    this.core = core;
    this.lastActive = core.now;
    this.decoder = core.app.codec.decoder(core.limits, this);
    if (core.trustedProxy !== null) this.flags |= PREFACE_PENDING;
  }

  /**
   * Creates the facts. A transport calls it first thing in its constructor's body, once its own fields
   * (created right after super() returns) exist, so that they sit with the per-message fields above.
   */
  protected initColdFields(): void {
    const core = this.core;
    this.id = core.nextId();
    this.remoteAddress = '';
    this.remotePort = 0;
    this.localAddress = '';
    this.localPort = 0;
    this.data = undefined;
    this.openedTime = this.lastActive;
    this.closeReason = undefined;
    this.closeError = undefined;
    this.backlog = null;
    this.proxyGate = null;
    this.tlsSession = null;
    if (core.tls !== null) {
      this.tlsSession = new TlsSession(core.tls, this, core.tlsPlainTextReply);
      this.flags |= TLS_ON;
      core.stats.tlsHandshaking++;
    }
    this.idleDeadline = core.idleList ? new Deadline(this) : null;
    this.partialDeadline = core.partialList ? new Deadline(this) : null;
  }

  // ---- transport operations a backend provides -------------------------------------------------
  /** Send bytes, or queue what the kernel does not take now; the bytes queued (0: all went). */
  protected abstract transportSendOrQueue(bytes: Buffer | string): number;
  protected abstract transportPause(): void;
  protected abstract transportResume(): void;
  /** Flush the queue, then shutdown(SHUT_WR). */
  protected abstract transportEnd(): void;
  /** Close at once; the backend then calls closed(). */
  protected abstract transportDestroy(): void;
  /**
   * Close at once with a reset (RST), so the kernel drops what it still holds for the peer instead of
   * keeping it, behind a FIN, for a peer that does not read. Default: an ordinary destroy.
   */
  protected transportAbort(): void {
    this.transportDestroy();
  }
  /** Hold writes until transportUncork(), then hand them to the kernel together (one writev). A
   * transport that cannot gather writes, or gathers them anyway (syscall: to the end of the read batch),
   * keeps these no-ops. */
  protected transportCork(): void {}
  protected transportUncork(): void {}
  abstract get writableLength(): number;

  get openedAt(): number {
    return this.core.epoch + this.openedTime;
  }

  get closed(): boolean {
    return this.state === CLOSED;
  }

  /** TLS facts (protocol, SNI, ALPN, the peer's certificate), or null on a plain-TCP server. */
  get tls(): TlsInfo | null {
    return this.tlsSession;
  }

  // ---- the app's side --------------------------------------------------------------------------
  send(message: Out): boolean {
    if (this.state !== OPEN) return false;
    this.messagesOut++;
    this.core.stats.messagesOut++;
    return this.write(this.core.app.codec.encode(message, this) as Buffer | string);
  }

  write(bytes: Uint8Array | string): boolean {
    if (this.state !== OPEN) return false;
    if (this.flag(TLS_ON)) return this.writeTls(bytes as Buffer | string);
    const n = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
    this.bytesOut += n;
    this.core.stats.bytesOut += n;
    if (this.lastActive !== this.core.now) this.touch();
    if (this.flag(READING) && ++this.sendsInRead === 2) this.transportCork();
    return this.queuedAfterWrite(this.transportSendOrQueue(bytes as Buffer | string));
  }

  /** write() on TLS: plaintext to the engine, whose records reach the transport through tlsCipherOut(). */
  private writeTls(bytes: Buffer | string): boolean {
    if (this.lastActive !== this.core.now) this.touch();
    if (this.flag(READING) && ++this.sendsInRead === 2) this.tlsSession!.cork();
    const held = this.tlsSession!.write(bytes);
    return this.queuedAfterWrite(held + this.writableLength);
  }

  /** Back-pressure from the bytes queued after a write: true, false (wait for drain), or cut off. */
  private queuedAfterWrite(queued: number): boolean {
    if (queued === 0) return true;
    const limits = this.core.limits;
    if (queued > limits.maxWriteBuffer) {
      this.destroy('slow-consumer');
      return false;
    }
    if (queued >= limits.highWaterMark) {
      this.flags |= NEED_DRAIN;
      return false;
    }
    return true;
  }

  pause(): void {
    if (this.flag(USER_PAUSED)) return;
    this.flags |= USER_PAUSED;
    if (!this.flag(BUSY)) this.transportPause();
  }

  resume(): void {
    if (!this.flag(USER_PAUSED)) return;
    this.flags &= ~USER_PAUSED;
    if (!this.flag(BUSY) && this.state !== CLOSED) this.transportResume();
  }

  end(): void {
    if (this.state !== OPEN) return;
    if (this.sendsInRead >= 2) {
      this.sendsInRead = 0;
      this.uncork();
    }
    this.state = ENDING;
    this.closeReason ??= this.flag(PEER_ENDED) ? 'peer-closed' : 'ended';
    if (this.flag(TLS_ON)) this.tlsSession!.end();
    else this.transportEnd();
  }

  destroy(reason: CloseReason = 'destroyed', error?: unknown): void {
    if (this.state === CLOSED) return;
    if (
      this.closeReason === undefined ||
      this.closeReason === 'ended' ||
      this.closeReason === 'peer-closed'
    ) {
      this.closeReason = reason;
      this.closeError = error;
    }
    this.state = CLOSED;
    // A slow consumer stopped reading: a FIN would wait behind the bytes it never took, and the kernel
    // would keep them (an orphan socket) for minutes of zero-window probes.
    if (reason === 'slow-consumer') this.transportAbort();
    else this.transportDestroy();
  }

  /** Nothing in or out since `time`, no handler running, nothing queued or half-decoded. */
  isQuietSince(time: number): boolean {
    return (
      this.state === OPEN &&
      this.lastActive <= time &&
      !this.flag(BUSY) &&
      this.writableLength === 0 &&
      this.decoder.buffered === 0 &&
      !this.unreadInKernel()
    );
  }

  /** Bytes the peer sent wait in the kernel, not yet read: the connection is not quiet, however long
   * its last read took (a worker just started under load reads its first bytes late). */
  protected unreadInKernel(): boolean {
    return false;
  }

  /** The server is stopping: flush, then half-close, recorded as 'shutdown'. */
  endForShutdown(): void {
    if (this.state !== OPEN) return;
    this.closeReason ??= 'shutdown';
    const goodbye = this.decoder.goodbye?.();
    if (goodbye !== undefined) this.write(goodbye);
    this.end();
  }

  // ---- events a backend reports ------------------------------------------------------------------
  /** Bytes arrived. `chunk` may be reused by the backend after this returns. */
  protected received(chunk: Buffer): void {
    if (this.state !== OPEN) return; // after end() or a protocol error, input is read and dropped
    // Bytes in count what crosses the wire: ciphertext under TLS, not the plaintext it decrypts to.
    const n = chunk.length;
    this.bytesIn += n;
    const core = this.core;
    core.stats.bytesIn += n;
    if (this.lastActive !== core.now) this.touch();
    if (this.flag(PREFACE_PENDING)) {
      // A PROXY header comes first, before the TLS handshake too (the load balancer does not end TLS).
      const gate = (this.proxyGate ??= new ProxyGate());
      const rest = gate.pass(this, core, chunk);
      if (gate.done) {
        this.flags &= ~PREFACE_PENDING;
        this.proxyGate = null;
      }
      if (rest === null) return;
      chunk = rest;
    }
    if (this.flag(TLS_ON)) this.tlsSession!.input(chunk);
    else this.decode(chunk);
  }

  /** Application bytes (plaintext, under TLS) to the codec and the app. */
  private decode(chunk: Buffer): void {
    const core = this.core;
    this.sendsInRead = 0;
    this.flags |= READING;
    const outer = ConnectionBase.decoding; // a handler may feed another connection's bytes
    ConnectionBase.decoding = this as ConnectionBase<unknown, unknown>;
    try {
      this.decoder.push(chunk, ConnectionBase.emitDecoded as (message: In) => void);
      ConnectionBase.decoding = outer;
    } catch (error) {
      ConnectionBase.decoding = outer;
      this.uncorkAfterRead();
      this.protocolError(error);
      return;
    }
    this.uncorkAfterRead();
    if (core.partialList) {
      if (this.decoder.buffered > 0) {
        if (!this.partialDeadline!.linked) core.partialList.touch(this.partialDeadline!, core.now);
      } else if (this.partialDeadline!.linked) core.partialList.remove(this.partialDeadline!);
    }
  }

  /** The peer half-closed (EOF). Answer what is pending, then close our side. */
  protected peerClosed(): void {
    if (this.flag(TLS_ON)) {
      this.tlsSession!.inputEnd(); // the engine reports the end of the plaintext in turn (tlsPlainEnd)
      return;
    }
    this.plainEnded();
  }

  private plainEnded(): void {
    this.flags |= PEER_ENDED;
    if (!this.flag(BUSY)) this.end();
  }

  /** The transport's queue fell to the low watermark (or emptied). */
  protected drained(): void {
    if (!this.flag(NEED_DRAIN) || this.state !== OPEN) return;
    this.flags &= ~NEED_DRAIN;
    const drain = this.core.app.drain;
    if (drain) this.callHook(drain);
  }

  /** The transport is closed for good: account for it and tell the app, once. */
  protected closedByTransport(reason?: CloseReason, error?: unknown): void {
    if (this.closeReason === undefined) {
      this.closeReason = reason ?? (this.flag(PEER_ENDED) ? 'peer-closed' : 'peer-reset');
      this.closeError = error;
    }
    this.state = CLOSED;
    if (this.flag(TLS_ON)) {
      if (!this.tlsSession!.secure) this.core.stats.tlsHandshaking--;
      this.tlsSession!.dispose();
    }
    if (!this.core.forget(this)) return;
    const why = this.closeReason!;
    if (LOGGED.has(why)) {
      this.core.logger.warn(`connection ${this.id} closed: ${why}`, {
        peer: `${this.remoteAddress}:${this.remotePort}`,
        error: this.closeError instanceof Error ? this.closeError.message : this.closeError,
      });
    }
    this.core.countClose(why);
    const close = this.core.app.close;
    if (close) {
      try {
        close(this, why);
      } catch (error) {
        this.core.logger.error(`close handler threw for connection ${this.id}`, { error });
      }
    }
  }

  /** The app's open() hook; backends call it once the connection is registered. */
  protected opened(): void {
    if (this.flag(TLS_ON) && !this.tlsSession!.secure) {
      this.flags |= OPEN_PENDING; // open() runs once the handshake is done, so it can see conn.tls
      return;
    }
    const open = this.core.app.open;
    if (open) this.callHook(open);
  }

  // ---- the TLS layer's events (TlsHost; see tls/session.ts) -----------------------------------
  tlsCipherOut(bytes: Buffer): void {
    if (this.state === CLOSED) return;
    this.bytesOut += bytes.length;
    this.core.stats.bytesOut += bytes.length;
    const queued = this.transportSendOrQueue(bytes);
    if (queued > this.core.limits.maxWriteBuffer) this.destroy('slow-consumer');
  }

  tlsCipherEnd(): void {
    if (this.state !== CLOSED) this.transportEnd();
  }

  tlsPlainIn(chunk: Buffer): void {
    if (this.state === OPEN) this.decode(chunk);
  }

  tlsPlainEnd(): void {
    if (this.state !== CLOSED) this.plainEnded();
  }

  tlsSecured(): void {
    const stats = this.core.stats;
    stats.tlsHandshaking--;
    stats.tlsHandshakes++;
    if (this.tlsSession!.resumed) stats.tlsResumed++;
    if (this.state === CLOSED || !this.flag(OPEN_PENDING)) return;
    this.flags &= ~OPEN_PENDING;
    this.opened();
  }

  tlsFailed(reason: 'tls-error' | 'handshake-timeout', error: Error, reply: Buffer | null): void {
    if (this.state === CLOSED) return;
    if (reply === null || this.state !== OPEN) {
      this.destroy(reason, error);
      return;
    }
    // Plain text on the TLS port, from a client of a protocol with an error reply (HTTP's 400): say so in
    // plain text, then close.
    this.closeReason = reason;
    this.closeError = error;
    this.state = ENDING;
    this.transportSendOrQueue(reply);
    this.transportEnd();
  }

  // ---- internals -----------------------------------------------------------------------------------
  /** One bit of `flags` (a transport's too). */
  protected flag(bit: number): boolean {
    return (this.flags & bit) !== 0;
  }

  protected setFlag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }

  /**
   * Replies to pipelined requests: the first send() of a read goes out on its own (the common one-request
   * read pays nothing extra); from the second on, writes are corked and leave in one writev when the read
   * has been handled, in order, before anything else (an error reply, a FIN).
   */
  private uncorkAfterRead(): void {
    this.flags &= ~READING;
    if (this.sendsInRead >= 2) {
      this.sendsInRead = 0;
      this.uncork();
      // The gathered bytes may all have gone at once: then no writability event will say so.
      if (this.flag(NEED_DRAIN) && this.writableLength <= this.core.limits.lowWaterMark) this.drained();
    }
  }

  private uncork(): void {
    if (this.flag(TLS_ON)) this.tlsSession!.uncork();
    else this.transportUncork();
  }

  private touch(): void {
    const core = this.core;
    this.lastActive = core.now;
    if (core.idleList) core.idleList.touch(this.idleDeadline!, core.now);
  }

  private deliver(message: In): void {
    this.messagesIn++;
    this.core.stats.messagesIn++;
    if (this.flag(BUSY)) {
      (this.backlog ??= []).push(this.core.app.retainMessages ? message : this.retain(message));
      return;
    }
    this.dispatch(message);
  }

  private dispatch(message: In): void {
    if (this.state === CLOSED) return;
    let result: unknown;
    try {
      result = this.core.app.message(this, message);
    } catch (error) {
      this.destroy('handler-error', error);
      return;
    }
    if (result !== undefined && typeof (result as Promise<void>).then === 'function')
      this.await(result as Promise<void>);
  }

  private callHook(hook: (conn: this) => unknown): void {
    let result: unknown;
    try {
      result = hook(this);
    } catch (error) {
      this.destroy('handler-error', error);
      return;
    }
    if (result !== undefined && typeof (result as Promise<void>).then === 'function')
      this.await(result as Promise<void>);
  }

  private await(promise: Promise<void>): void {
    this.flags |= BUSY;
    if (!this.flag(USER_PAUSED)) this.transportPause();
    promise.then(
      () => this.settled(),
      (error) => this.destroy('handler-error', error),
    );
  }

  private settled(): void {
    this.flags &= ~BUSY;
    const backlog = this.backlog;
    while (backlog !== null && backlog.length > 0 && !this.flag(BUSY) && this.state !== CLOSED)
      this.dispatch(backlog.shift()!);
    if (this.flag(BUSY) || this.state === CLOSED) return;
    if (this.flag(PEER_ENDED)) this.end();
    else if (!this.flag(USER_PAUSED)) this.transportResume();
  }

  private retain(message: In): In {
    const codec = this.core.app.codec;
    if (codec.retain) return codec.retain(message);
    return (Buffer.isBuffer(message) ? Buffer.from(message) : message) as In;
  }

  private protocolError(error: unknown): void {
    if (!(error instanceof ProtocolError)) {
      this.destroy('protocol-error', error);
      return;
    }
    if (error.reply && this.state === OPEN) {
      // Tell the peer why, then close once the reply is flushed.
      const reply = Buffer.from(error.reply.buffer, error.reply.byteOffset, error.reply.byteLength);
      if (this.flag(TLS_ON)) this.tlsSession!.write(reply);
      else this.transportSendOrQueue(reply);
      this.closeReason = 'protocol-error';
      this.closeError = error;
      this.end();
      return;
    }
    this.destroy('protocol-error', error);
  }
}
