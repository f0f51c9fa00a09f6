// A connection's pending output, the one place it waits: replies held to the end of a read batch and
// bytes the kernel refused, oldest first. A connection has one only while something waits (memory per
// idle connection is the c10k budget); emptied, it goes back to a small free list, so the common reply
// that leaves at the end of its batch allocates nothing.
import { EAGAIN, IOV_MAX, MSG_NOSIGNAL, send, sendRaw, writevBuffers } from '../../sys/index.ts';
import type { ReadSlots } from './read-slots.ts';

const FREE_MAX = 256;
const free: Outbox[] = [];

export class Outbox {
  /** Oldest first; the head is sent from `headOffset`. */
  private readonly bufs: Buffer[] = [];
  private headOffset = 0;
  /** Bytes waiting. */
  bytes = 0;

  /** An empty outbox (from the free list when it has one). */
  static take(): Outbox {
    return free.pop() ?? new Outbox();
  }

  /** Done with `out`: it forgets what it held and may be taken again. */
  static give(out: Outbox): void {
    out.bufs.length = 0;
    out.headOffset = 0;
    out.bytes = 0;
    if (free.length < FREE_MAX) free.push(out);
  }

  /** Add bytes at the end, as they are (see own()). */
  push(bytes: Buffer): void {
    this.bufs.push(bytes);
    this.bytes += bytes.length;
  }

  /**
   * Hand what waits to the kernel until it refuses: 0, or -errno when the socket failed. One buffer goes
   * by send() (by raw address when it is a view of the read slots: an echo, no marshalling), several by
   * writev.
   */
  flush(fd: number, slots: ReadSlots): number {
    const bufs = this.bufs;
    while (bufs.length > 0) {
      let want: number;
      let n: number;
      if (bufs.length === 1) {
        const b = this.headOffset === 0 ? bufs[0]! : bufs[0]!.subarray(this.headOffset);
        want = b.length;
        n = slots.holds(b) ? sendRaw(fd, slots.addressOf(b), want) : send(fd, b, want, MSG_NOSIGNAL);
      } else {
        const iov = bufs.length <= IOV_MAX && this.headOffset === 0 ? bufs : bufs.slice(0, IOV_MAX);
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
    for (let i = 0; i < bufs.length; i++) if (slots.holds(bufs[i]!)) bufs[i] = Buffer.from(bufs[i]!);
  }

  private consume(n: number): void {
    this.bytes -= n;
    const bufs = this.bufs;
    while (bufs.length > 0 && n >= bufs[0]!.length - this.headOffset) {
      n -= bufs[0]!.length - this.headOffset;
      bufs.shift();
      this.headOffset = 0;
    }
    this.headOffset += n;
  }
}
