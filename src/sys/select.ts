// select.ts — fd_set bitsets and select(2), including its famous limit.
//
// Why it is shaped this way: the point of the select reactor is to show select's cost and its ceiling,
// so FdSet is a faithful 1024-bit fd_set (128 bytes: an array of 64-bit longs, little-endian on x86_64
// and arm64, hence bit fd lives in byte fd>>3, bit fd&7) and set() refuses fd >= FD_SETSIZE with a
// clear error rather than corrupting memory as C's FD_SET would. select() overwrites the sets with the
// ready ones, so callers keep "interest" sets and copyFrom() them into "result" sets before each call.
import { FD_SETSIZE } from './constants.ts';
import { bindSys, callAsync } from './libc.ts';
import { timespec } from './poll.ts';

export const FD_SET_BYTES = FD_SETSIZE / 8;

// select(2) is pselect6(2) with a timespec and no signal mask (arm64 has only pselect6); results carry
// -errno.
const c = bindSys({
  select: 'int pselect6(int nfds, void *readfds, void *writefds, void *exceptfds, void *timeout, void *mask)',
});

/** A descriptor that select() cannot watch. */
export class FdSetSizeError extends RangeError {
  readonly code = 'ERR_FD_SETSIZE';
  readonly fd: number;
  readonly limit = FD_SETSIZE;
  constructor(fd: number) {
    super(
      fd < 0
        ? `select() cannot watch descriptor ${fd}: not a valid descriptor`
        : `select() cannot watch descriptor ${fd}: FD_SETSIZE is ${FD_SETSIZE}`,
    );
    this.name = 'FdSetSizeError';
    this.fd = fd;
  }
}

export class FdSet {
  readonly buffer: Buffer = Buffer.alloc(FD_SET_BYTES);

  /** Adds fd; throws FdSetSizeError for fd >= FD_SETSIZE (1024) or fd < 0. */
  set(fd: number): void {
    if (fd < 0 || fd >= FD_SETSIZE) throw new FdSetSizeError(fd);
    this.buffer[fd >> 3]! |= 1 << (fd & 7);
  }
  clear(fd: number): void {
    if (fd >= 0 && fd < FD_SETSIZE) this.buffer[fd >> 3]! &= ~(1 << (fd & 7));
  }
  isSet(fd: number): boolean {
    return fd >= 0 && fd < FD_SETSIZE && (this.buffer[fd >> 3]! & (1 << (fd & 7))) !== 0;
  }
  zero(): void {
    this.buffer.fill(0);
  }
  copyFrom(other: FdSet): void {
    other.buffer.copy(this.buffer);
  }
}

const tvScratch = Buffer.alloc(16);

/**
 * select(2): nfds = highest fd + 1; null sets are not watched; timeoutMs < 0 blocks. Returns the number
 * of ready bits (the sets now hold only ready fds), 0 on timeout, or -errno (-EINTR, -EBADF).
 */
export function select(
  nfds: number,
  readfds: FdSet | null,
  writefds: FdSet | null,
  exceptfds: FdSet | null,
  timeoutMs: number,
): number {
  if (nfds > FD_SETSIZE) throw new FdSetSizeError(nfds - 1);
  const n = c.select(
    nfds,
    readfds === null ? null : readfds.buffer,
    writefds === null ? null : writefds.buffer,
    exceptfds === null ? null : exceptfds.buffer,
    timespec(timeoutMs, tvScratch),
    null,
  );
  return n;
}

/** select(2) on a pool thread; do not touch the sets until it resolves. */
export function selectAsync(
  nfds: number,
  readfds: FdSet | null,
  writefds: FdSet | null,
  exceptfds: FdSet | null,
  timeoutMs: number,
): Promise<number> {
  if (nfds > FD_SETSIZE) return Promise.reject(new FdSetSizeError(nfds - 1));
  return callAsync(
    c.select,
    nfds,
    readfds === null ? null : readfds.buffer,
    writefds === null ? null : writefds.buffer,
    exceptfds === null ? null : exceptfds.buffer,
    timespec(timeoutMs, Buffer.alloc(16)),
    null,
  );
}
