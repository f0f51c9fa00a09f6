import type { Codec, Decoder } from './codec.ts';

// Raw bytes: each chunk as it arrives is one message. No framing, no copy: the message is the chunk.
class RawDecoder implements Decoder<Buffer> {
  readonly buffered = 0;
  push(chunk: Buffer, emit: (message: Buffer) => void): void {
    emit(chunk);
  }
}

/** Stateless, so every connection shares one (no allocation per connection). */
const RAW_DECODER = new RawDecoder();

export const raw: Codec<Buffer, Buffer | string> = {
  name: 'raw',
  decoder: () => RAW_DECODER,
  encode: (message) => message,
};
