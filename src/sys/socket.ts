// socket.ts — socket system calls: the hot path (accept4, read, write, writev, recv, send, close,
// shutdown) and the setup calls (socket, bind, listen, setsockopt, getsockname...).
//
// Why it is shaped this way: the reactor calls read/write/accept4 millions of times, so those are one
// koffi call: they return the result, or `-errno` (e.g. -EAGAIN) from the call itself (bindSys: errno
// is never read, so it cannot be stale), never throw and never allocate (scratch Buffers are module-level; writev builds iovecs in a reusable Iovecs block).
// `readPtr`/`writePtr` take a raw address so a partial write can resume at an offset without a
// `subarray()` allocation. Setup calls throw SysError because failures there are real errors.
// The `*Async` variants run the blocking call on a libuv pool thread (see epoll.ts for the caveats).
import { SO_ERROR, SO_LINGER, SO_RCVTIMEO, SO_SNDTIMEO, SOL_SOCKET } from './constants.ts';
import { SysError } from './errno.ts';
import { addressOf, bindSys, callAsync } from './libc.ts';
import { decodeSockaddr, encodeSockaddrInto, SOCKADDR_STORAGE_SIZE, type SockAddr } from './sockaddr.ts';

// Each returns its result or -errno (see bindSys): errno itself is never read.
const c = bindSys({
  socket: 'int socket(int domain, int type, int protocol)',
  bind: 'int bind(int fd, const void *addr, uint32_t len)',
  listen: 'int listen(int fd, int backlog)',
  accept4: 'int accept4(int fd, void *addr, void *addrlen, int flags)',
  connect: 'int connect(int fd, const void *addr, uint32_t len)',
  read: 'long read(int fd, void *buf, size_t n)',
  readp: 'long read(int fd, uintptr_t buf, size_t n)',
  write: 'long write(int fd, const void *buf, size_t n)',
  writep: 'long write(int fd, uintptr_t buf, size_t n)',
  writev: 'long writev(int fd, const void *iov, int iovcnt)',
  recv: 'long recvfrom(int fd, void *buf, size_t n, int flags, void *addr, void *addrlen)',
  send: 'long sendto(int fd, const void *buf, size_t n, int flags, const void *addr, uint32_t addrlen)',
  shutdown: 'int shutdown(int fd, int how)',
  close: 'int close(int fd)',
  setsockopt: 'int setsockopt(int fd, int level, int name, const void *val, uint32_t len)',
  getsockopt: 'int getsockopt(int fd, int level, int name, void *val, void *len)',
  getsockname: 'int getsockname(int fd, void *addr, void *len)',
  getpeername: 'int getpeername(int fd, void *addr, void *len)',
  ioctl: 'int ioctl(int fd, unsigned long request, void *arg)',
});

// Scratch space for synchronous calls (JS is single-threaded; async calls allocate their own).
const addrScratch = Buffer.alloc(SOCKADDR_STORAGE_SIZE);
const lenScratch = Buffer.alloc(4);
const optScratch = Buffer.alloc(8);
const timeval = Buffer.alloc(16);

// ---------------------------------------------------------------- hot path: result or -errno

/** accept4(2): a connected fd, or -errno (-EAGAIN when the queue is empty). `peer` (>= 28 bytes,
 * ideally SOCKADDR_STORAGE_SIZE) receives the client's sockaddr: decode it with decodeSockaddr(). */
export function accept4(fd: number, flags: number, peer?: Buffer): number {
  if (peer === undefined) return c.accept4(fd, null, null, flags);
  lenScratch.writeUInt32LE(peer.length, 0);
  return c.accept4(fd, peer, lenScratch, flags);
}

/** read(2) into buf[0..len): bytes read (0 = EOF), or -errno. */
export function read(fd: number, buf: Uint8Array, len: number): number {
  return c.read(fd, buf, len);
}

/** write(2) from buf[0..len): bytes written, or -errno (-EAGAIN when the send buffer is full). */
export function write(fd: number, buf: Uint8Array, len: number): number {
  return c.write(fd, buf, len);
}

/** read(2) at a raw address (addressOf(buf) + offset): no subarray allocation. */
export function readPtr(fd: number, addr: number, len: number): number {
  return c.readp(fd, addr, len);
}

/** write(2) from a raw address (addressOf(buf) + offset); keep `buf` alive during the call. */
export function writePtr(fd: number, addr: number, len: number): number {
  return c.writep(fd, addr, len);
}

/** recv(2) with flags (MSG_PEEK, MSG_DONTWAIT...): bytes, 0 = EOF, or -errno. */
export function recv(fd: number, buf: Uint8Array, len: number, flags: number): number {
  return c.recv(fd, buf, len, flags, null, null);
}

/** send(2) with flags (MSG_NOSIGNAL...): bytes, or -errno. */
export function send(fd: number, buf: Uint8Array, len: number, flags: number): number {
  return c.send(fd, buf, len, flags, null, 0);
}

/** close(2): 0 or -errno. */
export function close(fd: number): number {
  const r = c.close(fd);
  return Math.min(r, 0);
}

/** shutdown(2) with SHUT_RD / SHUT_WR / SHUT_RDWR: 0 or -errno (-ENOTCONN if the peer is gone). */
export function shutdown(fd: number, how: number): number {
  const r = c.shutdown(fd, how);
  return Math.min(r, 0);
}

/** connect(2) to a prepared sockaddr: 0, or -errno (-EINPROGRESS on a non-blocking socket). */
export function connectAddr(fd: number, sockaddr: Buffer, len: number = sockaddr.length): number {
  const r = c.connect(fd, sockaddr, len);
  return Math.min(r, 0);
}

/** connect(2) to an IP literal: 0, or -errno (-EINPROGRESS on a non-blocking socket). */
export function connect(fd: number, host: string, port: number): number {
  const len = encodeSockaddrInto(addrScratch, host, port);
  const r = c.connect(fd, addrScratch, len);
  return Math.min(r, 0);
}

/** IOV_MAX on Linux. */
export const IOV_MAX = 1024;

/** A reusable array of struct iovec {void *base; size_t len} (16 bytes each on 64-bit Linux). */
export class Iovecs {
  readonly capacity: number;
  readonly buffer: Buffer;
  private readonly u32: Uint32Array;
  constructor(capacity = 64) {
    this.capacity = capacity;
    const ab = new ArrayBuffer(capacity * 16);
    this.buffer = Buffer.from(ab);
    this.u32 = new Uint32Array(ab);
  }
  /** Entry i = [addr, addr+len); `addr` from addressOf(); the memory must stay alive until writev. */
  setPtr(i: number, addr: number, len: number): void {
    const u = this.u32;
    const k = i << 2;
    u[k] = addr >>> 0;
    u[k + 1] = (addr / 4294967296) >>> 0;
    u[k + 2] = len >>> 0;
    u[k + 3] = 0;
  }
  /** Entry i = buf[offset .. offset+len). Costs one koffi.address() (a BigInt) per call. */
  setBuffer(i: number, buf: Uint8Array, offset = 0, len: number = buf.length - offset): void {
    this.setPtr(i, addressOf(buf) + offset, len);
  }
}

/** writev(2) of the first `count` entries of `iov`: bytes written, or -errno. */
export function writev(fd: number, iov: Iovecs, count: number): number {
  return c.writev(fd, iov.buffer, count);
}

const sharedIov = new Iovecs(IOV_MAX);
/** writev(2) of whole Buffers (at most IOV_MAX): bytes written, or -errno. */
export function writevBuffers(fd: number, bufs: readonly Uint8Array[]): number {
  const n = bufs.length;
  if (n > IOV_MAX) throw new RangeError(`writev: ${n} buffers exceed IOV_MAX (${IOV_MAX})`);
  for (let i = 0; i < n; i++) sharedIov.setBuffer(i, bufs[i]!);
  return writev(fd, sharedIov, n);
}

// ---------------------------------------------------------------- blocking calls on a worker thread

/** accept4(2) on a pool thread (for blocking listening sockets): fd or -errno. */
export function acceptAsync(fd: number, flags: number): Promise<number> {
  return callAsync(c.accept4, fd, null, null, flags);
}
/** read(2) on a pool thread (blocking sockets): bytes, 0 = EOF, or -errno. Do not touch buf meanwhile. */
export function readAsync(fd: number, buf: Uint8Array, len: number = buf.length): Promise<number> {
  return callAsync(c.read, fd, buf, len);
}
/** write(2) on a pool thread (blocking sockets): bytes written, or -errno. */
export function writeAsync(fd: number, buf: Uint8Array, len: number = buf.length): Promise<number> {
  return callAsync(c.write, fd, buf, len);
}

// ---------------------------------------------------------------- setup calls: throw SysError

/** socket(2): a new fd; throws SysError (EMFILE, EAFNOSUPPORT...). */
export function socket(domain: number, type: number, protocol = 0): number {
  const fd = c.socket(domain, type, protocol);
  if (fd < 0) throw new SysError('socket', -fd);
  return fd;
}

/** bind(2) to an IP literal and port (0 = any port); throws SysError (EADDRINUSE...). */
export function bind(fd: number, host: string, port: number): void {
  const len = encodeSockaddrInto(addrScratch, host, port);
  const r = c.bind(fd, addrScratch, len);
  if (r < 0) {
    throw new SysError('bind', -r, host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
  }
}

/** listen(2); throws SysError. */
export function listen(fd: number, backlog: number): void {
  const r = c.listen(fd, backlog);
  if (r < 0) throw new SysError('listen', -r);
}

/** setsockopt(2) for an int option (booleans become 0/1); throws SysError. */
export function setsockopt(fd: number, level: number, name: number, value: number | boolean): void {
  optScratch.writeInt32LE(typeof value === 'boolean' ? (value ? 1 : 0) : value, 0);
  const r = c.setsockopt(fd, level, name, optScratch, 4);
  if (r < 0) throw new SysError('setsockopt', -r);
}

/** getsockopt(2) for an int option; throws SysError. */
export function getsockopt(fd: number, level: number, name: number): number {
  lenScratch.writeUInt32LE(4, 0);
  optScratch.writeInt32LE(0, 0);
  const r = c.getsockopt(fd, level, name, optScratch, lenScratch);
  if (r < 0) throw new SysError('getsockopt', -r);
  return optScratch.readInt32LE(0);
}

/** Make close() send RST and drop unsent bytes (SO_LINGER {on, 0}); errors are ignored (best effort). */
export function resetOnClose(fd: number): void {
  optScratch.writeInt32LE(1, 0);
  optScratch.writeInt32LE(0, 4);
  c.setsockopt(fd, SOL_SOCKET, SO_LINGER, optScratch, 8);
}

/** SO_LINGER: {on, seconds}. `setLinger(fd, true, 0)` makes close() send RST instead of FIN. */
export function setLinger(fd: number, on: boolean, seconds: number): void {
  optScratch.writeInt32LE(on ? 1 : 0, 0);
  optScratch.writeInt32LE(seconds, 4);
  const r = c.setsockopt(fd, SOL_SOCKET, SO_LINGER, optScratch, 8);
  if (r < 0) throw new SysError('setsockopt', -r);
}

/** SO_RCVTIMEO / SO_SNDTIMEO (struct timeval) on a blocking socket: a blocked call returns EAGAIN after ms. */
export function setSocketTimeout(fd: number, which: 'recv' | 'send', ms: number): void {
  timeval.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  timeval.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
  const r = c.setsockopt(fd, SOL_SOCKET, which === 'recv' ? SO_RCVTIMEO : SO_SNDTIMEO, timeval, 16);
  if (r < 0) throw new SysError('setsockopt', -r);
}

/** Pending socket error (SO_ERROR), as a positive errno or 0: how a non-blocking connect() ends. */
export function socketError(fd: number): number {
  return getsockopt(fd, SOL_SOCKET, SO_ERROR);
}

const FIONREAD = 0x541b; // SIOCINQ: the same request number on x86_64 and arm64

/** Bytes waiting in a connected socket's receive queue (ioctl FIONREAD), or -errno. */
export function unreadBytes(fd: number): number {
  const r = c.ioctl(fd, FIONREAD, optScratch);
  return r < 0 ? r : optScratch.readInt32LE(0);
}

function nameOf(syscall: 'getsockname' | 'getpeername', fd: number): SockAddr {
  lenScratch.writeUInt32LE(SOCKADDR_STORAGE_SIZE, 0);
  const r = c[syscall](fd, addrScratch, lenScratch);
  if (r < 0) throw new SysError(syscall, -r);
  return decodeSockaddr(addrScratch, lenScratch.readUInt32LE(0));
}

/** getsockname(2), decoded: the local address (e.g. the port the kernel chose for port 0). */
export function getsockname(fd: number): SockAddr {
  return nameOf('getsockname', fd);
}

/** getpeername(2), decoded; throws SysError (ENOTCONN) when not connected. */
export function getpeername(fd: number): SockAddr {
  return nameOf('getpeername', fd);
}
