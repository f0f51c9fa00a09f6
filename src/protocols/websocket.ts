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
// sends it and closes, the others go on. permessage-deflate is not offered (a client asking for it gets
// plain frames, as RFC 6455 allows).

import { isUtf8 } from 'node:buffer';
import { hash } from 'node:crypto';
import {
  type Codec,
  type CodecPeer,
  DEFAULT_MAX_MESSAGE_BYTES,
  type Decoder,
  ProtocolError,
} from './codec.ts';
import { HttpDecoder, HttpHeaders, type HttpRequest, response } from './http.ts';

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Close status codes (RFC 6455 section 7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_UNSUPPORTED = 1003;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL = 1011;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

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

// ---- frames --------------------------------------------------------------------------------------------

function headerLength(n: number): number {
  return n < 126 ? 2 : n < 65536 ? 4 : 10;
}

/** Write a server (unmasked) frame header for `n` payload bytes at `out[at]`; returns its length. */
function writeHeader(out: Buffer, at: number, fin: boolean, opcode: number, n: number): number {
  out[at] = (fin ? 0x80 : 0) | opcode;
  if (n < 126) {
    out[at + 1] = n;
    return 2;
  }
  if (n < 65536) {
    out[at + 1] = 126;
    out.writeUInt16BE(n, at + 2);
    return 4;
  }
  out[at + 1] = 127;
  out.writeUInt32BE(Math.floor(n / 0x100000000), at + 2);
  out.writeUInt32BE(n >>> 0, at + 6);
  return 10;
}

/** One unmasked frame (what a server sends). */
export function frame(opcode: number, payload: Uint8Array | string = EMPTY, fin = true): Buffer {
  if (typeof payload === 'string') {
    const n = Buffer.byteLength(payload);
    const out = Buffer.allocUnsafe(headerLength(n) + n);
    out.write(payload, writeHeader(out, 0, fin, opcode, n));
    return out;
  }
  const n = payload.length;
  const out = Buffer.allocUnsafe(headerLength(n) + n);
  out.set(payload, writeHeader(out, 0, fin, opcode, n));
  return out;
}

/** One masked frame (what a client sends), with the given mask key (4 bytes). */
export function maskedFrame(
  opcode: number,
  payload: Uint8Array | string = EMPTY,
  fin = true,
  key: Uint8Array = DEFAULT_KEY,
  rsv = 0,
): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const n = bytes.length;
  const h = headerLength(n);
  const out = Buffer.allocUnsafe(h + 4 + n);
  writeHeader(out, 0, fin, opcode, n);
  out[0] |= (rsv & 7) << 4;
  out[1] |= 0x80;
  out.set(key.subarray(0, 4), h);
  for (let i = 0; i < n; i++) out[h + 4 + i] = bytes[i] ^ key[i & 3];
  return out;
}

const DEFAULT_KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** A close frame's payload: the status code and a UTF-8 reason (cut to fit 123 bytes). */
export function closeFrame(code?: number, reason = ''): Buffer {
  if (code === undefined) return frame(OP_CLOSE);
  let text = Buffer.from(reason);
  if (text.length > 123) text = text.subarray(0, 123);
  while (!isUtf8(text)) text = text.subarray(0, text.length - 1); // a cut code point
  const payload = Buffer.allocUnsafe(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return frame(OP_CLOSE, payload);
}

/** Start the close handshake from the server's side: send a close frame, then half-close. */
export function closeWebSocket(conn: WsPeer, code = CLOSE_NORMAL, reason = ''): void {
  conn.write(closeFrame(code, reason));
  conn.end();
}

/** A code a peer may send in a close frame (RFC 6455 7.4: 1000-1003, 1007-1011, 3000-4999). */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

const KEY_AND_GUID = Buffer.from('x'.repeat(24) + GUID, 'latin1');

/** Sec-WebSocket-Accept for the 24 bytes of a Sec-WebSocket-Key at src[at] (or for a key string). */
export function acceptKey(src: Buffer | string, at = 0): string {
  if (typeof src === 'string') return acceptKey(Buffer.from(src, 'latin1'), 0);
  src.copy(KEY_AND_GUID, 0, at, at + 24);
  return hash('sha1', KEY_AND_GUID, 'base64');
}

// ---- the handshake's fast path ---------------------------------------------------------------------------

const RESPONSE_101 = Buffer.from(
  'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ',
  'latin1',
);
/** Where fastUpgrade() found the key in the head it accepted. */
let fastKeyAt = 0;

/** The 101 for the head fastUpgrade() just accepted: one Buffer, no string but the accept key. */
function response101(head: Buffer): Buffer {
  const accept = acceptKey(head, fastKeyAt);
  const out = Buffer.allocUnsafe(RESPONSE_101.length + 28 + 4);
  RESPONSE_101.copy(out, 0);
  out.write(accept, RESPONSE_101.length, 'latin1');
  out.write('\r\n\r\n', RESPONSE_101.length + 28, 'latin1');
  return out;
}

const lower = (c: number) => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);

/** buf[from, to) equals `name` (lower case) ignoring case. */
function sameName(buf: Buffer, from: number, to: number, name: Buffer): boolean {
  if (to - from !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (lower(buf[from + i]) !== name[i]) return false;
  return true;
}

/** The comma-separated list in buf[from, to) holds `token` (lower case), ignoring case. */
function listHas(buf: Buffer, from: number, to: number, token: Buffer): boolean {
  let i = from;
  while (i < to) {
    while (i < to && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x2c)) i++;
    let j = i;
    while (j < to && buf[j] !== 0x2c) j++;
    let e = j;
    while (e > i && (buf[e - 1] === 0x20 || buf[e - 1] === 0x09)) e--;
    if (sameName(buf, i, e, token)) return true;
    i = j;
  }
  return false;
}

const N_HOST = Buffer.from('host');
const N_UPGRADE = Buffer.from('upgrade');
const N_CONNECTION = Buffer.from('connection');
const N_KEY = Buffer.from('sec-websocket-key');
const N_VERSION = Buffer.from('sec-websocket-version');
const T_WEBSOCKET = Buffer.from('websocket');
const T_UPGRADE = Buffer.from('upgrade');
const REQUEST_START = Buffer.from('GET ');
const REQUEST_END = Buffer.from(' HTTP/1.1\r\n');

function isBase64(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2b ||
    c === 0x2f
  );
}

/**
 * Whether head (a whole request head, CRLF line ends) is a plain, valid WebSocket upgrade: GET, HTTP/1.1,
 * well-formed fields (at most 100), Host, Upgrade: websocket, Connection: upgrade, version 13, a valid
 * key, and nothing that asks for more (no subprotocols, no body). false sends it down the general path,
 * which gives every refusal its status.
 */
function fastUpgrade(head: Buffer): boolean {
  const n = head.length;
  if (n < 20 || head.compare(REQUEST_START, 0, 4, 0, 4) !== 0) return false;
  let i = 4;
  while (i < n && head[i] > 0x20 && head[i] < 0x7f) i++;
  if (i === 4 || n - i < REQUEST_END.length || head.compare(REQUEST_END, 0, 11, i, i + 11) !== 0)
    return false;
  i += 11;
  let host = false;
  let upgrade = false;
  let connection = false;
  let version = false;
  let key = -1;
  let fields = 0;
  while (i < n - 2) {
    if (++fields > 100) return false;
    const nameStart = i;
    while (i < n && TOKEN_CHAR[head[i]] === 1) i++;
    if (i === nameStart || head[i] !== 0x3a) return false;
    const nameEnd = i++;
    while (i < n && (head[i] === 0x20 || head[i] === 0x09)) i++;
    const valueStart = i;
    while (i < n && head[i] !== 0x0d) {
      const c = head[i];
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
      i++;
    }
    if (i + 1 >= n || head[i + 1] !== 0x0a) return false;
    let valueEnd = i;
    while (valueEnd > valueStart && (head[valueEnd - 1] === 0x20 || head[valueEnd - 1] === 0x09)) valueEnd--;
    i += 2;
    const c0 = lower(head[nameStart]);
    if (c0 === 0x68 && sameName(head, nameStart, nameEnd, N_HOST)) host = true;
    else if (c0 === 0x75 && sameName(head, nameStart, nameEnd, N_UPGRADE)) {
      if (!listHas(head, valueStart, valueEnd, T_WEBSOCKET)) return false;
      upgrade = true;
    } else if (c0 === 0x63 && sameName(head, nameStart, nameEnd, N_CONNECTION)) {
      if (listHas(head, valueStart, valueEnd, T_UPGRADE)) connection = true;
    } else if (c0 === 0x73 && nameEnd - nameStart >= 17) {
      if (sameName(head, nameStart, nameEnd, N_KEY)) {
        if (key !== -1 || valueEnd - valueStart !== 24) return false;
        for (let k = 0; k < 21; k++) if (!isBase64(head[valueStart + k])) return false;
        const last = head[valueStart + 21];
        if (last !== 0x41 && last !== 0x51 && last !== 0x67 && last !== 0x77) return false;
        if (head[valueStart + 22] !== 0x3d || head[valueStart + 23] !== 0x3d) return false;
        key = valueStart;
      } else if (sameName(head, nameStart, nameEnd, N_VERSION)) {
        if (
          version ||
          valueEnd - valueStart !== 2 ||
          head[valueStart] !== 0x31 ||
          head[valueStart + 1] !== 0x33
        )
          return false;
        version = true;
      } else if (lower(head[nameStart + 4]) === 0x77 && nameEnd - nameStart > 14) return false; // sec-websocket-* else
    } else if (
      c0 === 0x74 ||
      (c0 === 0x63 &&
        lower(head[nameStart + 1]) === 0x6f &&
        lower(head[nameStart + 2]) === 0x6e &&
        nameEnd - nameStart === 14)
    )
      return false; // transfer-encoding or content-length: the general path decides
  }
  if (i !== n - 2 || head[i] !== 0x0d || head[i + 1] !== 0x0a) return false;
  if (!(host && upgrade && connection && version && key !== -1)) return false;
  fastKeyAt = key;
  return true;
}

/** RFC 9110 token characters (header field names). */
const TOKEN_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN_CHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN_CHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN_CHAR[c] = TOKEN_CHAR[c + 0x20] = 1;

/**
 * The request open() gets after a fast-path upgrade: its headers are parsed when asked, from the head,
 * which is borrowed: ask during open() (they are kept once parsed).
 */
class FastRequest implements WsRequest {
  readonly target: string;
  readonly path: string;
  readonly protocols: string[] = [];
  protocol = '';
  private head: Buffer | null;
  private parsed: HttpHeaders | null = null;
  constructor(head: Buffer) {
    this.head = head;
    const end = head.indexOf(0x20, 4);
    this.target = head.toString('latin1', 4, end);
    const q = this.target.indexOf('?');
    this.path = q === -1 ? this.target : this.target.slice(0, q);
  }
  get headers(): HttpHeaders {
    if (this.parsed !== null) return this.parsed;
    if (this.head === null) throw new Error("the upgrade request's headers are read during open() only");
    let headers = new HttpHeaders();
    new HttpDecoder().push(this.head, (r) => {
      headers = r.headers;
    });
    this.parsed = headers;
    return headers;
  }
  release(): void {
    this.head = null;
  }
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

function unmask(buf: Uint8Array, from: number, to: number, key: number, phase: number): void {
  // key holds the 4 mask bytes big-endian; phase is how many payload bytes came before `from`
  const k0 = (key >>> 24) & 0xff;
  const k1 = (key >>> 16) & 0xff;
  const k2 = (key >>> 8) & 0xff;
  const k3 = key & 0xff;
  const ks = [k0, k1, k2, k3];
  let i = from;
  let p = phase & 3;
  while (p !== 0 && i < to) {
    buf[i++] ^= ks[p];
    p = (p + 1) & 3;
  }
  for (; i + 4 <= to; i += 4) {
    buf[i] ^= k0;
    buf[i + 1] ^= k1;
    buf[i + 2] ^= k2;
    buf[i + 3] ^= k3;
  }
  for (let j = 0; i < to; i++, j++) buf[i] ^= ks[j];
}

/** unmask() of a whole payload (phase 0) that also returns the OR of the unmasked bytes. */
function unmaskOr(buf: Uint8Array, from: number, to: number, key: number): number {
  const k0 = (key >>> 24) & 0xff;
  const k1 = (key >>> 16) & 0xff;
  const k2 = (key >>> 8) & 0xff;
  const k3 = key & 0xff;
  let or = 0;
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const a = buf[i] ^ k0;
    const b = buf[i + 1] ^ k1;
    const c = buf[i + 2] ^ k2;
    const d = buf[i + 3] ^ k3;
    buf[i] = a;
    buf[i + 1] = b;
    buf[i + 2] = c;
    buf[i + 3] = d;
    or |= a | b | c | d;
  }
  if (i < to) {
    const v = (buf[i] ^= k0);
    or |= v;
  }
  if (i + 1 < to) or |= buf[i + 1] ^= k1;
  if (i + 2 < to) or |= buf[i + 2] ^= k2;
  return or;
}

/** How many bytes at the end of buf[from, to) are an incomplete UTF-8 sequence (0-3). */
function utf8Tail(buf: Uint8Array, from: number, to: number): number {
  for (let back = 1; back <= 3 && to - back >= from; back++) {
    const b = buf[to - back];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

// ---- the decoder ---------------------------------------------------------------------------------------

const HANDSHAKE = 0;
const FRAMES = 1;
const FALLBACK = 2;
const CLOSED = 3;

const EMPTY = Buffer.alloc(0);
const GET = Buffer.from('GET ');
const CRLFCRLF = Buffer.from('\r\n\r\n');

interface Settings {
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
          const fallback = this.s.options.fallback.decoder(this.peer);
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
        if (op !== 0) this.q.msgOp = op;
        this.grow(len);
      }
      if (len === 0) this.frameDone(emit);
    }
  }

  /** Refuse what the frame's first two bytes (and its length, once known, or -1) make invalid. */
  private check(b0: number, b1: number, len: number): void {
    if ((b0 & 0x70) !== 0) fail(CLOSE_PROTOCOL_ERROR, 'reserved bits set (no extension was negotiated)');
    const op = b0 & 0x0f;
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
  const settings: Settings = {
    maxMessage,
    maxFrame: Math.min(maxFrame, maxMessage),
    maxHandshake,
    options,
    pinger: ping > 0 ? new Pinger(ping) : null,
  };
  const fallback = options.fallback;
  return {
    name: 'websocket',
    decoder: (peer?: WsPeer) => {
      if (peer === undefined) throw new TypeError('the websocket codec needs its connection (decoder(conn))');
      return new WsDecoder(peer, settings) as Decoder<WsIn>;
    },
    encode: (message) => {
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
