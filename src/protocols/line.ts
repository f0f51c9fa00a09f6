import {
  type Codec,
  type CodecLimits,
  DEFAULT_MAX_MESSAGE_BYTES,
  type Decoder,
  ProtocolError,
} from './codec.ts';

const LF = 0x0a;
const CR = 0x0d;

export interface LineOptions {
  /** Longest line accepted, without its terminator (default 64 KiB). Longer: ProtocolError. */
  maxLineBytes?: number;
  /** Drop a '\r' before '\n' (default true). */
  stripCR?: boolean;
}

// '\n'-terminated lines. Lines wholly inside one chunk are emitted as views of it; a line that spans
// chunks is assembled in a buffer that grows up to maxLineBytes and is reused for the next one.
class LineDecoder implements Decoder<Buffer> {
  private partial: Buffer | null = null;
  private partialLength = 0;
  private readonly max: number;
  private readonly stripCR: boolean;

  constructor(max: number, stripCR: boolean) {
    this.max = max;
    this.stripCR = stripCR;
  }

  get buffered(): number {
    return this.partialLength;
  }

  push(chunk: Buffer, emit: (message: Buffer) => void): void {
    let start = 0;
    let nl = chunk.indexOf(LF, 0);
    if (this.partialLength > 0) {
      const end = nl === -1 ? chunk.length : nl;
      this.append(chunk, 0, end);
      if (nl === -1) return;
      const whole = this.trim(this.partial!.subarray(0, this.partialLength));
      this.partialLength = 0;
      if (whole.length > this.max) this.tooLong(whole.length);
      emit(whole);
      start = nl + 1;
      nl = chunk.indexOf(LF, start);
    }
    while (nl !== -1) {
      const next = this.trim(chunk.subarray(start, nl));
      if (next.length > this.max) this.tooLong(next.length);
      emit(next);
      start = nl + 1;
      nl = chunk.indexOf(LF, start);
    }
    if (start < chunk.length) this.append(chunk, start, chunk.length);
  }

  private trim(line: Buffer): Buffer {
    return this.stripCR && line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, -1) : line;
  }

  private append(chunk: Buffer, from: number, to: number): void {
    const need = this.partialLength + (to - from);
    // One byte of slack for a trailing '\r' that stripCR will remove.
    if (need > this.max + (this.stripCR ? 1 : 0)) this.tooLong(need);
    if (this.partial === null || this.partial.length < need) {
      const grown = Buffer.allocUnsafe(
        Math.min(Math.max(need, 256, (this.partial?.length ?? 0) * 2), this.max + 1),
      );
      if (this.partial !== null) this.partial.copy(grown, 0, 0, this.partialLength);
      this.partial = grown;
    }
    chunk.copy(this.partial, this.partialLength, from, to);
    this.partialLength = need;
  }

  private tooLong(length: number): never {
    throw new ProtocolError(`line longer than ${this.max} bytes (${length} without a newline)`);
  }
}

export function line(options: LineOptions = {}): Codec<Buffer, Buffer | string> {
  const max = options.maxLineBytes ?? 64 * 1024;
  const stripCR = options.stripCR ?? true;
  if (!(max > 0 && max <= DEFAULT_MAX_MESSAGE_BYTES * 64))
    throw new RangeError(`maxLineBytes out of range: ${max}`);
  return {
    name: 'line',
    // maxMessageBytes (the server's --max-message-bytes) replaces maxLineBytes.
    decoder: (limits?: CodecLimits) => new LineDecoder(limits?.maxMessageBytes || max, stripCR),
    encode: (message) => {
      if (typeof message === 'string') return message.endsWith('\n') ? message : message + '\n';
      if (message.length > 0 && message[message.length - 1] === LF) return message;
      return Buffer.concat([message, NEWLINE]);
    },
  };
}

const NEWLINE = Buffer.from('\n');
