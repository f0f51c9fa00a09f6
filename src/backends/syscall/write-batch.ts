// Replies deferred to the end of a batch (see the reactor's top comment): while the reactor hands a batch
// of reads to the app, a connection's first small write is not sent at once but recorded here, and all of
// them go out together once the batch has been handled, before the next read. At most one record per
// connection: a second write, a cork, end() or a close first takes the record back (see SysConnection),
// so every connection's bytes keep their order. Records are typed-array rows, found by descriptor.
import { MSG_NOSIGNAL, send, sendRaw } from '../../sys/index.ts';
import { growFdIndex } from './fd-index.ts';
import type { ReadSlots } from './read-slots.ts';

/** Records per batch; past it writes go out at once, as outside a batch. */
const CAPACITY = 1024;

/** What the batch tells about a record that did not go out whole. */
export interface ShortSendSink {
  /** `bytes` (a record) went out short: n bytes were taken, or n is -errno. */
  sentShort(fd: number, bytes: Buffer, n: number): void;
}

export class WriteBatch {
  /** Writes are recorded (the reactor is handling a batch). */
  open = false;
  private count = 0;
  private readonly fds = new Int32Array(CAPACITY);
  private readonly lens = new Int32Array(CAPACITY);
  /** Address of a record that is a view of the read slots, or -1 (then its Buffer is in `owned`). */
  private readonly addrs = new Float64Array(CAPACITY);
  private readonly owned: (Buffer | undefined)[] = new Array(CAPACITY).fill(undefined);
  /** Per descriptor: the index of its record in this batch, or -1. */
  private at = new Int32Array(256).fill(-1);
  private readonly slots: ReadSlots;

  constructor(slots: ReadSlots) {
    this.slots = slots;
  }

  /** Record `bytes` for fd; false when it cannot be (the batch is full, or fd has a record already). */
  defer(fd: number, bytes: Buffer): boolean {
    const k = this.count;
    if (k === CAPACITY || this.has(fd)) return false;
    if (fd >= this.at.length) this.at = growFdIndex(this.at, fd);
    this.at[fd] = k;
    this.fds[k] = fd;
    this.lens[k] = bytes.length;
    if (this.slots.holds(bytes)) this.addrs[k] = this.slots.addressOf(bytes);
    else {
      this.addrs[k] = -1;
      this.owned[k] = bytes;
    }
    this.count = k + 1;
    return true;
  }

  has(fd: number): boolean {
    return fd < this.at.length && this.at[fd]! >= 0;
  }

  /** Bytes recorded for fd (0 when none). */
  bytesOf(fd: number): number {
    return this.has(fd) ? this.lens[this.at[fd]!]! : 0;
  }

  /** Take fd's record back: its bytes (to be sent now, in order), or null when it has none. */
  take(fd: number): Buffer | null {
    if (!this.has(fd)) return null;
    const k = this.at[fd]!;
    this.at[fd] = -1;
    return this.bytesAt(k);
  }

  /** Forget fd's record (its connection closed: what it had not sent is dropped, as on any close). */
  drop(fd: number): void {
    if (!this.has(fd)) return;
    const k = this.at[fd]!;
    this.at[fd] = -1;
    this.owned[k] = undefined;
  }

  /** Send every record still held; a short one goes to `sink`. Ends the batch. */
  flush(sink: ShortSendSink): void {
    const count = this.count;
    this.count = 0;
    const at = this.at;
    for (let k = 0; k < count; k++) {
      const fd = this.fds[k]!;
      if (at[fd] !== k) continue; // taken back or dropped
      at[fd] = -1;
      const len = this.lens[k]!;
      const addr = this.addrs[k]!;
      const n = addr >= 0 ? sendRaw(fd, addr, len) : send(fd, this.owned[k]!, len, MSG_NOSIGNAL);
      if (n !== len) sink.sentShort(fd, this.bytesAt(k), n);
      else if (addr < 0) this.owned[k] = undefined;
    }
  }

  private bytesAt(k: number): Buffer {
    const addr = this.addrs[k]!;
    if (addr < 0) {
      const bytes = this.owned[k]!;
      this.owned[k] = undefined;
      return bytes;
    }
    return this.slots.at(addr, this.lens[k]!);
  }
}
