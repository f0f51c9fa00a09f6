// fd.ts — descriptor plumbing: fcntl flags, dup, pipe2, eventfd, and the RLIMIT_NOFILE budget.
//
// Why it is shaped this way: these are setup calls, so they throw SysError. eventfd/pipe2 exist to wake a
// thread blocked in poll/epoll_wait/select (an *Async wait runs on a pool thread): register the read end,
// write to it from anywhere. rlimits are exposed as Numbers (RLIM_INFINITY becomes Infinity) because
// the engines compare them with connection counts.
import { F_GETFD, F_GETFL, F_SETFD, F_SETFL, FD_CLOEXEC, O_NONBLOCK, RLIMIT_NOFILE } from './constants.ts';
import { SysError } from './errno.ts';
import { bindSys } from './libc.ts';

// Results carry -errno (bindSys). getrlimit/setrlimit are prlimit64 on this process, as glibc's are.
const c = bindSys({
  fcntl: 'int fcntl(int fd, int cmd, long arg)',
  dup: 'int dup(int fd)',
  pipe2: 'int pipe2(void *fds, int flags)',
  eventfd: 'int eventfd2(unsigned int initval, int flags)',
  read: 'long read(int fd, void *buf, size_t n)',
  write: 'long write(int fd, const void *buf, size_t n)',
  prlimit: 'int prlimit64(int pid, int resource, const void *limit, void *old)',
});

const scratch = Buffer.alloc(16);
const counter = Buffer.alloc(8);

/** fcntl(2) with an int argument (or none); throws SysError. */
export function fcntl(fd: number, cmd: number, arg?: number): number {
  const r = c.fcntl(fd, cmd, arg ?? 0);
  if (r < 0) throw new SysError('fcntl', -r);
  return r;
}

/** Sets or clears O_NONBLOCK. */
export function setNonBlocking(fd: number, on = true): void {
  const fl = fcntl(fd, F_GETFL);
  const next = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
  if (next !== fl) fcntl(fd, F_SETFL, next);
}

/** Sets or clears FD_CLOEXEC (so spawned children do not inherit the descriptor). */
export function setCloexec(fd: number, on = true): void {
  const fl = fcntl(fd, F_GETFD);
  const next = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
  if (next !== fl) fcntl(fd, F_SETFD, next);
}

/** dup(2): the lowest free descriptor, a copy of fd; throws SysError (EMFILE...). */
export function dup(fd: number): number {
  const r = c.dup(fd);
  if (r < 0) throw new SysError('dup', -r);
  return r;
}

/** pipe2(2): [readFd, writeFd]; flags O_NONBLOCK | O_CLOEXEC. */
export function pipe2(flags = 0): [number, number] {
  const r = c.pipe2(scratch, flags);
  if (r < 0) throw new SysError('pipe2', -r);
  return [scratch.readInt32LE(0), scratch.readInt32LE(4)];
}

/** eventfd(2): a counter fd; flags EFD_NONBLOCK | EFD_CLOEXEC | EFD_SEMAPHORE. */
export function eventfd(initval = 0, flags = 0): number {
  const r = c.eventfd(initval, flags);
  if (r < 0) throw new SysError('eventfd', -r);
  return r;
}

/** Adds n to an eventfd counter (wakes poll/epoll/select waiting for POLLIN): 0 or -errno. */
export function eventfdWrite(fd: number, n = 1): number {
  counter.writeUInt32LE(n >>> 0, 0);
  counter.writeUInt32LE(0, 4);
  const r = c.write(fd, counter, 8);
  return Math.min(r, 0);
}

/** Reads and resets an eventfd counter: its value (>= 1), or -errno (-EAGAIN when 0 and non-blocking). */
export function eventfdRead(fd: number): number {
  const r = c.read(fd, counter, 8);
  if (r < 0) return r;
  return counter.readUInt32LE(0) + counter.readUInt32LE(4) * 4294967296;
}

export type Rlimit = { soft: number; hard: number };
const RLIM_INFINITY = 0xffffffffffffffffn;

function fromRlim(v: bigint): number {
  return v === RLIM_INFINITY ? Number.POSITIVE_INFINITY : Number(v);
}
function toRlim(v: number): bigint {
  return v === Number.POSITIVE_INFINITY ? RLIM_INFINITY : BigInt(v);
}

/** getrlimit(2): {soft, hard} (Infinity for RLIM_INFINITY); RLIMIT_NOFILE by default. */
export function getrlimit(resource: number = RLIMIT_NOFILE): Rlimit {
  const r = c.prlimit(0, resource, null, scratch);
  if (r < 0) throw new SysError('getrlimit', -r);
  return { soft: fromRlim(scratch.readBigUInt64LE(0)), hard: fromRlim(scratch.readBigUInt64LE(8)) };
}

/** setrlimit(2); a missing field keeps its current value. Raising `hard` needs CAP_SYS_RESOURCE. */
export function setrlimit(resource: number, limit: Partial<Rlimit>): void {
  const cur = getrlimit(resource);
  scratch.writeBigUInt64LE(toRlim(limit.soft ?? cur.soft), 0);
  scratch.writeBigUInt64LE(toRlim(limit.hard ?? cur.hard), 8);
  const r = c.prlimit(0, resource, scratch, null);
  if (r < 0) throw new SysError('setrlimit', -r);
}

/** Raises the soft RLIMIT_NOFILE to the hard limit (what servers do at start); returns the new soft. */
export function raiseNofileLimit(): number {
  const { hard } = getrlimit(RLIMIT_NOFILE);
  setrlimit(RLIMIT_NOFILE, { soft: hard });
  return hard;
}
