// pattern.ts — the verifiable payloads: K precomputed frames in one contiguous buffer.
//
// Why it is shaped this way: every echoed byte is checked, yet sending must not allocate. So all
// frames are built once: frame v (0 <= v < K) is a pseudo-random payload seeded by v, framed for the
// protocol (raw bytes; a printable line ending in '\n'; a 4-byte big-endian length then the payload).
// Message `seq` of connection `id` is frame variant(id, seq) = (id * 7 + seq) % K, so neighbouring
// connections and consecutive messages differ and a server that mixes up streams or repeats a stale
// buffer is caught. The node engine writes the prebuilt views; the sys engine writes straight from
// the buffer's address. Checking is Buffer.compare on offsets (native, no view allocation).
// WebSocket: what is sent differs from what comes back. A client frame is masked (header, mask key,
// masked payload: `sent`), the server's echo is not (header, payload: `all`), so both are prebuilt; a text
// frame of printable ASCII, so that the server's UTF-8 check runs as it would for chat. Each connection
// first sends `handshake` (an upgrade request) and waits for the 101.

export const PROTOCOLS = ['raw', 'line', 'length', 'websocket'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

const LENGTH_HEADER = 4;
/** Total bytes spent on frames, at most (K shrinks for big messages). */
const PATTERN_BUDGET = 8 << 20;
const MAX_VARIANTS = 251; // prime: (id * 7 + seq) % K cycles through every frame

export class Pattern {
  readonly protocol: Protocol;
  /** Payload bytes per message (for line: including the '\n'). */
  readonly size: number;
  /** Bytes per message coming back (size, plus the 4-byte header for 'length', the frame header for ws). */
  readonly frameLength: number;
  /** Bytes per message sent, and the sent frames back to back (the same as frameLength/all but for ws). */
  readonly sendLength: number;
  readonly sent: Buffer;
  /** sentFrames[v]: the view of sent frame v. */
  readonly sentFrames: Buffer[];
  /** Bytes a connection sends before its first message (the WebSocket upgrade request), or null. */
  readonly handshake: Buffer | null;
  /** Number of distinct frames. */
  readonly variants: number;
  /** All frames back to back: frame v is all[v * frameLength, (v + 1) * frameLength). */
  readonly all: Buffer;
  private readonly all32: Int32Array;
  private lastChunk: Uint8Array | null = null;
  private last32: Int32Array = new Int32Array(0);
  /** frames[v] = the view of frame v (for socket.write). */
  readonly frames: Buffer[];

  constructor(protocol: Protocol, size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`message size must be at least 1, got ${size}`);
    this.protocol = protocol;
    this.size = size;
    const ws = protocol === 'websocket';
    const wsHead = size < 126 ? 2 : size < 65536 ? 4 : 10;
    this.frameLength = size + (protocol === 'length' ? LENGTH_HEADER : ws ? wsHead : 0);
    this.sendLength = ws ? wsHead + 4 + size : this.frameLength;
    this.variants = Math.max(1, Math.min(MAX_VARIANTS, Math.floor(PATTERN_BUDGET / this.sendLength)));
    // its own ArrayBuffer (not the pool), so the Int32Array view below starts aligned
    const total = this.variants * this.frameLength;
    this.all = Buffer.from(new ArrayBuffer((total + 3) & ~3), 0, total);
    this.all32 = new Int32Array(this.all.buffer);
    this.frames = [];
    for (let v = 0; v < this.variants; v++) {
      const frame = this.all.subarray(v * this.frameLength, (v + 1) * this.frameLength);
      fill(frame, protocol, size, v);
      this.frames.push(frame);
    }
    this.handshake = null;
    if (!ws) {
      this.sent = this.all;
      this.sentFrames = this.frames;
      return;
    }
    this.handshake = Buffer.from(
      'GET / HTTP/1.1\r\nHost: c10k\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: YzEway1sb2FkLWNsaWVudA==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    this.sent = Buffer.allocUnsafe(this.variants * this.sendLength);
    this.sentFrames = [];
    for (let v = 0; v < this.variants; v++) {
      const echo = this.frames[v];
      const out = this.sent.subarray(v * this.sendLength, (v + 1) * this.sendLength);
      echo.copy(out, 0, 0, wsHead);
      out[1] |= 0x80; // masked
      const key = [(v * 37 + 11) & 0xff, (v * 73 + 5) & 0xff, (v * 151 + 3) & 0xff, (v * 29 + 1) & 0xff];
      for (let k = 0; k < 4; k++) out[wsHead + k] = key[k];
      for (let i = 0; i < size; i++) out[wsHead + 4 + i] = echo[wsHead + i] ^ key[i & 3];
      this.sentFrames.push(out);
    }
  }

  /** The frame variant for message `seq` of connection `id`. */
  variant(id: number, seq: number): number {
    return (id * 7 + seq) % this.variants;
  }

  /**
   * Compares received bytes `chunk[from, from + n)` with frame `v` at offset `at`. Returns how many of
   * those bytes match (n when all do): the caller counts a mismatch when the result is below n.
   */
  check(v: number, at: number, chunk: Uint8Array, from: number, n: number): number {
    const start = v * this.frameLength + at;
    if (n <= 256 && ((chunk.byteOffset + from) & 3) === 0 && (start & 3) === 0 && (n & 3) === 0) {
      // the common small case (whole 64-byte messages at the start of the read buffer): four bytes at
      // a time in JS beats the native Buffer.compare call
      if (this.equal32(start >> 2, chunk, (chunk.byteOffset + from) >> 2, n >> 2)) return n;
    } else if (this.all.compare(chunk, from, from + n, start, start + n) === 0) return n;
    let same = 0;
    const all = this.all;
    for (let k = 0; k < n; k++) if (all[start + k] === chunk[from + k]) same++;
    return same;
  }

  /** all32[a, a + words) equals the 32-bit words of chunk's buffer from word b. */
  private equal32(a: number, chunk: Uint8Array, b: number, words: number): boolean {
    if (chunk !== this.lastChunk) {
      // engines pass the same read buffer each time: `chunk.buffer` is not free, so compare the view
      this.lastChunk = chunk;
      this.last32 = new Int32Array(chunk.buffer, 0, chunk.buffer.byteLength >> 2);
    }
    const x = this.all32;
    const y = this.last32;
    for (let k = 0; k < words; k++) if (x[a + k] !== y[b + k]) return false;
    return true;
  }
}

/** xorshift32 seeded by the variant: cheap, deterministic, different for every variant. */
function fill(frame: Buffer, protocol: Protocol, size: number, v: number): void {
  let x = (Math.imul(v + 1, 0x9e3779b1) ^ 0x5bd1e995) >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  if (protocol === 'raw') {
    for (let i = 0; i < size; i++) frame[i] = next() & 0xff;
  } else if (protocol === 'line') {
    // printable ASCII without CR or LF ('!'..'~'), then the terminator
    for (let i = 0; i < size - 1; i++) frame[i] = 0x21 + (next() % 94);
    frame[size - 1] = 0x0a;
  } else if (protocol === 'websocket') {
    // an unmasked text frame (what the server sends back) of printable ASCII
    const h = size < 126 ? 2 : size < 65536 ? 4 : 10;
    frame[0] = 0x81;
    if (h === 2) frame[1] = size;
    else if (h === 4) {
      frame[1] = 126;
      frame.writeUInt16BE(size, 2);
    } else {
      frame[1] = 127;
      frame.writeUInt32BE(0, 2);
      frame.writeUInt32BE(size, 6);
    }
    for (let i = 0; i < size; i++) frame[h + i] = 0x20 + (next() % 95);
  } else {
    frame.writeUInt32BE(size, 0);
    for (let i = 0; i < size; i++) frame[LENGTH_HEADER + i] = next() & 0xff;
  }
}
