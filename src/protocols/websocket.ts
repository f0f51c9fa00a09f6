// WebSocket (RFC 6455), server side: the HTTP/1.1 upgrade handshake, then frames. The decoder answers
// what the protocol answers by itself (the 101 response, pongs, the close handshake) through the peer it
// is given, and emits data messages only. A message whose frame is whole in one read is unmasked in place
// and emitted as a view of that read (zero copy); sending that same message back (an echo) writes the
// server's frame header over the client's mask key, just before the payload, and sends a view of the
// read, so an echo neither allocates a payload nor copies one. Fragmented messages, and frames split
// across reads, are assembled in a buffer of their own, a fresh one per message (a reply may leave after
// message() returns: a buffer handed out is never written again). Text is checked as UTF-8 fragment by
// fragment, so a bad sequence fails fast and a code point split across fragments passes. Every refusal is
// a ProtocolError whose reply is the close frame (or the HTTP response) that says why: the connection
// sends it and closes, the others go on. permessage-deflate is negotiated only when enabled
// (perMessageDeflate, --ws-deflate; otherwise a client asking for it gets plain frames, as RFC 6455
// allows); a compressed message is inflated whole, then checked and emitted like any other (a copy, not a
// view). Frames and close codes are in websocket-frames.ts, the handshake's fast path in
// websocket-handshake.ts, permessage-deflate in websocket-deflate.ts.

import { isUtf8 } from 'node:buffer';
import {
  type Codec,
  type CodecLimits,
  type CodecPeer,
  DEFAULT_MAX_MESSAGE_BYTES,
  type Decoder,
  ProtocolError,
} from './codec.ts';
import { HttpDecoder, type HttpHeaders, type HttpRequest, response } from './http.ts';
import {
  type DeflateOptions,
  type DeflateSession,
  deflate,
  inflate,
  negotiateDeflate,
} from './websocket-deflate.ts';
import {
  CLOSE_GOING_AWAY,
  CLOSE_INVALID_DATA,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_BIG,
  closeFrame,
  EMPTY,
  frame,
  headerLength,
  OP_BINARY,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  unmask,
  unmaskOr,
  utf8Tail,
  validCloseCode,
  writeHeader,
} from './websocket-frames.ts';
import { acceptKey, FastRequest, fastUpgrade, response101 } from './websocket-handshake.ts';

export type { DeflateOptions } from './websocket-deflate.ts';
export * from './websocket-frames.ts';
export { acceptKey } from './websocket-handshake.ts';

/** What the decoder's connection lets it do: write the protocol's own answers and close. */
export type WsPeer = CodecPeer;

/** The upgrade request, as the app's upgrade() and open() hooks see it. */
export interface WsRequest {
  /** The request target's path, without the query. */
  readonly path: string;
  /** The whole request target (path and query). */
  readonly target: string;
  readonly headers: HttpHeaders;
  /** Subprotocols the client offered (Sec-WebSocket-Protocol), in its order of preference. */
  readonly protocols: string[];
  /** The subprotocol chosen by upgrade(), or ''. */
  protocol: string;
}

/** A text or binary message. Borrowed: valid until message() returns (retain() or copy `data` to keep it). */
export class WsMessage {
  /** false for a text message (then `data` is valid UTF-8), true for binary. */
  binary: boolean;
  /** The payload is src[start, end); `data` makes that view when asked (an echo never asks). */
  src: Buffer;
  start: number;
  end: number;
  /** Bytes free right before the payload that a reply frame's header may use (the spent mask key), or 0. */
  headroom: number;
  private view: Buffer | null;
  constructor(binary: boolean, data: Buffer, headroom = 0) {
    this.binary = binary;
    this.src = data;
    this.start = 0;
    this.end = data.length;
    this.headroom = headroom;
    this.view = data;
  }
  /** The payload (a view: borrowed as the message is). */
  get data(): Buffer {
    return (this.view ??= this.src.subarray(this.start, this.end));
  }
  get length(): number {
    return this.end - this.start;
  }
  /** The text of a text message (a copy, as a string). */
  text(): string {
    return this.src.toString('utf8', this.start, this.end);
  }
  /** @internal the decoder points the shared message at the next payload */
  set(binary: boolean, src: Buffer, start: number, end: number, headroom: number): this {
    this.binary = binary;
    this.src = src;
    this.start = start;
    this.end = end;
    this.headroom = headroom;
    this.view = null;
    return this;
  }
}

export interface WebSocketOptions {
  /** Largest message, all its fragments together (default $C10K_WS_MAX_MESSAGE or 1 MiB): close 1009. */
  maxMessageBytes?: number;
  /** Largest single frame (default maxMessageBytes): close 1009. */
  maxFrameBytes?: number;
  /** Largest upgrade request head (default 8 KiB): 431. */
  maxHandshakeBytes?: number;
  /**
   * Offer permessage-deflate (RFC 7692) to clients that ask (default: on when $C10K_WS_DEFLATE is 1).
   * Memory: nothing per connection until its client sends a compressed message, then up to 32 KiB (the
   * client's window) unless it offered client_no_context_takeover; our messages are compressed each alone.
   */
  perMessageDeflate?: boolean | DeflateOptions;
  /**
   * Ping each open WebSocket this often (ms; default $C10K_WS_PING or 0 = never); one that has not
   * answered by the next ping is closed ('idle-timeout').
   */
  pingInterval?: number;
  /**
   * Decide on an upgrade request: undefined or true accepts, a string accepts with that subprotocol
   * (one of req.protocols), false refuses with 403, a number refuses with that HTTP status.
   */
  upgrade?(req: WsRequest, conn: WsPeer): boolean | string | number | undefined;
  /**
   * The handshake is done (the 101 is queued): the app may send now. With a fallback codec, also called
   * (with req null) when the stream goes to it.
   */
  open?(conn: WsPeer, req: WsRequest | null): void;
  /** The peer sent a close frame (code 1005 when it gave none). */
  closing?(conn: WsPeer, code: number, reason: string): void;
  /**
   * A plain HTTP request (no upgrade) on the connection: answer it with conn.write(http.response(...))
   * (and end() when not keeping alive). Without it, such a request gets 426 Upgrade Required.
   */
  http?(req: HttpRequest, conn: WsPeer): void;
  /**
   * A codec for clients that do not speak HTTP first: when the first bytes are not "GET ", they go to
   * this codec's decoder for the whole connection (its messages reach message() as it emits them).
   */
  fallback?: Codec<unknown, unknown>;
}

/** The incoming message: a WsMessage, or what the fallback codec emits. */
export type WsIn = WsMessage;
/** What send() takes: a string (a text message), bytes (binary) or a WsMessage (its own kind). */
export type WsOut = WsMessage | string | Uint8Array;

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  return Number.isSafeInteger(v) && v >= 0 ? v : fallback;
}

function fail(code: number, why: string): never {
  throw new ProtocolError(`websocket ${code}: ${why}`, closeFrame(code, why));
}

function refuse(status: number, why: string, extra: Record<string, string> = {}): never {
  throw new ProtocolError(
    `websocket handshake ${status}: ${why}`,
    response(status, { 'content-type': 'text/plain', ...extra }, `${why}\n`, false),
  );
}

// ---- the decoder ---------------------------------------------------------------------------------------

const HANDSHAKE = 0;
const FRAMES = 1;
const FALLBACK = 2;
const CLOSED = 3;

const GET = Buffer.from('GET ');
const CRLFCRLF = Buffer.from('\r\n\r\n');

interface Settings {
  /** permessage-deflate when enabled: its options, and each negotiated connection's session. */
  deflate: { threshold: number; level: number; sessions: WeakMap<WsPeer, DeflateSession> } | null;
  maxMessage: number;
  maxFrame: number;
  maxHandshake: number;
  options: WebSocketOptions;
  pinger: Pinger | null;
}

/** One timer for every open WebSocket of a codec: pings, and closes those that did not answer the last. */
class Pinger {
  private readonly sessions = new Set<WsDecoder>();
  private timer: NodeJS.Timeout | null = null;
  private readonly interval: number;
  constructor(interval: number) {
    this.interval = interval;
  }
  add(d: WsDecoder): void {
    this.sessions.add(d);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.interval);
      this.timer.unref();
    }
  }
  private tick(): void {
    const ping = PING;
    for (const d of this.sessions) {
      const conn = d.peer;
      if (conn.closed || d.state !== FRAMES) this.sessions.delete(d);
      else if (d.awaitingPong) {
        this.sessions.delete(d);
        conn.destroy('idle-timeout');
      } else {
        d.awaitingPong = true;
        conn.write(ping);
      }
    }
    if (this.sessions.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

const PING = frame(OP_PING);

// Fields are few and mostly null while idle: memory per idle connection is the target.
/** A WebSocket decoder's state while a frame, a message or a request head is incomplete. */
class Partial {
  /** Bytes of the current frame header (up to 14) while it spans reads. */
  head: Buffer | null = null;
  headLen = 0;
  /** The frame being read across reads: opcode, fin, payload length left, mask key, payload bytes read. */
  op = 0;
  fin = false;
  left = 0;
  key = 0;
  done = 0;
  /** The data message being assembled (fragments, or a frame split across reads): 10 bytes of headroom. */
  msg: Buffer | null = null;
  msgLen = 0;
  /** Opcode of the message in progress (text/binary) or 0; how much of it is UTF-8-checked. */
  msgOp = 0;
  /** The message in progress is compressed (permessage-deflate: RSV1 on its first frame). */
  deflated = false;
  checked = 0;
  /** A control frame's payload split across reads. */
  ctl: Buffer | null = null;
  /** The handshake's bytes while they span reads, or the fallback decoder. */
  pending: Buffer | null = null;
  pendingLen = 0;
}

class WsDecoder implements Decoder<unknown> {
  readonly peer: WsPeer;
  private readonly s: Settings;
  state = HANDSHAKE;
  awaitingPong = false;
  /** What an incomplete frame, message or request head needs; null between whole frames (the usual). */
  private part: Partial | null = null;
  private fallback: Decoder<unknown> | null = null;

  constructor(peer: WsPeer, settings: Settings) {
    this.peer = peer;
    this.s = settings;
  }

  get buffered(): number {
    if (this.fallback !== null) return this.fallback.buffered;
    const q = this.part;
    return q === null ? 0 : q.pendingLen + q.headLen + q.msgLen + (q.left > 0 ? 1 : 0);
  }

  /** The server is stopping: an open WebSocket is told so (1001) before its FIN. */
  goodbye(): Uint8Array | undefined {
    if (this.state !== FRAMES) return undefined;
    this.state = CLOSED;
    return closeFrame(CLOSE_GOING_AWAY, 'server stopping');
  }

  /** The partial state, made when first needed. */
  private get q(): Partial {
    return (this.part ??= new Partial());
  }

  private get pendingLen(): number {
    return this.part === null ? 0 : this.part.pendingLen;
  }

  push(chunk: Buffer, emit: (message: unknown) => void): void {
    let at = 0;
    if (this.state === HANDSHAKE) {
      at = this.handshake(chunk, emit);
      if (at < 0) return;
    }
    if (this.state === FALLBACK) {
      this.fallback!.push(at === 0 ? chunk : chunk.subarray(at), emit);
      return;
    }
    if (this.state === FRAMES) this.frames(chunk, at, emit);
    const q = this.part;
    // between whole frames an idle connection keeps nothing
    if (
      q !== null &&
      q.left === 0 &&
      q.headLen === 0 &&
      q.msgOp === 0 &&
      q.pendingLen === 0 &&
      q.ctl === null
    )
      this.part = null;
  }

  // ---- handshake -----------------------------------------------------------------------------------

  /** Reads request heads until one upgrades; returns where frames start in chunk, or -1. */
  private handshake(chunk: Buffer, emit: (message: unknown) => void): number {
    let at = 0;
    const n = chunk.length;
    while (at < n && this.state === HANDSHAKE) {
      if (this.s.options.fallback && this.pendingLen < GET.length) {
        // Not HTTP: the fallback codec gets the stream from its first byte.
        const have = this.pendingLen;
        const take = Math.min(GET.length - have, n - at);
        let http = true;
        for (let i = 0; i < have && http; i++) http = this.q.pending![i] === GET[i];
        for (let i = 0; i < take && http; i++) http = chunk[at + i] === GET[have + i];
        if (!http) {
          const fallback = this.s.options.fallback.decoder(undefined, this.peer);
          this.fallback = fallback;
          this.state = FALLBACK;
          this.s.options.open?.(this.peer, null);
          if (have > 0) {
            const before = this.q.pending!.subarray(0, have);
            this.q.pending = null;
            this.q.pendingLen = 0;
            fallback.push(before, emit);
          }
          return at;
        }
        if (have + take < GET.length) return this.keep(chunk, at, n);
      }
      let end: number; // where the head ends in chunk
      if (this.pendingLen === 0) {
        const crlf = chunk.indexOf(CRLFCRLF, at);
        if (crlf === -1) return this.keep(chunk, at, n);
        end = crlf + 4;
        if (end - at > this.s.maxHandshake) this.tooBig();
        at = this.request(chunk.subarray(at, end), end);
        continue;
      }
      // The head began in an earlier read: look for its end across the seam, then in this chunk.
      const p = this.q.pending!;
      const tail = Math.min(3, this.q.pendingLen);
      const seam = Buffer.concat([
        p.subarray(this.q.pendingLen - tail, this.q.pendingLen),
        chunk.subarray(at, at + 3),
      ]);
      const s = seam.indexOf(CRLFCRLF);
      if (s !== -1) end = at + s + 4 - tail;
      else {
        const crlf = chunk.indexOf(CRLFCRLF, at);
        if (crlf === -1) return this.keep(chunk, at, n);
        end = crlf + 4;
      }
      this.keep(chunk, at, end);
      const head = p === this.q.pending ? p : this.q.pending!;
      const len = this.q.pendingLen;
      this.q.pending = null;
      this.q.pendingLen = 0;
      at = this.request(head.subarray(0, len), end);
    }
    return this.state === HANDSHAKE ? -1 : at;
  }

  private tooBig(): never {
    refuse(431, `request head larger than ${this.s.maxHandshake} bytes`);
  }

  /** Keep chunk[from, to) of an unfinished head. */
  private keep(chunk: Buffer, from: number, to: number): number {
    const need = this.q.pendingLen + (to - from);
    if (need > this.s.maxHandshake) this.tooBig();
    if (this.q.pending === null || this.q.pending.length < need) {
      const grown = Buffer.allocUnsafe(
        Math.min(Math.max(need, 512, (this.q.pending?.length ?? 0) * 2), this.s.maxHandshake),
      );
      if (this.q.pending !== null) this.q.pending.copy(grown, 0, 0, this.q.pendingLen);
      this.q.pending = grown;
    }
    chunk.copy(this.q.pending, this.q.pendingLen, from, to);
    this.q.pendingLen = need;
    return -1;
  }

  /** Answers one request head; returns `next` (where reading goes on). */
  private request(head: Buffer, next: number): number {
    const s = this.s;
    // The common request (an upgrade with nothing unusual in it) is checked byte by byte without making
    // a string of every header; anything else takes the general path below.
    if (s.options.upgrade === undefined && fastUpgrade(head)) {
      this.peer.write(response101(head));
      if (s.options.open === undefined) return this.upgraded(next, null);
      const req = new FastRequest(head);
      try {
        return this.upgraded(next, req);
      } finally {
        req.release();
      }
    }
    return this.generalRequest(head, next);
  }

  private upgraded(next: number, req: WsRequest | null): number {
    this.state = FRAMES;
    if (this.s.pinger !== null) this.s.pinger.add(this);
    const open = this.s.options.open;
    if (open !== undefined) open(this.peer, req!);
    return next;
  }

  private generalRequest(head: Buffer, next: number): number {
    let req: HttpRequest | null = null;
    try {
      new HttpDecoder({ maxHeaderBytes: this.s.maxHandshake }).push(head, (r) => {
        req = r;
      });
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      refuse(400, 'malformed request');
    }
    if (req === null) refuse(400, 'a request body is not served here');
    const r = req as HttpRequest;
    const h = r.headers;
    const upgrade = h.get('upgrade');
    const options = this.s.options;
    if (upgrade === undefined || !hasToken(upgrade, 'websocket')) {
      if (options.http) {
        options.http(r, this.peer);
        return next;
      }
      refuse(426, 'this server speaks WebSocket only', { upgrade: 'websocket' });
    }
    if (r.method !== 'GET') refuse(405, 'a WebSocket upgrade is a GET');
    if (r.version !== '1.1') refuse(400, 'a WebSocket upgrade needs HTTP/1.1');
    if (!h.has('host')) refuse(400, 'no Host header');
    if (!hasToken(h.get('connection') ?? '', 'upgrade')) refuse(400, 'Connection does not include Upgrade');
    if (h.get('sec-websocket-version') !== '13')
      refuse(426, 'only WebSocket version 13 is served', { 'sec-websocket-version': '13' });
    const key = h.get('sec-websocket-key') ?? '';
    if (!/^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key)) refuse(400, 'invalid Sec-WebSocket-Key');
    const offered = h
      .getAll('sec-websocket-protocol')
      .flatMap((v) => v.split(','))
      .map((p) => p.trim())
      .filter((p) => p.length > 0);
    const q = r.target.indexOf('?');
    const wsReq: WsRequest = {
      path: q === -1 ? r.target : r.target.slice(0, q),
      target: r.target,
      headers: h,
      protocols: offered,
      protocol: '',
    };
    const verdict = options.upgrade ? options.upgrade(wsReq, this.peer) : undefined;
    if (verdict === false) refuse(403, 'upgrade refused');
    if (typeof verdict === 'number') refuse(verdict, 'upgrade refused');
    if (typeof verdict === 'string') {
      if (!offered.includes(verdict))
        throw new Error(`upgrade() chose '${verdict}', which the client did not offer`);
      wsReq.protocol = verdict;
    }
    let head101 =
      'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n' +
      `sec-websocket-accept: ${acceptKey(Buffer.from(key, 'latin1'), 0)}\r\n`;
    if (wsReq.protocol !== '') head101 += `sec-websocket-protocol: ${wsReq.protocol}\r\n`;
    const deflate = this.s.deflate;
    const offers = deflate === null ? [] : h.getAll('sec-websocket-extensions');
    const agreed = offers.length === 0 ? null : negotiateDeflate(offers);
    if (agreed !== null) {
      deflate!.sessions.set(this.peer, agreed.session);
      head101 += `sec-websocket-extensions: ${agreed.response}\r\n`;
    }
    this.peer.write(head101 + '\r\n');
    return this.upgraded(next, wsReq);
  }

  // ---- frames --------------------------------------------------------------------------------------

  private frames(chunk: Buffer, at: number, emit: (message: unknown) => void): void {
    const n = chunk.length;
    while (at < n && this.state === FRAMES) {
      const part = this.part;
      if (part !== null && part.left > 0) {
        at = this.payload(chunk, at, emit);
        continue;
      }
      // A frame header: read in place when whole in this chunk, else assembled in `head` (14 bytes).
      let src: Buffer = chunk;
      let p = at;
      let avail = n - at;
      const had = part === null ? 0 : part.headLen;
      if (had > 0) {
        const head = this.q.head!;
        const take = Math.min(14 - had, n - at);
        chunk.copy(head, had, at, at + take);
        src = head;
        p = 0;
        avail = had + take;
      }
      const len7 = avail >= 2 ? src[p + 1] & 0x7f : 0;
      const h = (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + 4;
      if (avail < h) {
        if (avail >= 2) this.check(src[p], src[p + 1], -1); // fail fast on what is known
        // the rest of this chunk is an incomplete header: keep it for the next read
        if (this.q.head === null) this.q.head = Buffer.allocUnsafe(14);
        if (had === 0) chunk.copy(this.q.head, 0, at, n);
        this.q.headLen = avail;
        return;
      }
      const b0 = src[p];
      let len = len7;
      if (len7 === 126) len = (src[p + 2] << 8) | src[p + 3];
      else if (len7 === 127) {
        const hi = src.readUInt32BE(p + 2);
        if (hi > 0x1fffff) fail(CLOSE_TOO_BIG, 'frame length beyond 2^53');
        len = hi * 0x100000000 + src.readUInt32BE(p + 6);
      }
      this.check(b0, src[p + 1], len);
      const key = src.readUInt32BE(p + h - 4);
      at += h - had;
      if (part !== null) part.headLen = 0;
      const op = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if (fin && op !== 0 && op < 8 && n - at >= len) {
        // The common case: a whole unfragmented message in this read. Unmask in place, emit a view.
        const start = at;
        at += len;
        if ((b0 & 0x40) !== 0) {
          unmask(chunk, start, at, key, 0);
          const out = this.inflate(chunk.subarray(start, at));
          if (op === OP_TEXT && !isUtf8(out)) fail(CLOSE_INVALID_DATA, 'text is not valid UTF-8');
          emit(SHARED.set(op === OP_BINARY, out, 0, out.length, 0));
          continue;
        }
        // the OR of every byte says whether the text is all ASCII (then it is UTF-8, no check needed)
        const high = unmaskOr(chunk, start, at, key);
        if (op === OP_TEXT && high >= 0x80 && !isUtf8(chunk.subarray(start, at)))
          fail(CLOSE_INVALID_DATA, 'text is not valid UTF-8');
        // the client's header and mask key before the payload are spent: a reply's header fits there
        emit(SHARED.set(op === OP_BINARY, chunk, start, at, had === 0 ? h : 0));
        continue;
      }
      this.q.op = op;
      this.q.fin = fin;
      this.q.left = len;
      this.q.key = key;
      this.q.done = 0;
      if (op >= 8) this.q.ctl = len > 0 ? Buffer.allocUnsafe(len) : EMPTY;
      else {
        if (op !== 0) {
          this.q.msgOp = op;
          this.q.deflated = (b0 & 0x40) !== 0;
        }
        this.grow(len);
      }
      if (len === 0) this.frameDone(emit);
    }
  }

  /** Refuse what the frame's first two bytes (and its length, once known, or -1) make invalid. */
  private check(b0: number, b1: number, len: number): void {
    const op = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) this.checkReserved(b0, op);
    if ((b1 & 0x80) === 0) fail(CLOSE_PROTOCOL_ERROR, 'a client frame must be masked');
    if (op >= 8) {
      if (op > OP_PONG) fail(CLOSE_PROTOCOL_ERROR, `unknown opcode ${op}`);
      if ((b0 & 0x80) === 0) fail(CLOSE_PROTOCOL_ERROR, 'a control frame must not be fragmented');
      if ((b1 & 0x7f) > 125) fail(CLOSE_PROTOCOL_ERROR, 'a control frame carries at most 125 bytes');
      return;
    }
    if (op > OP_BINARY) fail(CLOSE_PROTOCOL_ERROR, `unknown opcode ${op}`);
    const part = this.part;
    const msgOp = part === null ? 0 : part.msgOp;
    if (op === OP_CONTINUATION && msgOp === 0)
      fail(CLOSE_PROTOCOL_ERROR, 'a continuation frame with no message to continue');
    if (op !== OP_CONTINUATION && msgOp !== 0)
      fail(CLOSE_PROTOCOL_ERROR, 'a new message before the last one finished');
    if (len < 0) return;
    if (len > this.s.maxFrame) fail(CLOSE_TOO_BIG, `frame larger than ${this.s.maxFrame} bytes`);
    if ((part === null ? 0 : part.msgLen) + len > this.s.maxMessage)
      fail(CLOSE_TOO_BIG, `message larger than ${this.s.maxMessage} bytes`);
  }

  /** RSV1 marks a compressed message's first frame once permessage-deflate is agreed; else refused. */
  private checkReserved(b0: number, op: number): void {
    if ((b0 & 0x30) !== 0 || this.session() === undefined)
      fail(CLOSE_PROTOCOL_ERROR, 'reserved bits set (no extension was negotiated for them)');
    if (op === OP_CONTINUATION || op >= 8)
      fail(CLOSE_PROTOCOL_ERROR, 'RSV1 is set only on the first frame of a data message');
  }

  private session(): DeflateSession | undefined {
    return this.s.deflate?.sessions.get(this.peer);
  }

  /** A compressed message's payload inflated (permessage-deflate), or a close with why not. */
  private inflate(data: Buffer): Buffer {
    const out = inflate(this.session()!, data, this.s.maxMessage);
    if (out === 'too-big')
      fail(CLOSE_TOO_BIG, `message larger than ${this.s.maxMessage} bytes once inflated`);
    if (out === 'invalid') fail(CLOSE_INVALID_DATA, 'invalid compressed data');
    return out;
  }

  private grow(len: number): void {
    const need = 10 + this.q.msgLen + len;
    const msg = this.q.msg;
    if (msg !== null && msg.length >= need) return;
    // Fragments: double, up to the message limit (their total is not known in advance).
    const size =
      msg === null && this.q.fin
        ? need
        : Math.min(Math.max(need, 256, (msg?.length ?? 0) * 2), 10 + this.s.maxMessage);
    const grown = Buffer.allocUnsafe(Math.max(size, need));
    if (msg !== null) msg.copy(grown, 10, 10, 10 + this.q.msgLen);
    this.q.msg = grown;
  }

  /** Payload bytes of the current frame from chunk[at]; returns where they end. */
  private payload(chunk: Buffer, at: number, emit: (message: unknown) => void): number {
    const take = Math.min(this.q.left, chunk.length - at);
    const control = this.q.op >= 8;
    const dest = control ? this.q.ctl! : this.q.msg!;
    const to = control ? this.q.done : 10 + this.q.msgLen + this.q.done;
    chunk.copy(dest, to, at, at + take);
    unmask(dest, to, to + take, this.q.key, this.q.done);
    this.q.done += take;
    this.q.left -= take;
    if (this.q.left === 0) this.frameDone(emit);
    return at + take;
  }

  private frameDone(emit: (message: unknown) => void): void {
    const op = this.q.op;
    if (op >= 8) {
      const payload = this.q.ctl!;
      this.q.ctl = null;
      this.control(op, payload);
      return;
    }
    this.q.msgLen += this.q.done;
    this.q.done = 0;
    const msg = this.q.msg!;
    if (this.q.deflated) {
      // compressed: checked once inflated whole
      if (!this.q.fin) return;
      const out = this.inflate(msg.subarray(10, 10 + this.q.msgLen));
      const binary = this.q.msgOp === OP_BINARY;
      this.q.msg = null;
      this.q.msgLen = 0;
      this.q.msgOp = 0;
      this.q.deflated = false;
      if (!binary && !isUtf8(out)) fail(CLOSE_INVALID_DATA, 'text is not valid UTF-8');
      emit(SHARED.set(binary, out, 0, out.length, 0));
      return;
    }
    if (this.q.msgOp === OP_TEXT) {
      // Check what is complete so far; a code point cut at the fragment's end waits for the next one.
      const end = 10 + this.q.msgLen;
      const cut = this.q.fin ? end : end - utf8Tail(msg, 10 + this.q.checked, end);
      if (!isUtf8(msg.subarray(10 + this.q.checked, cut)))
        fail(CLOSE_INVALID_DATA, 'text is not valid UTF-8');
      this.q.checked = cut - 10;
    }
    if (!this.q.fin) return;
    const m = SHARED.set(this.q.msgOp === OP_BINARY, msg, 10, 10 + this.q.msgLen, 10);
    this.q.msg = null; // handed out: never written again
    this.q.msgLen = 0;
    this.q.msgOp = 0;
    this.q.checked = 0;
    emit(m);
  }

  private control(op: number, payload: Buffer): void {
    const conn = this.peer;
    if (op === OP_PING) {
      conn.write(frame(OP_PONG, payload));
      return;
    }
    if (op === OP_PONG) {
      this.awaitingPong = false;
      return;
    }
    // Close: check it, answer with the same code, and half-close; what follows is ignored.
    let code = 1005;
    let reason = '';
    if (payload.length === 1) fail(CLOSE_PROTOCOL_ERROR, 'a close frame with a one-byte payload');
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!validCloseCode(code)) fail(CLOSE_PROTOCOL_ERROR, `invalid close code ${code}`);
      const text = payload.subarray(2);
      if (!isUtf8(text)) fail(CLOSE_INVALID_DATA, 'close reason is not valid UTF-8');
      reason = text.toString();
    }
    this.state = CLOSED;
    this.part = null;
    this.s.options.closing?.(conn, code, reason);
    conn.write(code === 1005 ? closeFrame() : closeFrame(code));
    conn.end();
  }
}

// Decoding is synchronous and a message is borrowed until message() returns, so one object serves every
// decoder; an async handler gets a copy through the codec's retain().
const SHARED = new WsMessage(false, EMPTY);

function hasToken(value: string, token: string): boolean {
  for (const part of value.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

/** The bytes a WsMessage goes out as: in place before its payload when it has the room, else a copy. */
function encodeMessage(m: WsMessage): Buffer {
  const n = m.end - m.start;
  const h = headerLength(n);
  if (m.headroom >= h) {
    const out = m.src.subarray(m.start - h, m.end);
    writeHeader(out, 0, true, m.binary ? OP_BINARY : OP_TEXT, n);
    return out;
  }
  return frame(m.binary ? OP_BINARY : OP_TEXT, m.data);
}

/** A message to a client that agreed to permessage-deflate: compressed (RSV1) from the threshold up. */
function encodeDeflated(
  message: WsOut,
  session: DeflateSession,
  deflateSettings: { threshold: number; level: number },
): Buffer {
  const binary = message instanceof WsMessage ? message.binary : typeof message !== 'string';
  const payload =
    message instanceof WsMessage
      ? message.data
      : typeof message === 'string'
        ? Buffer.from(message)
        : message;
  if (payload.length < deflateSettings.threshold) {
    return message instanceof WsMessage
      ? encodeMessage(message)
      : frame(binary ? OP_BINARY : OP_TEXT, payload);
  }
  const out = frame(binary ? OP_BINARY : OP_TEXT, deflate(session, payload, deflateSettings.level));
  out[0]! |= 0x40; // RSV1: compressed
  return out;
}

export function websocket(options: WebSocketOptions = {}): Codec<WsIn, WsOut> {
  const maxMessage = options.maxMessageBytes ?? envInt('C10K_WS_MAX_MESSAGE', DEFAULT_MAX_MESSAGE_BYTES);
  const maxFrame = options.maxFrameBytes ?? maxMessage;
  const maxHandshake = options.maxHandshakeBytes ?? 8 * 1024;
  const ping = options.pingInterval ?? envInt('C10K_WS_PING', 0);
  for (const [name, v] of [
    ['maxMessageBytes', maxMessage],
    ['maxFrameBytes', maxFrame],
    ['maxHandshakeBytes', maxHandshake],
  ] as const) {
    if (!(Number.isSafeInteger(v) && v > 0)) throw new RangeError(`${name} out of range: ${v}`);
  }
  if (!(Number.isSafeInteger(ping) && ping >= 0)) throw new RangeError(`pingInterval out of range: ${ping}`);
  const pmd = options.perMessageDeflate ?? process.env.C10K_WS_DEFLATE === '1';
  const pmdOptions = typeof pmd === 'object' ? pmd : {};
  const threshold = pmdOptions.threshold ?? 1024;
  const level = pmdOptions.level ?? 1;
  if (!(Number.isSafeInteger(threshold) && threshold >= 0))
    throw new RangeError(`perMessageDeflate.threshold out of range: ${threshold}`);
  if (!(Number.isInteger(level) && level >= 0 && level <= 9))
    throw new RangeError(`perMessageDeflate.level out of range: ${level}`);
  const settings: Settings = {
    deflate: pmd === false ? null : { threshold, level, sessions: new WeakMap() },
    maxMessage,
    maxFrame: Math.min(maxFrame, maxMessage),
    maxHandshake,
    options,
    pinger: ping > 0 ? new Pinger(ping) : null,
  };
  const fallback = options.fallback;
  return {
    name: 'websocket',
    decoder: (_limits?: CodecLimits, peer?: WsPeer) => {
      if (peer === undefined) throw new TypeError('the websocket codec needs its connection (decoder(conn))');
      return new WsDecoder(peer, settings) as Decoder<WsIn>;
    },
    encode: (message, peer) => {
      const deflate = settings.deflate;
      if (deflate !== null && peer !== undefined) {
        const session = deflate.sessions.get(peer);
        if (session !== undefined) return encodeDeflated(message, session, deflate);
      }
      if (message instanceof WsMessage) return encodeMessage(message);
      return frame(typeof message === 'string' ? OP_TEXT : OP_BINARY, message);
    },
    retain: (message) => {
      if (message instanceof WsMessage) return new WsMessage(message.binary, Buffer.from(message.data));
      if (fallback?.retain) return fallback.retain(message) as WsIn;
      return (Buffer.isBuffer(message) ? Buffer.from(message) : message) as unknown as WsIn;
    },
  };
}
