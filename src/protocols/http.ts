// A small HTTP/1.1 request decoder (server side): request line, headers, Content-Length and chunked
// bodies, keep-alive and pipelining: enough for wrk, health checks and metrics scrapes, not a full server.
// It reads line by line with byte-level scanning; lines inside a chunk are parsed in place, a line split
// across reads is assembled in a reused buffer. Bodies inside one chunk are views; others are copied into a
// buffer that grows with the data received. Every limit breach throws a ProtocolError carrying a complete
// `HTTP/1.1 4xx` response with `connection: close`. After a request that does not keep the connection
// alive, the decoder ignores whatever follows (the app answers and ends).
import { parseIPv6 } from './cidr.ts';
import { type Codec, type CodecLimits, type Decoder, ProtocolError } from './codec.ts';

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const SEMI = 0x3b;

export interface HttpOptions {
  /** Longest request line (default 8 KiB): 414. */
  maxRequestLineBytes?: number;
  /** Most header fields (default 100) and most header bytes (default 16 KiB): 431. */
  maxHeaders?: number;
  maxHeaderBytes?: number;
  /** Largest body (default 1 MiB): 413. */
  maxBodyBytes?: number;
}

/** Header fields in arrival order, looked up case-insensitively. */
export class HttpHeaders {
  /** Lower-case names and their values, in order (a name repeats if the field did). */
  readonly names: string[] = [];
  readonly values: string[] = [];

  get size(): number {
    return this.names.length;
  }
  /** The first value of a field, or undefined. */
  get(name: string): string | undefined {
    const i = this.names.indexOf(name.toLowerCase());
    return i === -1 ? undefined : this.values[i];
  }
  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    return this.values.filter((_, i) => this.names[i] === lower);
  }
  has(name: string): boolean {
    return this.names.includes(name.toLowerCase());
  }
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (let i = 0; i < this.names.length; i++) yield [this.names[i], this.values[i]];
  }
}

export interface HttpRequest {
  method: string;
  target: string;
  /** '1.1' or '1.0' */
  version: string;
  headers: HttpHeaders;
  body: Buffer;
  /** HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`. */
  keepAlive: boolean;
}

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  301: 'Moved Permanently',
  304: 'Not Modified',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

function reject(status: number, why: string): never {
  const body = `${status} ${STATUS_TEXT[status]}: ${why}\n`;
  throw new ProtocolError(
    `HTTP ${status}: ${why}`,
    response(status, { 'content-type': 'text/plain' }, body, false),
  );
}

// RFC 9110 token characters.
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = TOKEN[c + 0x20] = 1;

const REQUEST_LINE = 0;
const HEADER = 1;
const BODY = 2;
const CHUNK_SIZE = 3;
const CHUNK_DATA = 4;
const CHUNK_END = 5; // the CRLF after a chunk's data
const TRAILER = 6;
const DONE = 7; // a request without keep-alive was emitted: the rest is ignored

const EMPTY = Buffer.alloc(0);

export class HttpDecoder implements Decoder<HttpRequest> {
  private readonly maxLine: number;
  private readonly maxHeaders: number;
  private readonly maxHeaderBytes: number;
  private readonly maxBody: number;
  private state = REQUEST_LINE;
  private line: Buffer | null = null;
  private lineLen = 0;
  // the current line, set by takeLine()
  private src: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  // the request being read
  private method = '';
  private target = '';
  private version = '';
  private headers = new HttpHeaders();
  private headerBytes = 0;
  private bodyLeft = 0; // Content-Length still to read, or the current chunk's
  private body: Buffer | null = null;
  private bodyHave = 0;
  /** Bytes of empty lines before this request line: no progress, but they count toward the timeout. */
  private noise = 0;

  constructor(options: HttpOptions = {}) {
    this.maxLine = options.maxRequestLineBytes ?? 8 * 1024;
    this.maxHeaders = options.maxHeaders ?? 100;
    this.maxHeaderBytes = options.maxHeaderBytes ?? 16 * 1024;
    this.maxBody = options.maxBodyBytes ?? 1024 * 1024;
  }

  get buffered(): number {
    // One empty line (a CRLF some clients send after a body) is tolerated as nothing; more is noise.
    const noise = this.noise > 2 ? this.noise : 0;
    return this.state === DONE ? 0 : this.lineLen + this.headerBytes + this.bodyHave + noise;
  }

  push(chunk: Buffer, emit: (request: HttpRequest) => void): void {
    const n = chunk.length;
    let at = 0;
    while (at < n) {
      const state = this.state;
      if (state === BODY || state === CHUNK_DATA) {
        const left = this.bodyLeft;
        if (state === BODY && this.body === null && n - at >= left) {
          const body = chunk.subarray(at, at + left);
          at += left;
          this.finish(body, emit);
          continue;
        }
        const take = Math.min(left, n - at);
        this.appendBody(chunk, at, take);
        at += take;
        this.bodyLeft -= take;
        if (this.bodyLeft > 0) break;
        if (state === BODY) this.finish(this.body!.subarray(0, this.bodyHave), emit);
        else this.state = CHUNK_END;
        continue;
      }
      if (state === DONE) return;
      const max =
        state === REQUEST_LINE
          ? this.maxLine
          : state === HEADER || state === TRAILER
            ? this.maxHeaderBytes - this.headerBytes
            : 1024;
      const next = this.takeLine(chunk, at, max, state);
      if (next === -1) break;
      at = next;
      const { src, start, end } = this;
      if (state === REQUEST_LINE) {
        if (end > start) this.requestLine(src, start, end);
        else {
          // Empty lines before a request line are ignored (RFC 9112 §2.2) but are no progress: they count
          // as a partial request (the partial-message timeout runs) and, together, as one request line.
          this.noise += src[end] === CR ? 2 : 1;
          if (this.noise > this.maxLine) reject(400, `more than ${this.maxLine} bytes of empty lines`);
        }
      } else if (state === HEADER || state === TRAILER) {
        this.headerBytes += end - start + 2;
        if (end > start) this.headerLine(src, start, end, state === TRAILER);
        else if (state === TRAILER) this.finish(this.body!.subarray(0, this.bodyHave), emit);
        else this.headersDone(emit);
      } else if (state === CHUNK_SIZE) {
        this.chunkSize(src, start, end);
      } else if (end > start) reject(400, 'chunk data longer than its size');
      else this.state = CHUNK_SIZE;
    }
  }

  /** The next line (without CRLF or LF) into src/start/end; the index after it, or -1 (kept for later). */
  private takeLine(chunk: Buffer, at: number, max: number, state: number): number {
    const nl = chunk.indexOf(LF, at);
    if (this.lineLen === 0 && nl !== -1) {
      this.src = chunk;
      this.start = at;
      this.end = nl;
    } else {
      const stop = nl === -1 ? chunk.length : nl;
      if (this.lineLen + stop - at > max + 1) this.lineTooLong(state);
      this.appendLine(chunk, at, stop);
      if (nl === -1) return -1;
      this.src = this.line!;
      this.start = 0;
      this.end = this.lineLen;
      this.lineLen = 0;
    }
    if (this.end > this.start && this.src[this.end - 1] === CR) this.end--;
    // A partial line may hold one byte more than max, for a CR; the line itself may not.
    if (this.end - this.start > max) this.lineTooLong(state);
    return nl + 1;
  }

  private lineTooLong(state: number): never {
    if (state === REQUEST_LINE) reject(414, `request line longer than ${this.maxLine} bytes`);
    if (state === HEADER || state === TRAILER)
      reject(431, `header fields larger than ${this.maxHeaderBytes} bytes`);
    reject(400, 'chunk size line too long');
  }

  private requestLine(src: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end && TOKEN[src[i]] === 1) i++;
    if (i === start || i === end || src[i] !== SP) reject(400, 'malformed request line');
    const method = src.toString('latin1', start, i);
    const targetStart = ++i;
    while (i < end && src[i] > SP && src[i] < 0x7f) i++;
    if (i === targetStart || src[i] !== SP || end - i !== 9) reject(400, 'malformed request line');
    if (src.toString('latin1', i + 1, i + 6) !== 'HTTP/') reject(400, 'malformed request line');
    const major = src[i + 6];
    const minor = src[i + 8];
    if (src[i + 7] !== 0x2e || major < 0x30 || major > 0x39 || minor < 0x30 || minor > 0x39) {
      reject(400, 'malformed HTTP version');
    }
    if (major !== 0x31 || (minor !== 0x30 && minor !== 0x31))
      reject(505, 'only HTTP/1.0 and HTTP/1.1 are served');
    this.method = method;
    this.target = src.toString('latin1', targetStart, i);
    this.version = minor === 0x31 ? '1.1' : '1.0';
    this.headerBytes = end - start + 2;
    this.noise = 0;
    this.state = HEADER;
  }

  private headerLine(src: Buffer, start: number, end: number, trailer: boolean): void {
    if (src[start] === SP || src[start] === HT) reject(400, 'obsolete header line folding');
    let colon = start;
    while (colon < end && TOKEN[src[colon]] === 1) colon++;
    if (colon === start || colon === end || src[colon] !== COLON) reject(400, 'malformed header field');
    let from = colon + 1;
    let to = end;
    while (from < to && (src[from] === SP || src[from] === HT)) from++;
    while (to > from && (src[to - 1] === SP || src[to - 1] === HT)) to--;
    for (let i = from; i < to; i++) {
      const c = src[i];
      if ((c < SP && c !== HT) || c === 0x7f) reject(400, 'control character in a header value');
    }
    if (trailer) return; // trailers are checked and counted, not kept
    const headers = this.headers;
    if (headers.names.length >= this.maxHeaders) reject(431, `more than ${this.maxHeaders} header fields`);
    headers.names.push(src.toString('latin1', start, colon).toLowerCase());
    headers.values.push(src.toString('latin1', from, to));
  }

  private headersDone(emit: (request: HttpRequest) => void): void {
    const headers = this.headers;
    let length = -1;
    let chunked = false;
    for (let i = 0; i < headers.names.length; i++) {
      const name = headers.names[i];
      if (name === 'content-length') {
        const value = headers.values[i];
        if (!/^\d{1,15}$/.test(value)) reject(400, 'invalid content-length');
        const v = Number(value);
        if (length !== -1 && v !== length) reject(400, 'conflicting content-length fields');
        length = v;
      } else if (name === 'transfer-encoding') {
        if (chunked || headers.values[i].toLowerCase() !== 'chunked')
          reject(501, 'only chunked transfer-encoding is served');
        chunked = true;
      }
    }
    if (chunked && length !== -1) reject(400, 'both content-length and transfer-encoding');
    checkHost(headers, this.version);
    if (length > this.maxBody) reject(413, `body larger than ${this.maxBody} bytes`);
    if (chunked) {
      this.state = CHUNK_SIZE;
      this.body = null;
      this.appendBody(EMPTY, 0, 0);
    } else if (length > 0) {
      this.state = BODY;
      this.bodyLeft = length;
    } else this.finish(EMPTY, emit);
  }

  private chunkSize(src: Buffer, start: number, end: number): void {
    let size = 0;
    let i = start;
    for (; i < end && i - start <= 8; i++) {
      const c = src[i] | 0x20;
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
      if (d === -1) break;
      size = size * 16 + d;
    }
    if (i === start || i - start > 8) reject(400, 'invalid chunk size');
    while (i < end && (src[i] === SP || src[i] === HT)) i++;
    if (i < end && src[i] !== SEMI) reject(400, 'invalid chunk size');
    if (this.bodyHave + size > this.maxBody) reject(413, `body larger than ${this.maxBody} bytes`);
    if (size === 0) this.state = TRAILER;
    else {
      this.state = CHUNK_DATA;
      this.bodyLeft = size;
    }
  }

  private appendBody(chunk: Buffer, from: number, length: number): void {
    const need = this.bodyHave + length;
    if (this.body === null || this.body.length < need) {
      const goal = this.state === BODY ? this.bodyHave + this.bodyLeft : this.maxBody;
      const size = Math.min(Math.max(need, 4096, (this.body?.length ?? 0) * 2), Math.max(goal, need));
      const grown = Buffer.allocUnsafe(size);
      if (this.body !== null) this.body.copy(grown, 0, 0, this.bodyHave);
      this.body = grown;
    }
    chunk.copy(this.body, this.bodyHave, from, from + length);
    this.bodyHave = need;
  }

  private appendLine(chunk: Buffer, from: number, to: number): void {
    const need = this.lineLen + (to - from);
    if (this.line === null || this.line.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, 256, (this.line?.length ?? 0) * 2));
      if (this.line !== null) this.line.copy(grown, 0, 0, this.lineLen);
      this.line = grown;
    }
    chunk.copy(this.line, this.lineLen, from, to);
    this.lineLen = need;
  }

  private finish(body: Buffer, emit: (request: HttpRequest) => void): void {
    const headers = this.headers;
    const connection = headers.get('connection')?.toLowerCase();
    let keepAlive = this.version === '1.1';
    if (connection !== undefined) {
      for (const token of connection.split(',')) {
        const t = token.trim();
        if (t === 'close') keepAlive = false;
        else if (t === 'keep-alive') keepAlive = keepAlive || this.version === '1.0';
      }
    }
    const request: HttpRequest = {
      method: this.method,
      target: this.target,
      version: this.version,
      headers,
      body,
      keepAlive,
    };
    this.headers = new HttpHeaders();
    this.headerBytes = 0;
    this.body = null;
    this.bodyHave = 0;
    this.bodyLeft = 0;
    this.state = keepAlive ? REQUEST_LINE : DONE;
    emit(request);
  }
}

/**
 * RFC 9112 §3.2: a server responds 400 to an HTTP/1.1 request without Host, and to any request with more
 * than one Host field or an invalid one (RFC 9110 §7.2: uri-host [":" port], RFC 3986 syntax).
 */
function checkHost(headers: HttpHeaders, version: string): void {
  let value: string | undefined;
  for (let i = 0; i < headers.names.length; i++) {
    if (headers.names[i] !== 'host') continue;
    if (value !== undefined) reject(400, 'more than one Host field');
    value = headers.values[i];
  }
  if (value === undefined) {
    if (version === '1.1') reject(400, 'no Host field');
    return;
  }
  if (!validHost(value)) reject(400, 'invalid Host field');
}

// RFC 3986 reg-name characters: unreserved and sub-delims ('%' is checked apart, as pct-encoded).
const REG_NAME = new Uint8Array(128);
for (const c of "-._~!$&'()*+,;=") REG_NAME[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) REG_NAME[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) REG_NAME[c] = REG_NAME[c + 0x20] = 1;

const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);

/** uri-host [ ":" port ]: an IP-literal in brackets or a reg-name (IPv4 is one), then optional digits. */
export function validHost(value: string): boolean {
  const n = value.length;
  let i = 0;
  if (n > 0 && value.charCodeAt(0) === 0x5b) {
    // IP-literal: an IPv6 address, or IPvFuture: "v" HEXDIG+ "." ( unreserved / sub-delims / ":" )+
    const close = value.indexOf(']');
    if (close === -1) return false;
    if ((value.charCodeAt(1) | 0x20) === 0x76) {
      const dot = value.indexOf('.', 2);
      if (dot < 3 || dot > close - 2) return false;
      for (i = 2; i < dot; i++) if (!isHex(value.charCodeAt(i))) return false;
      for (i = dot + 1; i < close; i++) {
        const c = value.charCodeAt(i);
        if (!(c < 128 && (REG_NAME[c] === 1 || c === 0x3a))) return false;
      }
    } else if (parseIPv6(value.slice(1, close)) === null) return false;
    i = close + 1;
  } else {
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c === 0x3a) break;
      if (c === 0x25) {
        if (i + 2 >= n || !isHex(value.charCodeAt(i + 1)) || !isHex(value.charCodeAt(i + 2))) return false;
        i += 2;
      } else if (!(c < 128 && REG_NAME[c] === 1)) return false;
    }
  }
  if (i === n) return true;
  if (value.charCodeAt(i) !== 0x3a) return false;
  for (i++; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

// ---- responses -------------------------------------------------------------------------------------------

export type HttpHeaderInit =
  | Record<string, string | number>
  | readonly (readonly [string, string | number])[];

/**
 * A complete response: status line, the given headers, content-length (unless given, or a 1xx/204/304),
 * `connection: close` when keepAlive is false, and the body (left out when omitBody, e.g. for HEAD).
 */
export function response(
  status: number,
  headers: HttpHeaderInit = {},
  body: Buffer | string = EMPTY,
  keepAlive = true,
  omitBody = false,
): Buffer {
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Status'}\r\n`;
  let hasLength = false;
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  for (const [name, value] of pairs) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(String(value)))
      throw new TypeError(`header ${name} contains CR or LF`);
    if (name.length === 14 && name.toLowerCase() === 'content-length') hasLength = true;
    head += `${name}: ${value}\r\n`;
  }
  const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (!hasLength && status >= 200 && status !== 204 && status !== 304) head += `content-length: ${bytes}\r\n`;
  if (!keepAlive) head += 'connection: close\r\n';
  head += '\r\n';
  const headLength = Buffer.byteLength(head, 'latin1');
  if (omitBody || bytes === 0) return Buffer.from(head, 'latin1');
  const out = Buffer.allocUnsafe(headLength + bytes);
  out.write(head, 0, 'latin1');
  if (typeof body === 'string') out.write(body, headLength);
  else out.set(body, headLength);
  return out;
}

export const http = { response, STATUS_TEXT };

/** The HTTP codec: requests in; responses out as bytes (from `http.response`) or text, sent as is. */
export function httpCodec(options: HttpOptions = {}): Codec<HttpRequest, Buffer | string> {
  return {
    name: 'http',
    // The server's --max-message-bytes and --max-message-parts replace maxBodyBytes and maxHeaders.
    decoder: (limits?: CodecLimits) =>
      new HttpDecoder(
        limits?.maxMessageBytes || limits?.maxMessageParts
          ? {
              ...options,
              maxBodyBytes: limits.maxMessageBytes || options.maxBodyBytes,
              maxHeaders: limits.maxMessageParts || options.maxHeaders,
            }
          : options,
      ),
    encode: (message) => message,
    retain: (request) => ({ ...request, body: Buffer.from(request.body) }),
  };
}
