// poll.ts — a growable array of struct pollfd {int fd; short events; short revents;} and poll(2).
//
// Why it is shaped this way: poll(2) wants one contiguous pollfd array, rescanned by the kernel on every
// call, so the reactor keeps the array and edits slots in place instead of rebuilding it. A slot with
// fd = -1 is ignored by the kernel (clear()), remove() swap-deletes to keep the array dense. Fields are
// read through typed arrays: fd at byte 0 (Int32Array[2i]), events at 4 and revents at 6 (Uint16Array
// [4i+2], [4i+3]). The layout is the same on every Linux architecture.
import { bindSys, callAsync } from './libc.ts';

export const POLLFD_SIZE = 8;

// poll(2) is ppoll(2) with a timespec and no signal mask (arm64 has only ppoll); results carry -errno.
const c = bindSys({
  poll: 'int ppoll(void *fds, unsigned long nfds, const void *timeout, const void *mask, size_t n)',
});

/** A struct timespec for `ms` in `out` (16 bytes), or null for ms < 0 (no timeout: block). */
export function timespec(ms: number, out: Buffer): Buffer | null {
  if (ms < 0) return null;
  const sec = Math.floor(ms / 1000);
  out.writeBigInt64LE(BigInt(sec), 0);
  out.writeBigInt64LE(BigInt(Math.round((ms - sec * 1000) * 1e6)), 8);
  return out;
}
const tsScratch = Buffer.alloc(16);

export class PollFds {
  /** Slots in use: the nfds passed to poll(). */
  length = 0;
  capacity: number;
  buffer: Buffer;
  private i32: Int32Array;
  private u16: Uint16Array;
  private waiting = false;

  constructor(capacity = 64) {
    this.capacity = Math.max(1, capacity);
    const ab = new ArrayBuffer(this.capacity * POLLFD_SIZE);
    this.buffer = Buffer.from(ab);
    this.i32 = new Int32Array(ab);
    this.u16 = new Uint16Array(ab);
  }

  private ensure(n: number): void {
    if (n <= this.capacity) return;
    if (this.waiting) throw new Error('PollFds: cannot grow while pollAsync() is pending');
    let cap = this.capacity * 2;
    while (cap < n) cap *= 2;
    const ab = new ArrayBuffer(cap * POLLFD_SIZE);
    new Uint8Array(ab).set(this.buffer.subarray(0, this.length * POLLFD_SIZE));
    this.capacity = cap;
    this.buffer = Buffer.from(ab);
    this.i32 = new Int32Array(ab);
    this.u16 = new Uint16Array(ab);
  }

  /** Appends a slot watching `fd` for `events` (POLLIN | POLLOUT...); returns its index. */
  add(fd: number, events: number): number {
    const i = this.length;
    this.ensure(i + 1);
    this.length = i + 1;
    this.set(i, fd, events);
    return i;
  }

  /** Overwrites slot i (extending length if i >= length). */
  set(i: number, fd: number, events: number): void {
    if (i >= this.length) {
      this.ensure(i + 1);
      for (let j = this.length; j < i; j++) this.clear(j);
      this.length = i + 1;
    }
    this.i32[i << 1] = fd;
    this.u16[(i << 2) + 2] = events;
    this.u16[(i << 2) + 3] = 0;
  }

  /** Changes only the events of slot i. */
  setEvents(i: number, events: number): void {
    this.u16[(i << 2) + 2] = events;
  }

  /** Makes slot i inert (fd = -1: poll() skips it and reports revents = 0). */
  clear(i: number): void {
    this.i32[i << 1] = -1;
    this.u16[(i << 2) + 2] = 0;
    this.u16[(i << 2) + 3] = 0;
  }

  /** Deletes slot i by moving the last slot into it; returns the fd now at i (-1 if i was the last). */
  remove(i: number): number {
    const last = this.length - 1;
    if (i !== last) {
      this.i32[i << 1] = this.i32[last << 1]!;
      this.u16[(i << 2) + 2] = this.u16[(last << 2) + 2]!;
      this.u16[(i << 2) + 3] = this.u16[(last << 2) + 3]!;
    }
    this.length = last;
    return i === last ? -1 : this.i32[i << 1]!;
  }

  fd(i: number): number {
    return this.i32[i << 1]!;
  }
  events(i: number): number {
    return this.u16[(i << 2) + 2]!;
  }
  /** What poll() reported for slot i (POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL...). */
  revents(i: number): number {
    return this.u16[(i << 2) + 3]!;
  }

  /** poll(2) over the `length` slots: the number of slots with revents != 0, 0 on timeout, or -errno. */
  poll(timeoutMs: number): number {
    if (this.waiting) throw new Error('PollFds.poll: a pollAsync() is still pending');
    return c.poll(this.buffer, this.length, timespec(timeoutMs, tsScratch), null, 8);
  }

  /** poll(2) on a pool thread; do not edit the slots until it resolves. */
  pollAsync(timeoutMs: number): Promise<number> {
    if (this.waiting) return Promise.reject(new Error('PollFds.pollAsync: already waiting'));
    this.waiting = true;
    return callAsync(
      c.poll,
      this.buffer,
      this.length,
      timespec(timeoutMs, Buffer.alloc(16)),
      null,
      8,
    ).finally(() => {
      this.waiting = false;
    });
  }
}

/** Same as fds.pollAsync(timeoutMs). */
export function pollAsync(fds: PollFds, timeoutMs: number): Promise<number> {
  return fds.pollAsync(timeoutMs);
}
