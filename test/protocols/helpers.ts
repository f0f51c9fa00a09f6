// Feeding codecs the way a connection does: chunks are borrowed, so each is copied into a scratch buffer
// that is scribbled over after push() returns; a decoder that kept a view of it would then emit garbage.
import { sameMessages } from '../../bench/fuzz-lib.ts';
import type { Codec } from '../../src/protocols/codec.ts';

export function feed<M>(codec: Codec<M, never>, chunks: readonly Buffer[]): M[] {
  const decoder = codec.decoder();
  const out: M[] = [];
  const keep = (m: M) =>
    out.push(codec.retain ? codec.retain(m) : ((Buffer.isBuffer(m) ? Buffer.from(m) : m) as M));
  for (const chunk of chunks) {
    const scratch = Buffer.from(chunk);
    decoder.push(scratch, keep);
    scratch.fill(0xee);
  }
  return out;
}

/** The input cut at `points` (sorted offsets). */
export function cut(input: Buffer, points: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(input.subarray(from, p));
    from = p;
  }
  chunks.push(input.subarray(from));
  return chunks;
}

/** Every way to cut the input once, plus byte-by-byte. */
export function* everySplit(input: Buffer): Generator<Buffer[]> {
  yield [input];
  for (let i = 1; i < input.length; i++) yield cut(input, [i]);
  yield cut(
    input,
    Array.from({ length: Math.max(0, input.length - 1) }, (_, i) => i + 1),
  );
}

/** Decode the input under every single split and byte by byte; each must equal the whole-chunk result. */
export function decodeEverySplit<M>(codec: Codec<M, never>, input: Buffer): M[] {
  let first: M[] | undefined;
  for (const chunks of everySplit(input)) {
    const got = feed(codec, chunks);
    if (first === undefined) first = got;
    else if (!sameMessages(first, got)) {
      throw new Error(`split ${chunks.map((c) => c.length).join('+')} decoded differently`);
    }
  }
  return first!;
}

export { sameMessages };

export const str = (args: Buffer[]) => args.map((a) => a.toString());
