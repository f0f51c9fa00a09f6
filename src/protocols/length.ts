import {
  type Codec,
  type CodecLimits,
  DEFAULT_MAX_MESSAGE_BYTES,
  type Decoder,
  ProtocolError,
} from './codec.ts';

export interface LengthOptions {
  /** Largest payload accepted (default 1 MiB). A larger announced length: ProtocolError at once. */
  maxFrameBytes?: number;
}

const HEADER = 4;

// Frames of a 4-byte big-endian payload length followed by the payload. Frames inside one chunk are
// emitted as views; a frame that spans chunks is assembled in a buffer that grows with the bytes received
// (a 4-byte header announcing 1 MiB does not reserve 1 MiB), up to exactly that frame.
class LengthDecoder implements Decoder<Buffer> {
  private readonly max: number;
  private header = Buffer.alloc(HEADER);
  private headerHave = 0;
  private frame: Buffer | null = null;
  private frameSize = -1; // the frame being assembled, or -1
  private frameHave = 0;

  constructor(max: number) {
    this.max = max;
  }

  /** The header's bytes count from when it is complete, so a frame begun with no payload yet is seen. */
  get buffered(): number {
    return this.frameSize === -1 ? this.headerHave : HEADER + this.frameHave;
  }

  push(chunk: Buffer, emit: (message: Buffer) => void): void {
    let at = 0;
    const n = chunk.length;
    while (at < n) {
      if (this.frameSize !== -1) {
        const size = this.frameSize;
        const take = Math.min(size - this.frameHave, n - at);
        this.reserve(this.frameHave + take);
        chunk.copy(this.frame!, this.frameHave, at, at + take);
        this.frameHave += take;
        at += take;
        if (this.frameHave === size) {
          const done = this.frame!.subarray(0, size);
          this.frame = null;
          this.frameSize = -1;
          this.frameHave = 0;
          emit(done);
        }
        continue;
      }
      let size: number;
      if (this.headerHave === 0 && n - at >= HEADER) {
        size = chunk.readUInt32BE(at);
        at += HEADER;
      } else {
        const take = Math.min(HEADER - this.headerHave, n - at);
        chunk.copy(this.header, this.headerHave, at, at + take);
        this.headerHave += take;
        at += take;
        if (this.headerHave < HEADER) return;
        this.headerHave = 0;
        size = this.header.readUInt32BE(0);
      }
      if (size > this.max) throw new ProtocolError(`frame of ${size} bytes exceeds the limit of ${this.max}`);
      if (n - at >= size) {
        emit(chunk.subarray(at, at + size));
        at += size;
      } else {
        this.frameSize = size;
        this.frameHave = 0;
      }
    }
  }

  private reserve(need: number): void {
    const frame = this.frame;
    if (frame !== null && frame.length >= need) return;
    const size = Math.min(this.frameSize, Math.max(need, 16 * 1024, (frame?.length ?? 0) * 2));
    const grown = Buffer.allocUnsafe(size);
    if (frame !== null) frame.copy(grown, 0, 0, this.frameHave);
    this.frame = grown;
  }
}

export function length(options: LengthOptions = {}): Codec<Buffer, Buffer | string> {
  const max = options.maxFrameBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!(max >= 0 && max <= 0xffffffff)) throw new RangeError(`maxFrameBytes out of range: ${max}`);
  return {
    name: 'length',
    // maxMessageBytes (the server's --max-message-bytes) replaces maxFrameBytes.
    decoder: (limits?: CodecLimits) => new LengthDecoder(limits?.maxMessageBytes || max),
    encode: (message) => {
      const body = typeof message === 'string' ? Buffer.from(message) : message;
      const out = Buffer.allocUnsafe(HEADER + body.length);
      out.writeUInt32BE(body.length, 0);
      body.copy(out, HEADER);
      return out;
    },
  };
}
