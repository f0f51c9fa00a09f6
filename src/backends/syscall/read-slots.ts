// Where the syscall reactor reads: one allocation cut into slots, one slot per ready socket of a batch, so
// a batch's reads all land before any of them is handled (see the reactor's top comment). A message is a
// view of its slot, valid while it is being handled (codecs and the async-handler backlog copy what they
// keep), and the reply to an echo can be sent straight from it after the whole batch was handled.
// Views are cached per slot and length: creating one costs an allocation per read.
// The memory is allocated once but only touched as reads need it (a small message dirties one page of its
// slot), so idle it costs nothing and a batch of small messages a few pages.
import { addressOf } from '../../sys/index.ts';

/** At most this many cached views in all (each is a small object kept for the reactor's life). */
const MAX_CACHED_VIEWS = 4096;

export class ReadSlots {
  /** Every slot, back to back. */
  readonly bytes: Buffer;
  /** Address of bytes[0], for reads and sends by raw address. */
  readonly address: number;
  readonly slotBytes: number;
  readonly count: number;
  /** The view being handled now: an echo sends it back, and is recognised without a runtime call. */
  current: Buffer | null = null;
  /** bytes.buffer, read once: `.buffer` is a call into V8's runtime each time, not a field load. */
  private readonly arrayBuffer: ArrayBufferLike;
  private readonly views: Buffer[][];
  private cached = 0;

  constructor(count: number, slotBytes: number) {
    this.count = count;
    this.slotBytes = slotBytes;
    this.bytes = Buffer.alloc(count * slotBytes);
    this.arrayBuffer = this.bytes.buffer;
    this.address = addressOf(this.bytes);
    this.views = Array.from({ length: count }, () => []);
  }

  /** Address of slot k. */
  slotAddress(k: number): number {
    return this.address + k * this.slotBytes;
  }

  /** The first n bytes of slot k as a Buffer. */
  view(k: number, n: number): Buffer {
    const views = this.views[k]!;
    let v = views[n];
    if (v === undefined) {
      const at = k * this.slotBytes;
      v = this.bytes.subarray(at, at + n);
      if (this.cached < MAX_CACHED_VIEWS) {
        views[n] = v;
        this.cached++;
      }
    }
    return v;
  }

  /** Whether `bytes` shows this memory (so a later read overwrites it). */
  holds(bytes: Uint8Array): boolean {
    return bytes === this.current || bytes.buffer === this.arrayBuffer;
  }

  /** Address of a view of this memory (holds(view) must be true). */
  addressOf(view: Uint8Array): number {
    return this.address + (view.byteOffset - this.bytes.byteOffset);
  }

  /** The len bytes at `address` (inside this memory) as a Buffer: a fresh view, for the rare paths. */
  at(address: number, len: number): Buffer {
    const start = address - this.address + this.bytes.byteOffset;
    return Buffer.from(this.arrayBuffer, start, len);
  }
}
