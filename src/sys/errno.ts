// errno.ts — errno numbers, names, and the SysError thrown by setup calls.
//
// Why it is shaped this way: hot-path bindings never throw; they return `-errno` (e.g. -EAGAIN), so the
// numbers must be plain constants the reactor can compare against. Setup calls (socket, bind, listen...)
// throw SysError, whose `code` matches Node's (`err.code === 'EADDRINUSE'`) so callers can treat both
// backends' errors alike. Values are Linux's asm-generic numbers, shared by x86_64 and arm64.

export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EIO = 5;
export const EBADF = 9;
export const EAGAIN = 11;
export const EWOULDBLOCK = EAGAIN;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOSPC = 28;
export const EPIPE = 32;
export const ERANGE = 34;
export const EPROTO = 71;
export const ENOTSOCK = 88;
export const EDESTADDRREQ = 89;
export const EMSGSIZE = 90;
export const EPROTOTYPE = 91;
export const ENOPROTOOPT = 92;
export const EPROTONOSUPPORT = 93;
export const EOPNOTSUPP = 95;
export const EAFNOSUPPORT = 97;
export const EADDRINUSE = 98;
export const EADDRNOTAVAIL = 99;
export const ENETDOWN = 100;
export const ENETUNREACH = 101;
export const ECONNABORTED = 103;
export const ECONNRESET = 104;
export const ENOBUFS = 105;
export const EISCONN = 106;
export const ENOTCONN = 107;
export const ESHUTDOWN = 108;
export const ETIMEDOUT = 110;
export const ECONNREFUSED = 111;
export const EHOSTUNREACH = 113;
export const EALREADY = 114;
export const EINPROGRESS = 115;

// [name, description] by number; descriptions are glibc's strerror() text, lower-cased.
const TABLE: Record<number, readonly [string, string]> = {
  [EPERM]: ['EPERM', 'operation not permitted'],
  [ENOENT]: ['ENOENT', 'no such file or directory'],
  [EINTR]: ['EINTR', 'interrupted system call'],
  [EIO]: ['EIO', 'input/output error'],
  [EBADF]: ['EBADF', 'bad file descriptor'],
  [EAGAIN]: ['EAGAIN', 'resource temporarily unavailable'],
  [ENOMEM]: ['ENOMEM', 'cannot allocate memory'],
  [EACCES]: ['EACCES', 'permission denied'],
  [EFAULT]: ['EFAULT', 'bad address'],
  [EEXIST]: ['EEXIST', 'file exists'],
  [EINVAL]: ['EINVAL', 'invalid argument'],
  [ENFILE]: ['ENFILE', 'too many open files in system'],
  [EMFILE]: ['EMFILE', 'too many open files'],
  [ENOSPC]: ['ENOSPC', 'no space left on device'],
  [EPIPE]: ['EPIPE', 'broken pipe'],
  [ERANGE]: ['ERANGE', 'numerical result out of range'],
  [EPROTO]: ['EPROTO', 'protocol error'],
  [ENOTSOCK]: ['ENOTSOCK', 'socket operation on non-socket'],
  [EDESTADDRREQ]: ['EDESTADDRREQ', 'destination address required'],
  [EMSGSIZE]: ['EMSGSIZE', 'message too long'],
  [EPROTOTYPE]: ['EPROTOTYPE', 'protocol wrong type for socket'],
  [ENOPROTOOPT]: ['ENOPROTOOPT', 'protocol not available'],
  [EPROTONOSUPPORT]: ['EPROTONOSUPPORT', 'protocol not supported'],
  [EOPNOTSUPP]: ['EOPNOTSUPP', 'operation not supported'],
  [EAFNOSUPPORT]: ['EAFNOSUPPORT', 'address family not supported by protocol'],
  [EADDRINUSE]: ['EADDRINUSE', 'address already in use'],
  [EADDRNOTAVAIL]: ['EADDRNOTAVAIL', 'cannot assign requested address'],
  [ENETDOWN]: ['ENETDOWN', 'network is down'],
  [ENETUNREACH]: ['ENETUNREACH', 'network is unreachable'],
  [ECONNABORTED]: ['ECONNABORTED', 'software caused connection abort'],
  [ECONNRESET]: ['ECONNRESET', 'connection reset by peer'],
  [ENOBUFS]: ['ENOBUFS', 'no buffer space available'],
  [EISCONN]: ['EISCONN', 'transport endpoint is already connected'],
  [ENOTCONN]: ['ENOTCONN', 'transport endpoint is not connected'],
  [ESHUTDOWN]: ['ESHUTDOWN', 'cannot send after transport endpoint shutdown'],
  [ETIMEDOUT]: ['ETIMEDOUT', 'connection timed out'],
  [ECONNREFUSED]: ['ECONNREFUSED', 'connection refused'],
  [EHOSTUNREACH]: ['EHOSTUNREACH', 'no route to host'],
  [EALREADY]: ['EALREADY', 'operation already in progress'],
  [EINPROGRESS]: ['EINPROGRESS', 'operation now in progress'],
};

/** 'EMFILE' for 24; accepts a negative hot-path result too (-24). Unknown numbers give 'E<n>'. */
export function errnoName(n: number): string {
  const e = n < 0 ? -n : n;
  return TABLE[e]?.[0] ?? `E${e}`;
}

/** strerror()-like text, lower-cased: 'too many open files' for EMFILE. */
export function errnoDescription(n: number): string {
  const e = n < 0 ? -n : n;
  return TABLE[e]?.[1] ?? `unknown error ${e}`;
}

/**
 * A connection's failed read or send (a peer reset, mostly) as `errno N`, without a stack: it would name
 * only the event loop, and capturing it walks (and deoptimizes for) every frame, microseconds for each
 * reset connection.
 */
export function connectionErrnoError(code: number): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const error = new Error(`errno ${code}`);
  Error.stackTraceLimit = limit;
  return error;
}

/** A failed system call: `accept4: EMFILE (too many open files)`. */
export class SysError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
  constructor(syscall: string, errno: number, detail?: string) {
    const e = errno < 0 ? -errno : errno;
    const code = errnoName(e);
    super(`${syscall}: ${code} (${errnoDescription(e)})${detail ? ` ${detail}` : ''}`);
    this.name = 'SysError';
    this.errno = e;
    this.code = code;
    this.syscall = syscall;
  }
}

/** Returns `r` when it is >= 0; otherwise throws SysError for `-r` (a hot-path style result). */
export function check(syscall: string, r: number, detail?: string): number {
  if (r < 0) throw new SysError(syscall, -r, detail);
  return r;
}
