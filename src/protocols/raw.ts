import type { Codec, Decoder } from './codec.ts';

// Raw bytes: each chunk as it arrives is one message. No framing, no copy: the message is the chunk.
class RawDecoder implements Decoder<Buffer> {
  readonly buffered = 0;
  push(chunk: Buffer, emit: (message: Buffer) => void): void {
    emit(chunk);
  }
}

export const raw: Codec<Buffer, Buffer | string> = {
  name: 'raw',
  decoder: () => new RawDecoder(),
  encode: (message) => message,
};
