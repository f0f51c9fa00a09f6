// epoll.ts — epoll_create1 / epoll_ctl / epoll_wait with a preallocated, reusable event array.
//
// Why it is shaped this way: epoll_wait is the reactor's heartbeat, so `wait()` is one koffi call into
// one preallocated Buffer, and `events(i)`/`fd(i)` are typed-array loads (no objects per event).
// struct epoll_event {uint32_t events; uint64_t data} is __attribute__((packed)) on x86_64 only
// (12 bytes, data at offset 4) and naturally aligned elsewhere, e.g. arm64 (16 bytes, data at 8). Both
// strides and offsets are multiples of 4, so a Uint32Array over the array indexes every field. We put a
// 32-bit token (the fd by default) in the low half of `data` and zero in the high half.
//
// waitAsync() runs epoll_wait on a libuv pool thread so the event loop keeps running while idle. Caveats:
// it occupies one of the pool's UV_THREADPOOL_SIZE (default 4) threads until it returns; the process
// cannot exit naturally while it is blocked (wake it: register an eventfd and eventfdWrite() to it);
// and a round trip costs tens of microseconds, so a reactor should poll with timeout 0 while busy and
// only go async when idle.
import { EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD } from './constants.ts';
import { SysError } from './errno.ts';
import { bindSys, callAsync } from './libc.ts';

/** True where struct epoll_event is packed (x86_64). */
export const EPOLL_EVENT_PACKED = process.arch === 'x64';
/** sizeof(struct epoll_event) on this architecture. */
export const EPOLL_EVENT_SIZE = EPOLL_EVENT_PACKED ? 12 : 16;
/** offsetof(struct epoll_event, data) on this architecture. */
export const EPOLL_DATA_OFFSET = EPOLL_EVENT_PACKED ? 4 : 8;
const S32 = EPOLL_EVENT_SIZE >> 2;
const D32 = EPOLL_DATA_OFFSET >> 2;

// epoll_wait is epoll_pwait with no signal mask (arm64 has only the latter); results carry -errno.
const c = bindSys({
  epoll_create1: 'int epoll_create1(int flags)',
  epoll_ctl: 'int epoll_ctl(int epfd, int op, int fd, void *event)',
  epoll_wait: 'int epoll_pwait(int epfd, void *events, int maxevents, int timeout, void *mask, size_t n)',
  close: 'int close(int fd)',
});

const ctlAb = new ArrayBuffer(16);
const ctlBuf = Buffer.from(ctlAb);
const ctlU32 = new Uint32Array(ctlAb);

/** epoll_create1(2): a new epoll fd; throws SysError. */
export function epollCreate1(flags: number = EPOLL_CLOEXEC): number {
  const fd = c.epoll_create1(flags);
  if (fd < 0) throw new SysError('epoll_create1', -fd);
  return fd;
}

/** epoll_ctl(2) with data = a 32-bit token (default: fd): 0 or -errno (-EEXIST, -ENOENT, -EBADF...). */
export function epollCtl(epfd: number, op: number, fd: number, events: number, data: number = fd): number {
  ctlU32[0] = events;
  ctlU32[D32] = data;
  ctlU32[D32 + 1] = 0;
  const r = c.epoll_ctl(epfd, op, fd, ctlBuf);
  return Math.min(r, 0);
}

/** An epoll instance plus its reusable array of `maxEvents` result slots. */
export class Epoll {
  /** The epoll instance's own descriptor. */
  readonly epfd: number;
  readonly maxEvents: number;
  /** The raw struct epoll_event array epoll_wait fills. */
  readonly buffer: Buffer;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private waiting = false;

  constructor(maxEvents = 1024, flags: number = EPOLL_CLOEXEC) {
    this.maxEvents = maxEvents;
    const ab = new ArrayBuffer(maxEvents * EPOLL_EVENT_SIZE);
    this.buffer = Buffer.from(ab);
    this.u32 = new Uint32Array(ab);
    this.i32 = new Int32Array(ab);
    this.epfd = epollCreate1(flags);
  }

  /** EPOLL_CTL_ADD: 0 or -errno. `data` is the token fd(i)/data(i) will report (default: fd). */
  add(fd: number, events: number, data: number = fd): number {
    return epollCtl(this.epfd, EPOLL_CTL_ADD, fd, events, data);
  }
  /** EPOLL_CTL_MOD: 0 or -errno. */
  modify(fd: number, events: number, data: number = fd): number {
    return epollCtl(this.epfd, EPOLL_CTL_MOD, fd, events, data);
  }
  /** EPOLL_CTL_DEL: 0 or -errno. (close() removes an fd too, once no dup of it remains.) */
  delete(fd: number): number {
    return epollCtl(this.epfd, EPOLL_CTL_DEL, fd, 0, 0);
  }

  /** epoll_wait(2): number of ready slots (0 on timeout), or -errno (-EINTR). -1 ms blocks. */
  wait(timeoutMs: number): number {
    if (this.waiting) throw new Error('Epoll.wait: a waitAsync() is still pending on this event array');
    return c.epoll_wait(this.epfd, this.buffer, this.maxEvents, timeoutMs, null, 8);
  }

  /** epoll_wait on a pool thread; resolves with the count or -errno. Do not call wait() meanwhile. */
  waitAsync(timeoutMs: number): Promise<number> {
    if (this.waiting) return Promise.reject(new Error('Epoll.waitAsync: already waiting'));
    this.waiting = true;
    return callAsync(c.epoll_wait, this.epfd, this.buffer, this.maxEvents, timeoutMs, null, 8).finally(() => {
      this.waiting = false;
    });
  }

  /** Event bits (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDHUP...) of ready slot i. */
  events(i: number): number {
    return this.u32[i * S32]!;
  }
  /** The 32-bit token of ready slot i, as a signed int (the fd, when registered with the default). */
  fd(i: number): number {
    return this.i32[i * S32 + D32]!;
  }
  /** The 32-bit token of ready slot i, unsigned. */
  data(i: number): number {
    return this.u32[i * S32 + D32]!;
  }

  /** Closes the epoll fd; throws SysError on failure. */
  close(): void {
    const r = c.close(this.epfd);
    if (r < 0) throw new SysError('close', -r);
  }
}

/** Same as ep.waitAsync(timeoutMs): epoll_wait off the main thread. */
export function epollWaitAsync(ep: Epoll, timeoutMs: number): Promise<number> {
  return ep.waitAsync(timeoutMs);
}
