// Where an event loop reads, for every connection it serves: one allocation, cut into slots (one for the
// node backend, whose reads are handled one by one; one per ready socket of a batch for the syscall
// reactor). Each read lands in a slot and is handled before that slot is read into again, so a message is
// a view of it, valid while it is being handled (codecs and the async-handler backlog copy what they
// keep). Views are cached per slot and length: creating one costs an allocation per read, a share of the
// CPU per echoed message worth saving (docs/performance.md). The memory is only touched as reads need it
// (a small message dirties one page of its slot), so idle it costs nothing.
const MAX_CACHED_VIEWS = 4096;

export class ReadBuffer {
  /** Every slot, back to back: an ArrayBuffer of its own (Buffer.alloc, not the pool), that never moves. */
  readonly bytes: Buffer;
  readonly slotBytes: number;
  readonly count: number;
  /** The view handed out last (the message being handled): an echo sends it back, and holds() knows it
   * without a runtime call. */
  current: Buffer | null = null;
  /** bytes.buffer, read once: `.buffer` is a call into V8's runtime each time, not a field load. */
  protected readonly arrayBuffer: ArrayBufferLike;
  private readonly views: Buffer[][];
  private cached = 0;

  constructor(slotBytes: number, count = 1) {
    this.slotBytes = slotBytes;
    this.count = count;
    this.bytes = Buffer.alloc(count * slotBytes);
    this.arrayBuffer = this.bytes.buffer;
    this.views = Array.from({ length: count }, () => []);
  }

  /** The first n bytes of slot k as a Buffer; it becomes `current`. */
  view(n: number, k = 0): Buffer {
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
    this.current = v;
    return v;
  }

  /** Whether `bytes` shows this memory (so a later read overwrites it). */
  holds(bytes: Uint8Array): boolean {
    return bytes === this.current || bytes.buffer === this.arrayBuffer;
  }
}
