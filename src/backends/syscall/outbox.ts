// A connection's pending output, the one place it waits: replies held to the end of a read batch and
// bytes the kernel refused, oldest first. A connection has one only while something waits (memory per
// idle connection is the c10k budget); emptied, it goes back to a small free list with its array, so the
// common reply that leaves at the end of its batch allocates nothing.
import { EAGAIN, IOV_MAX, MSG_NOSIGNAL, send, sendRaw, writevBuffers } from '../../sys/index.ts';
import type { ReadSlots } from './read-slots.ts';

const FREE_MAX = 256;
/** An emptied outbox whose array grew past this drops the array rather than keep it in the free list. */
const KEEP_SLOTS = 64;
const free: Outbox[] = [];
/** A reader that takes some bytes each time but never empties the queue would grow the array one slot per
 * message forever: once this many slots at the front are spent, and at least as many as are live, the
 * live ones move to the front (a copy of the live slots, amortized over as many sends). */
const COMPACT_AT = 1024;

export class Outbox {
  /** bufs[head .. tail-1], oldest first; the head is sent from `headOffset`. Indices, not shift() and
   * length = 0: those make V8 trim and reallocate the array, an allocation per reply. */
  private bufs: (Buffer | undefined)[] = [];
  private head = 0;
  private tail = 0;
  private headOffset = 0;
  /** Address of bufs[head] when it is a view of the read slots, known when pushed; else -1 (see flush). */
  private headAddress = -1;
  /** Bytes waiting. */
  bytes = 0;

  /** An empty outbox (from the free list when it has one). */
  static take(): Outbox {
    return free.pop() ?? new Outbox();
  }

  /** Done with `out`: it forgets what it held and may be taken again. */
  static give(out: Outbox): void {
    const bufs = out.bufs;
    for (let i = out.head; i < out.tail; i++) bufs[i] = undefined;
    if (bufs.length > KEEP_SLOTS) out.bufs = [];
    out.head = out.tail = out.headOffset = out.bytes = 0;
    out.headAddress = -1;
    if (free.length < FREE_MAX) free.push(out);
  }

  /** Add bytes at the end, as they are (see own()). `address`: theirs if they are a view of the read
   * slots (the writer knows it cheaply while the view is the current one), else -1. */
  push(bytes: Buffer, address = -1): void {
    if (this.head === this.tail) this.headAddress = address;
    this.bufs[this.tail++] = bytes;
    this.bytes += bytes.length;
  }

  /**
   * Hand what waits to the kernel until it refuses: 0, or -errno when the socket failed. One buffer goes
   * by send() (by raw address when it is a view of the read slots: an echo, no marshalling), several by
   * writev.
   */
  flush(fd: number, slots: ReadSlots): number {
    const bufs = this.bufs;
    if (this.tail - this.head === 1 && this.headAddress >= 0) {
      // The common case, an echo held to the end of its batch: one view of the read slots.
      const want = this.bytes;
      const n = sendRaw(fd, this.headAddress + this.headOffset, want);
      if (n === want) {
        bufs[this.head] = undefined;
        this.head = this.tail = this.headOffset = this.bytes = 0;
        this.headAddress = -1;
        return 0;
      }
      if (n < 0) return n === -EAGAIN ? 0 : n;
      this.consume(n);
      return 0;
    }
    while (this.head < this.tail) {
      let want: number;
      let n: number;
      if (this.tail - this.head === 1) {
        const first = bufs[this.head]!;
        const b = this.headOffset === 0 ? first : first.subarray(this.headOffset);
        want = b.length;
        if (this.headAddress >= 0) n = sendRaw(fd, this.headAddress + this.headOffset, want);
        else if (slots.holds(b)) n = sendRaw(fd, slots.addressOf(b), want);
        else n = send(fd, b, want, MSG_NOSIGNAL);
      } else {
        const iov = bufs.slice(this.head, Math.min(this.tail, this.head + IOV_MAX)) as Buffer[];
        if (this.headOffset !== 0) iov[0] = iov[0]!.subarray(this.headOffset);
        want = 0;
        for (let i = 0; i < iov.length; i++) want += iov[i]!.length;
        n = writevBuffers(fd, iov);
      }
      if (n < 0) return n === -EAGAIN ? 0 : n;
      this.consume(n);
      if (n < want) return 0;
    }
    return 0;
  }

  /** Bytes still here after a flush may wait past the batch: copy those that are views of the read
   * slots, which the next batch's reads overwrite. */
  own(slots: ReadSlots): void {
    const bufs = this.bufs;
    for (let i = this.head; i < this.tail; i++) if (slots.holds(bufs[i]!)) bufs[i] = Buffer.from(bufs[i]!);
    this.headAddress = -1;
  }

  private consume(n: number): void {
    this.bytes -= n;
    const bufs = this.bufs;
    while (this.head < this.tail && n >= bufs[this.head]!.length - this.headOffset) {
      n -= bufs[this.head]!.length - this.headOffset;
      bufs[this.head++] = undefined;
      this.headOffset = 0;
      this.headAddress = -1;
    }
    if (this.head === this.tail) this.head = this.tail = 0;
    else {
      this.headOffset += n;
      if (this.head >= COMPACT_AT && this.head >= this.tail - this.head) this.compact();
    }
  }

  /** Move the live slots to the front; the array keeps its length (no reallocation), the rest emptied. */
  private compact(): void {
    const bufs = this.bufs;
    const live = this.tail - this.head;
    bufs.copyWithin(0, this.head, this.tail);
    bufs.fill(undefined, live, this.tail);
    this.head = 0;
    this.tail = live;
  }
}
