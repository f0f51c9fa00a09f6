// One read buffer for every connection of an event loop: each read lands in it and is handled before the
// next read, so a message is a view of it, valid while it is being handled (codecs and the async-handler
// backlog copy what they keep). Views are cached, one per length seen: creating one costs an allocation
// per read, as much as a tenth of the CPU per echoed message here.
const MAX_CACHED_VIEWS = 4096;

export class ReadBuffer {
  /** An ArrayBuffer of its own (Buffer.alloc, not the pool): its memory never moves. */
  readonly bytes: Buffer;
  private readonly views: Buffer[] = [];
  private viewCount = 0;

  constructor(size: number) {
    this.bytes = Buffer.alloc(size);
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
    return bytes.buffer === this.bytes.buffer;
  }
}
