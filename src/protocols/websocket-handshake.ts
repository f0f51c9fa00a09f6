// The WebSocket opening handshake's fast path: the common upgrade request checked byte by byte, with no
// string made per header, and its 101 response in one Buffer (memory per connection: the garbage of a
// general HTTP parse, 19,000 times over, grew V8's young generation, which RSS keeps). Anything unusual
// goes to the general path in websocket.ts, which gives every refusal its status.
import { hash } from 'node:crypto';
import { HttpDecoder, HttpHeaders } from './http.ts';
import type { WsRequest } from './websocket.ts';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const KEY_AND_GUID = Buffer.from('x'.repeat(24) + GUID, 'latin1');

/** Sec-WebSocket-Accept for the 24 bytes of a Sec-WebSocket-Key at src[at] (or for a key string). */
export function acceptKey(src: Buffer | string, at = 0): string {
  if (typeof src === 'string') return acceptKey(Buffer.from(src, 'latin1'), 0);
  src.copy(KEY_AND_GUID, 0, at, at + 24);
  return hash('sha1', KEY_AND_GUID, 'base64');
}

const RESPONSE_101 = Buffer.from(
  'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ',
  'latin1',
);
/** Where fastUpgrade() found the key in the head it accepted. */
let fastKeyAt = 0;

/** The 101 for the head fastUpgrade() just accepted: one Buffer, no string but the accept key. */
export function response101(head: Buffer): Buffer {
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
export function fastUpgrade(head: Buffer): boolean {
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
export class FastRequest implements WsRequest {
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
