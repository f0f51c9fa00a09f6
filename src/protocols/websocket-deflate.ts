// permessage-deflate (RFC 7692), the server's side: negotiating it from the client's offers, inflating a
// compressed message and deflating an outgoing one, with node:zlib's one-shot calls so that no zlib
// stream lives between messages. Our own messages go out with server_no_context_takeover (each compressed
// alone: no deflate state per connection). A client keeps its context unless it offered
// client_no_context_takeover (browsers do not), and then its next message may refer back to anything in
// the last 2^15 bytes it sent: those bytes (the window) are kept per connection and handed to zlib as the
// preset dictionary, which is what a continuing stream's history is. So a connection costs nothing here
// until its client sends a compressed message, then up to 32 KiB (its window), and nothing with
// client_no_context_takeover. The codec (websocket.ts) decides which frames are compressed.
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';

export interface DeflateOptions {
  /** Messages shorter than this many bytes go out uncompressed (default 1024; 0 compresses all). */
  threshold?: number;
  /** zlib level for outgoing messages, 0-9 (default 1: fastest; chat text compresses well at any level). */
  level?: number;
}

/** What one connection agreed to. */
export class DeflateSession {
  /** The client compresses each message alone (no window kept). */
  readonly clientNoTakeover: boolean;
  /** The window size our messages may use (server_max_window_bits, 9-15). */
  readonly serverBits: number;
  /** The client's last bytes, window[0 .. windowLength), up to 32 KiB, while it keeps its context; null
   * until its first message. Memory of its own that grows by doubling (a short history keeps a small
   * buffer) and is then reused: a message slides it in place, no allocation. */
  window: Buffer | null = null;
  windowLength = 0;
  constructor(clientNoTakeover: boolean, serverBits: number) {
    this.clientNoTakeover = clientNoTakeover;
    this.serverBits = serverBits;
  }
}

const WINDOW = 1 << 15;
/** The empty stored block a sender strips from each message's end (RFC 7692 7.2.1), put back to inflate. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * The first permessage-deflate offer among Sec-WebSocket-Extensions values that we can accept: the
 * session and the response's extension value, or null (no offer, or none valid: plain frames then).
 */
export function negotiateDeflate(values: string[]): { session: DeflateSession; response: string } | null {
  for (const value of values) {
    for (const offer of value.split(',')) {
      const parts = offer.split(';').map((p) => p.trim());
      if (parts[0]!.toLowerCase() !== 'permessage-deflate') continue;
      const accepted = acceptOffer(parts.slice(1));
      if (accepted !== null) return accepted;
    }
  }
  return null;
}

/** One offer's parameters: accepted, or null when one is unknown, repeated or out of range (RFC 7692 7.1). */
function acceptOffer(params: string[]): { session: DeflateSession; response: string } | null {
  const seen = new Set<string>();
  let clientNoTakeover = false;
  let serverBits = 0;
  for (const param of params) {
    if (param === '') return null;
    const eq = param.indexOf('=');
    const name = (eq === -1 ? param : param.slice(0, eq)).trim().toLowerCase();
    let raw = eq === -1 ? null : param.slice(eq + 1).trim();
    if (raw !== null && raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) raw = raw.slice(1, -1);
    if (seen.has(name)) return null;
    seen.add(name);
    const bits = raw !== null && /^(8|9|1[0-5])$/.test(raw) ? Number(raw) : -1;
    if (name === 'server_no_context_takeover') {
      if (raw !== null) return null;
    } else if (name === 'client_no_context_takeover') {
      if (raw !== null) return null;
      clientNoTakeover = true;
    } else if (name === 'server_max_window_bits') {
      // zlib's raw deflate cannot keep to a 256-byte window: decline 8, as the RFC lets a server
      if (bits === -1 || bits === 8) return null;
      serverBits = bits;
    } else if (name === 'client_max_window_bits') {
      // a hint that the client can take a limit; we set none (we inflate any window up to 15 bits)
      if (raw !== null && bits === -1) return null;
    } else return null;
  }
  let response = 'permessage-deflate; server_no_context_takeover';
  if (clientNoTakeover) response += '; client_no_context_takeover';
  if (serverBits !== 0) response += `; server_max_window_bits=${serverBits}`;
  return { session: new DeflateSession(clientNoTakeover, serverBits || 15), response };
}

/** Why inflate() refused: the result passed the message limit, or the data is not DEFLATE. */
export type InflateFailure = 'too-big' | 'invalid';

/**
 * A compressed message's payload (as sent, its tail stripped), inflated: the bytes, or why not. The
 * session's window moves on when the client keeps its context.
 */
export function inflate(
  session: DeflateSession,
  data: Uint8Array,
  maxBytes: number,
): Buffer | InflateFailure {
  const input = Buffer.allocUnsafe(data.length + 4);
  input.set(data, 0);
  TAIL.copy(input, data.length);
  let out: Buffer;
  try {
    out = inflateRawSync(input, {
      finishFlush: constants.Z_SYNC_FLUSH,
      // zlib's output chunk, sized to the likely result rather than 64 KiB a message (garbage the
      // allocator keeps until a GC); a larger result takes more chunks
      chunkSize: Math.min(Math.max(1024, data.length * 4), 64 * 1024),
      maxOutputLength: Math.max(1, maxBytes),
      // zlib copies the dictionary into its own window (inflateSetDictionary): ours may move on after
      ...(session.window !== null ? { dictionary: session.window.subarray(0, session.windowLength) } : {}),
    });
  } catch (error) {
    return (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? 'too-big' : 'invalid';
  }
  if (out.length > maxBytes) return 'too-big';
  if (!session.clientNoTakeover) slide(session, out);
  return out;
}

/**
 * The window becomes the last WINDOW bytes of window + out, moved within the session's buffer (the app
 * may keep `out`, a view of zlib's output chunk: the window is a copy, never a view of it).
 */
function slide(session: DeflateSession, out: Buffer): void {
  const length = session.windowLength;
  const next = Math.min(WINDOW, length + out.length);
  let window = session.window;
  if (window === null || window.length < next) {
    let size = 1024;
    while (size < next) size *= 2;
    const grown = Buffer.allocUnsafeSlow(size);
    if (window !== null) window.copy(grown, 0, 0, length);
    session.window = window = grown;
  }
  if (out.length >= WINDOW) out.copy(window, 0, out.length - WINDOW);
  else {
    const keep = next - out.length;
    if (keep < length) window.copyWithin(0, length - keep, length);
    out.copy(window, keep);
  }
  session.windowLength = next;
}

/** One message's payload compressed on its own (server_no_context_takeover), its tail stripped. */
export function deflate(session: DeflateSession, payload: Uint8Array, level: number): Buffer {
  const out = deflateRawSync(payload, {
    finishFlush: constants.Z_SYNC_FLUSH,
    chunkSize: Math.min(Math.max(1024, payload.length + 64), 64 * 1024),
    windowBits: session.serverBits,
    level,
  });
  // a sync flush ends with the empty stored block 00 00 ff ff, which the receiver puts back
  return out.subarray(0, out.length - 4);
}
