// One read buffer for every connection of an event loop: each read lands in it and is handled before the
// next read, so a message is a view of it, valid while it is being handled (codecs and the async-handler
// backlog copy what they keep). Views are cached, one per length seen: creating one costs an allocation
// per read, as much as a tenth of the CPU per echoed message here.
const MAX_CACHED_VIEWS = 4096;

export class ReadBuffer {
  /** An ArrayBuffer of its own (Buffer.alloc, not the pool): its memory never moves. */
  readonly bytes: Buffer;
  /** bytes.buffer, read once: `.buffer` is a call into V8's runtime each time, not a field load. */
  private readonly arrayBuffer: ArrayBufferLike;
  private readonly views: Buffer[] = [];
  private viewCount = 0;

  constructor(size: number) {
    this.bytes = Buffer.alloc(size);
    this.arrayBuffer = this.bytes.buffer;
  }

  /** bytes[0, n) as a Buffer. */
  view(n: number): Buffer {
    let v = this.views[n];
    if (v === undefined) {
      v = this.bytes.subarray(0, n);
      if (this.viewCount < MAX_CACHED_VIEWS) {
        this.views[n] = v;
        this.viewCount++;
      }
    }
    return v;
  }

  /** Whether `bytes` shows this buffer's memory (so the next read overwrites it). */
  holds(bytes: Uint8Array): boolean {
    // An echo sends back the very view it was handed: found without touching `.buffer`.
    return this.views[bytes.length] === bytes || bytes.buffer === this.arrayBuffer;
  }
}
