// WebSocket frames (RFC 6455 section 5): opcodes and close codes, building a server's (unmasked) and a
// client's (masked) frames, close frames, and unmasking in place. The codec is in websocket.ts.
import { isUtf8 } from 'node:buffer';
import type { CodecPeer } from './codec.ts';

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

export const EMPTY = Buffer.alloc(0);

// ---- frames --------------------------------------------------------------------------------------------

export function headerLength(n: number): number {
  return n < 126 ? 2 : n < 65536 ? 4 : 10;
}

/** Write a server (unmasked) frame header for `n` payload bytes at `out[at]`; returns its length. */
export function writeHeader(out: Buffer, at: number, fin: boolean, opcode: number, n: number): number {
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
export function closeWebSocket(conn: CodecPeer, code = CLOSE_NORMAL, reason = ''): void {
  conn.write(closeFrame(code, reason));
  conn.end();
}

/** A code a peer may send in a close frame (RFC 6455 7.4: 1000-1003, 1007-1011, 3000-4999). */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

export function unmask(buf: Uint8Array, from: number, to: number, key: number, phase: number): void {
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
export function unmaskOr(buf: Uint8Array, from: number, to: number, key: number): number {
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
export function utf8Tail(buf: Uint8Array, from: number, to: number): number {
  for (let back = 1; back <= 3 && to - back >= from; back++) {
    const b = buf[to - back];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}
