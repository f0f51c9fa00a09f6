// RESP2, the Redis protocol, from the server's side: clients send arrays of bulk strings
// (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or inline commands (`PING\r\n`); the server answers with any RESP value.
// The decoder is one byte-level state machine that never rescans: a command wholly inside a chunk costs one
// args array plus one view per argument (no copy); state that outlives a chunk (arguments already parsed, a
// partial bulk, a partial header line) is copied into owned buffers at the end of push(). Replies are
// prebuilt Buffers (see the helpers below), so encode() is the identity.
import { type Codec, type CodecLimits, type Decoder, ProtocolError } from './codec.ts';

const CR = 0x0d;
const LF = 0x0a;
const STAR = 0x2a;
const DOLLAR = 0x24;
const MINUS = 0x2d;
const SPACE = 0x20;
const TAB = 0x09;

export interface RespOptions {
  /** Most arguments in one command (default 65536). */
  maxArgs?: number;
  /** Longest bulk string (default 64 MiB). */
  maxBulkBytes?: number;
  /** Longest inline command line (default 64 KiB). */
  maxInlineBytes?: number;
  /**
   * Most bytes one command may hold (default 128 MiB): each argument's bytes plus its length (1 to 5 bytes,
   * so empty arguments count too), counted as each bulk is announced, whether the command arrives whole in
   * one read or split across many: the same commands fit either way.
   */
  maxCommandBytes?: number;
}

/** A RESP error reply for a protocol violation, sent before the connection closes. */
function protocolError(what: string): never {
  throw new ProtocolError(`RESP protocol error: ${what}`, Buffer.from(`-ERR Protocol error: ${what}\r\n`));
}

const IDLE = 0; // between commands
const MB_HEADER = 1; // in a `*N\r\n` line
const BULK_HEADER = 2; // expecting a `$N\r\n` line
const BULK_DATA = 3; // in a bulk's bytes (and its CRLF)
const INLINE = 4; // in an inline command line

const HEADER_MAX = 32; // `*` / `$` lines: a sign, 20 digits and CRLF fit easily

/** Bytes an argument held across reads costs beyond its own: its length as a LEB128 varint (1 to 5). */
export function respHeldOverhead(length: number): number {
  return length < 0x80 ? 1 : length < 0x4000 ? 2 : length < 0x200000 ? 3 : length < 0x10000000 ? 4 : 5;
}

export class RespDecoder implements Decoder<Buffer[]> {
  private readonly maxArgs: number;
  private readonly maxBulk: number;
  private readonly maxInline: number;
  private readonly maxCommand: number;
  private state = IDLE;
  /** Arguments of the current command found in the current chunk: start and end offsets, in pairs. */
  private readonly spans: number[] = [];
  private argsLeft = 0;
  /** What the current command's arguments announced so far cost against maxCommandBytes. */
  private commandCost = 0;
  // Arguments that outlive a chunk are not kept as one object each (65,535 empty arguments would cost
  // megabytes of objects): they go end to end into `store`, each as its length (a varint) and its bytes, so
  // an empty one costs 1 byte. A bulk that arrives in pieces is assembled in place after them, at bulkAt.
  private store: Buffer | null = null;
  private storeLen = 0; // bytes of whole arguments in store
  private stored = 0; // how many
  private bulkAt = -1; // where the partial bulk's bytes start in store, or -1
  private bulkLen = 0;
  private bulkHave = 0;
  private line: Buffer | null = null; // a partial header or inline line, owned
  private lineLen = 0;
  /** Bytes of input that made no progress since the last command (empty inline lines, `*0`, `*-1`). */
  private noise = 0;

  constructor(options: RespOptions = {}) {
    this.maxArgs = options.maxArgs ?? 65536;
    this.maxCommand = options.maxCommandBytes ?? 128 * 1024 * 1024;
    this.maxBulk = Math.min(options.maxBulkBytes ?? 64 * 1024 * 1024, this.maxCommand);
    this.maxInline = options.maxInlineBytes ?? 64 * 1024;
  }

  /**
   * What the command being read holds (its arguments with their lengths, a partial bulk or line) plus
   * the noise since the last command. At least 1 once a command has begun (a bare `*N` header holds
   * nothing else), so that the partial-message timeout runs from a command's first byte to its last.
   */
  get buffered(): number {
    const bulk = this.bulkAt === -1 ? 0 : this.bulkAt - this.storeLen + Math.min(this.bulkHave, this.bulkLen);
    const held = this.storeLen + bulk + this.lineLen + this.noise;
    return held === 0 && this.state !== IDLE ? 1 : held;
  }

  push(chunk: Buffer, emit: (args: Buffer[]) => void): void {
    const n = chunk.length;
    let at = 0;
    while (at < n) {
      const state = this.state;
      if (state === BULK_DATA) {
        const len = this.bulkLen;
        if (this.bulkAt === -1 && n - at >= len + 2) {
          if (chunk[at + len] !== CR || chunk[at + len + 1] !== LF)
            protocolError('expected CRLF after bulk string');
          this.spans.push(at, at + len);
          at += len + 2;
        } else {
          // A bulk that spans reads: it comes after every argument before it, so those move first.
          if (this.bulkAt === -1) {
            this.spill(chunk);
            const head = this.storeLen + respHeldOverhead(len);
            this.reserve(head, head + len + 2);
            this.bulkAt = writeLength(this.store!, this.storeLen, len);
          }
          const from = this.bulkAt + this.bulkHave;
          const take = Math.min(len + 2 - this.bulkHave, n - at);
          this.reserve(from + take, this.bulkAt + len + 2);
          const store = this.store!;
          chunk.copy(store, from, at, at + take);
          this.bulkHave += take;
          at += take;
          if (this.bulkHave < len + 2) break;
          const end = this.bulkAt + len;
          if (store[end] !== CR || store[end + 1] !== LF) protocolError('expected CRLF after bulk string');
          this.storeLen = end;
          this.stored++;
          this.bulkAt = -1;
          this.bulkHave = 0;
        }
        if (--this.argsLeft === 0) this.complete(chunk, emit);
        else this.state = BULK_HEADER;
        continue;
      }
      if (state === IDLE) {
        this.state = chunk[at] === STAR ? MB_HEADER : INLINE;
        continue;
      }
      if (state === BULK_HEADER && this.lineLen === 0) {
        // Fast path: whole `$N\r\n...\r\n` arguments one after another in this chunk. Anything else
        // (a split, a bad number) leaves `at` where it was for the general path below.
        const before = at;
        at = this.wholeBulks(chunk, at);
        if (at !== before && this.argsLeft === 0) this.complete(chunk, emit);
        if (at !== before) continue;
      }
      // A line: the `*N` or `$N` header, or an inline command.
      if (state === BULK_HEADER && this.lineLen === 0 && chunk[at] !== DOLLAR) {
        protocolError(`expected '$', got '${printable(chunk[at])}'`);
      }
      const max = state === INLINE ? this.maxInline : HEADER_MAX;
      // Header lines are a few bytes: a loop finds their end faster than a native indexOf call.
      const nl =
        state === INLINE ? chunk.indexOf(LF, at) : findLF(chunk, at, Math.min(n, at + HEADER_MAX + 1));
      let src: Buffer;
      let start: number;
      let end: number; // index of the LF in src
      if (this.lineLen === 0 && nl !== -1) {
        if (nl - at > max) this.lineTooLong(state);
        src = chunk;
        start = at;
        end = nl;
      } else {
        const stop = nl === -1 ? n : nl;
        if (this.lineLen + (stop - at) > max) this.lineTooLong(state);
        this.appendLine(chunk, at, stop);
        if (nl === -1) break;
        src = this.line!;
        start = 0;
        end = this.lineLen;
        this.lineLen = 0;
      }
      at = nl + 1;
      if (state === INLINE) {
        const args = splitInline(src, start, end);
        this.state = IDLE;
        if (args.length > this.maxArgs) protocolError('too many arguments in inline request');
        if (args.length > 0) {
          this.noise = 0;
          emit(args);
        } else this.addNoise(end - start + 1);
        continue;
      }
      if (end - start < 3 || src[end - 1] !== CR) this.badNumber(state);
      const value = parseNumber(src, start + 1, end - 1);
      if (state === MB_HEADER) {
        if (value === BAD || value > this.maxArgs) protocolError('invalid multibulk length');
        if (value <= 0) {
          this.state = IDLE; // `*0` and `*-1` are ignored, as Redis does
          this.addNoise(end - start + 1);
          continue;
        }
        this.argsLeft = value;
        this.commandCost = 0;
        this.state = BULK_HEADER;
      } else {
        if (value === BAD || value < 0 || value > this.maxBulk) protocolError('invalid bulk length');
        this.charge(value);
        this.bulkLen = value;
        this.state = BULK_DATA;
      }
    }
    // Whatever stays for the next chunk must not point into this one.
    if (this.spans.length > 0) this.spill(chunk);
  }

  /** Whole bulk strings from chunk[at] on, up to the command's end: their spans; the index after them. */
  private wholeBulks(chunk: Buffer, at: number): number {
    const n = chunk.length;
    const spans = this.spans;
    let left = this.argsLeft;
    while (left > 0 && at < n && chunk[at] === DOLLAR) {
      let i = at + 1;
      let len = 0;
      for (; i < n && i - at <= 15; i++) {
        const d = chunk[i] - 0x30;
        if (d < 0 || d > 9) break;
        len = len * 10 + d;
      }
      const data = i + 2;
      if (i === at + 1 || data + len + 2 > n || chunk[i] !== CR || chunk[i + 1] !== LF) break;
      if (len > this.maxBulk) protocolError('invalid bulk length');
      this.charge(len);
      if (chunk[data + len] !== CR || chunk[data + len + 1] !== LF)
        protocolError('expected CRLF after bulk string');
      spans.push(data, data + len);
      at = data + len + 2;
      left--;
    }
    this.argsLeft = left;
    return at;
  }

  /** The command is whole: hand it over and forget it. */
  private complete(chunk: Buffer, emit: (args: Buffer[]) => void): void {
    this.state = IDLE;
    this.noise = 0;
    const spans = this.spans;
    const stored = this.stored;
    const args = new Array<Buffer>(stored + spans.length / 2);
    if (stored > 0) {
      const store = this.store!;
      let at = 0;
      for (let i = 0; i < stored; i++) {
        let len = 0;
        let scale = 1;
        let byte: number;
        do {
          byte = store[at++];
          len += (byte & 0x7f) * scale;
          scale *= 128;
        } while (byte & 0x80);
        args[i] = store.subarray(at, at + len);
        at += len;
      }
      this.stored = 0;
      this.storeLen = 0;
      // An idle connection keeps small scratch space only.
      if (store.length > 64 * 1024) this.store = null;
    }
    for (let i = 0, j = stored; i < spans.length; i += 2) args[j++] = chunk.subarray(spans[i], spans[i + 1]);
    spans.length = 0;
    emit(args);
  }

  /** Copy the arguments found in this chunk into the store (the chunk is borrowed). */
  private spill(chunk: Buffer): void {
    const spans = this.spans;
    if (spans.length === 0) return;
    let bytes = 0;
    for (let i = 0; i < spans.length; i += 2) {
      const len = spans[i + 1] - spans[i];
      bytes += len + respHeldOverhead(len);
    }
    // Doubling (up to the bound): arguments spilled a few at a time must not cost a copy of all each time.
    this.reserve(this.storeLen + bytes, this.maxCommand);
    const store = this.store!;
    let at = this.storeLen;
    for (let i = 0; i < spans.length; i += 2) {
      at = writeLength(store, at, spans[i + 1] - spans[i]);
      at += chunk.copy(store, at, spans[i], spans[i + 1]);
    }
    this.storeLen = at;
    this.stored += spans.length / 2;
    spans.length = 0;
  }

  /** An argument of `length` bytes is announced: it costs its bytes and its length's, or the command is too big. */
  private charge(length: number): void {
    this.commandCost += length + respHeldOverhead(length);
    if (this.commandCost > this.maxCommand) protocolError('command too big');
  }

  /** Room for `need` bytes in the store; `upTo`: the most the current piece may need. */
  private reserve(need: number, upTo: number): void {
    const store = this.store;
    if (store !== null && store.length >= need) return;
    // Grow with the data actually received, so an announced 64 MiB bulk does not reserve 64 MiB up front.
    const size = Math.max(need, Math.min(upTo, Math.max(1024, (store?.length ?? 0) * 2)));
    const grown = Buffer.allocUnsafe(size);
    if (store !== null) {
      const used = this.bulkAt === -1 ? this.storeLen : this.bulkAt + this.bulkHave;
      store.copy(grown, 0, 0, used);
    }
    this.store = grown;
  }

  /** Input that makes no progress still counts toward the partial-message timeout, up to a bound. */
  private addNoise(bytes: number): void {
    this.noise += bytes;
    if (this.noise > this.maxInline) protocolError('too many empty commands');
  }

  private appendLine(chunk: Buffer, from: number, to: number): void {
    const need = this.lineLen + (to - from);
    if (this.line === null || this.line.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, 64, (this.line?.length ?? 0) * 2));
      if (this.line !== null) this.line.copy(grown, 0, 0, this.lineLen);
      this.line = grown;
    }
    chunk.copy(this.line, this.lineLen, from, to);
    this.lineLen = need;
  }

  private lineTooLong(state: number): never {
    if (state === INLINE) protocolError('too big inline request');
    this.badNumber(state);
  }

  private badNumber(state: number): never {
    protocolError(state === MB_HEADER ? 'invalid multibulk length' : 'invalid bulk length');
  }
}

/** The first LF in chunk[from, to), or -1 if none there (the caller checks the length bound). */
function findLF(chunk: Buffer, from: number, to: number): number {
  for (let i = from; i < to; i++) if (chunk[i] === LF) return i;
  return to < chunk.length ? to : -1;
}

/** Write `length` as a LEB128 varint at store[at]; returns the index after it. */
function writeLength(store: Buffer, at: number, length: number): number {
  while (length >= 0x80) {
    store[at++] = (length & 0x7f) | 0x80;
    length >>>= 7;
  }
  store[at++] = length;
  return at;
}

const BAD = -0x7fffffff;

/** A decimal integer (optionally negative) in src[from, to); BAD if not one or out of the safe range. */
function parseNumber(src: Buffer, from: number, to: number): number {
  let negative = false;
  if (src[from] === MINUS) {
    negative = true;
    from++;
  }
  if (from >= to || to - from > 15) return BAD;
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = src[i] - 0x30;
    if (d < 0 || d > 9) return BAD;
    value = value * 10 + d;
  }
  return negative ? -value : value;
}

/** Split an inline command on spaces and tabs (no quoting); views of src. */
function splitInline(src: Buffer, from: number, to: number): Buffer[] {
  if (to > from && src[to - 1] === CR) to--;
  const args: Buffer[] = [];
  let i = from;
  while (i < to) {
    while (i < to && (src[i] === SPACE || src[i] === TAB)) i++;
    if (i === to) break;
    const start = i;
    while (i < to && src[i] !== SPACE && src[i] !== TAB) i++;
    args.push(src.subarray(start, i));
  }
  return args;
}

function printable(byte: number): string {
  return byte >= 0x20 && byte < 0x7f && byte !== 0x27
    ? String.fromCharCode(byte)
    : `\\x${byte.toString(16).padStart(2, '0')}`;
}

// ---- replies -----------------------------------------------------------------------------------------

const CRLF = Buffer.from('\r\n');
const NULL_BULK = Buffer.from('$-1\r\n');
const NULL_ARRAY = Buffer.from('*-1\r\n');
const EMPTY_ARRAY = Buffer.from('*0\r\n');
const SMALL_INTS: Buffer[] = [];
for (let i = -1; i <= 256; i++) SMALL_INTS.push(Buffer.from(`:${i}\r\n`));

/** Strip CR and LF: simple strings and errors cannot carry them. */
function line1(text: string): string {
  return /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, ' ') : text;
}

/** Builders of encoded RESP2 replies. Each returns a Buffer ready for conn.send(). */
export const resp = {
  /** `+OK` */
  simple(text: string): Buffer {
    return Buffer.from(`+${line1(text)}\r\n`);
  },
  /** `-ERR ...`: pass the whole message including its code ('ERR', 'WRONGTYPE', ...). */
  error(message: string): Buffer {
    return Buffer.from(`-${line1(message)}\r\n`);
  },
  integer(n: number | bigint): Buffer {
    if (typeof n === 'number' && n >= -1 && n <= 256 && Number.isInteger(n)) return SMALL_INTS[n + 1];
    return Buffer.from(`:${typeof n === 'bigint' ? n : Math.trunc(n)}\r\n`, 'latin1');
  },
  /** A bulk string; null is the null bulk (`$-1`). Strings are UTF-8. */
  bulk(value: Buffer | Uint8Array | string | null): Buffer {
    if (value === null) return NULL_BULK;
    if (typeof value === 'string') {
      const length = Buffer.byteLength(value);
      const head = `$${length}\r\n`;
      const out = Buffer.allocUnsafe(head.length + length + 2);
      out.write(head, 0, 'latin1');
      out.write(value, head.length);
      out[out.length - 2] = CR;
      out[out.length - 1] = LF;
      return out;
    }
    const head = `$${value.length}\r\n`;
    const out = Buffer.allocUnsafe(head.length + value.length + 2);
    out.write(head, 0, 'latin1');
    out.set(value, head.length);
    out[out.length - 2] = CR;
    out[out.length - 1] = LF;
    return out;
  },
  /** An array of already-encoded replies (from the other helpers); null is the null array (`*-1`). */
  array(items: readonly Buffer[] | null): Buffer {
    if (items === null) return NULL_ARRAY;
    if (items.length === 0) return EMPTY_ARRAY;
    return Buffer.concat([Buffer.from(`*${items.length}\r\n`, 'latin1'), ...items]);
  },
  /** An array of bulk strings (null entries are null bulks): MGET, CONFIG GET, ... */
  bulks(values: readonly (Buffer | Uint8Array | string | null)[]): Buffer {
    return resp.array(values.map((v) => resp.bulk(v)));
  },
  OK: Buffer.from('+OK\r\n'),
  PONG: Buffer.from('+PONG\r\n'),
  NULL: NULL_BULK,
  EMPTY_ARRAY,
  CRLF,
};

export type RespReply = Buffer | string;

/**
 * The RESP codec: messages in are the command's arguments (views of the read buffer while the handler
 * runs: copy what you keep), messages out are encoded replies (Buffers from `resp.*`, or RESP text).
 */
export function respCodec(options: RespOptions = {}): Codec<Buffer[], RespReply> {
  for (const key of ['maxArgs', 'maxBulkBytes', 'maxInlineBytes', 'maxCommandBytes'] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0 && v <= 2 ** 40))
      throw new RangeError(`${key} out of range: ${v}`);
  }
  return {
    name: 'resp',
    // The server's --max-message-bytes and --max-message-parts replace maxCommandBytes and maxArgs.
    decoder: (limits?: CodecLimits) =>
      new RespDecoder(
        limits?.maxMessageBytes || limits?.maxMessageParts
          ? {
              ...options,
              maxCommandBytes: limits.maxMessageBytes || options.maxCommandBytes,
              maxArgs: limits.maxMessageParts || options.maxArgs,
            }
          : options,
      ),
    encode: (reply) => reply,
    retain: (args) => args.map((a) => Buffer.from(a)),
  };
}
