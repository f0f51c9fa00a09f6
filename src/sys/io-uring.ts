// io-uring.ts — io_uring from TypeScript with no C of our own: io_uring_setup, io_uring_enter and
// io_uring_register through syscall(2), the rings mmapped and read through typed arrays over that memory
// (koffi.view turns a native pointer into an ArrayBuffer).
//
// Layouts (include/uapi/linux/io_uring.h; identical on x86_64 and arm64, both little-endian, which is
// checked): struct io_uring_sqe is 64 bytes, struct io_uring_cqe 16 (no CQE32), struct io_uring_params
// 120, struct io_uring_buf 16. 64-bit fields are written as two 32-bit halves, low half first.
//
// Memory ordering. The rings are shared with the kernel, which writes the CQ tail with a store-release
// after the CQEs and reads the SQ tail with a load-acquire before the SQEs (and the mirror for the heads).
// So: we read the CQ tail with Atomics.load (an acquire: ldar on arm64, a plain mov on x86-64, whose TSO
// already orders it, but also a compiler barrier for V8) before reading the CQEs it covers, and publish
// the CQ head with Atomics.store (release: the CQEs are read before the kernel may reuse them). We write
// SQEs with plain stores and publish the SQ tail with Atomics.store (release: stlr on arm64, and
// sequentially consistent xchg on x86-64), so the kernel never sees a tail ahead of its SQEs. The same
// holds for the provided buffer ring's tail (buffers written first, then the tail with Atomics.store).
// Atomics work on these non-shared ArrayBuffers as well.
//
// Results: every completion carries its own -errno in cqe.res, so nothing on the I/O path reads errno.
// io_uring_setup/enter/register go through bindSys too: each returns its own -errno, errno is never read.
import { readFileSync } from 'node:fs';
import { endianness, release } from 'node:os';
import { bindLibc, bindSys, koffi, lastErrno } from './libc.ts';

// ---- ABI numbers -------------------------------------------------------------------------------------

export const IORING_OP_NOP = 0;
export const IORING_OP_POLL_ADD = 6;
export const IORING_OP_ACCEPT = 13;
export const IORING_OP_ASYNC_CANCEL = 14;
export const IORING_OP_FILES_UPDATE = 20;
export const IORING_OP_SEND = 26;
export const IORING_OP_RECV = 27;

export const IORING_SETUP_CQSIZE = 1 << 3;
export const IORING_SETUP_SUBMIT_ALL = 1 << 7;
export const IORING_SETUP_COOP_TASKRUN = 1 << 8;
export const IORING_SETUP_SINGLE_ISSUER = 1 << 12;
export const IORING_SETUP_DEFER_TASKRUN = 1 << 13;

export const IORING_FEAT_SINGLE_MMAP = 1 << 0;
export const IORING_FEAT_NODROP = 1 << 1;
export const IORING_FEAT_EXT_ARG = 1 << 8;
export const IORING_FEAT_CQE_SKIP = 1 << 11;

export const IORING_ENTER_GETEVENTS = 1 << 0;
export const IORING_ENTER_EXT_ARG = 1 << 3;

export const IOSQE_FIXED_FILE = 1 << 0;
export const IOSQE_BUFFER_SELECT = 1 << 5;
export const IOSQE_CQE_SKIP_SUCCESS = 1 << 6;
/** sqe.ioprio for ACCEPT. */
export const IORING_ACCEPT_MULTISHOT = 1 << 0;
/** sqe.ioprio for RECV. */
export const IORING_RECV_MULTISHOT = 1 << 1;
/** sqe.cancel_flags. */
export const IORING_ASYNC_CANCEL_ALL = 1 << 0;
export const IORING_ASYNC_CANCEL_FD = 1 << 1;

export const IORING_CQE_F_BUFFER = 1 << 0;
export const IORING_CQE_F_MORE = 1 << 1;
export const IORING_CQE_BUFFER_SHIFT = 16;
/** cq ring flags: the registered eventfd is not signalled while set. */
export const IORING_CQ_EVENTFD_DISABLED = 1 << 0;

export const IORING_REGISTER_EVENTFD = 4;
export const IORING_REGISTER_PROBE = 8;
export const IORING_REGISTER_FILES2 = 13;
const IORING_RSRC_REGISTER_SPARSE = 1 << 0;
export const IORING_REGISTER_PBUF_RING = 22;
export const IORING_UNREGISTER_PBUF_RING = 23;
const IO_URING_OP_SUPPORTED = 1;

const IORING_OFF_SQ_RING = 0;
const IORING_OFF_SQES = 0x10000000;

/** Byte offsets in struct io_uring_sqe (64 bytes). */
export const SQE = {
  size: 64,
  opcode: 0, // u8
  flags: 1, // u8
  ioprio: 2, // u16
  fd: 4, // s32
  off: 8, // u64 (also addr2)
  addr: 16, // u64
  len: 24, // u32
  opFlags: 28, // u32: msg_flags, accept_flags, cancel_flags, poll32_events...
  userData: 32, // u64
  bufGroup: 40, // u16 (also buf_index)
  personality: 42, // u16
  fileIndex: 44, // s32
  addr3: 48, // u64
} as const;

/** Byte offsets in struct io_uring_cqe (16 bytes). */
export const CQE = { size: 16, userData: 0, res: 8, flags: 12 } as const;

/** Byte offsets in struct io_uring_params (120 bytes). */
export const PARAMS = {
  size: 120,
  sqEntries: 0,
  cqEntries: 4,
  flags: 8,
  features: 20,
  sqOff: 40, // struct io_sqring_offsets: head, tail, ring_mask, ring_entries, flags, dropped, array (u32 each)
  cqOff: 80, // struct io_cqring_offsets: head, tail, ring_mask, ring_entries, overflow, cqes, flags (u32 each)
} as const;

/** struct io_uring_buf (16 bytes): u64 addr, u32 len, u16 bid; the ring's u16 tail overlays entry 0 at 14. */
export const BUF = { size: 16, addr: 0, len: 8, bid: 12, ringTail: 14 } as const;

const PROT_RW = 3;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MAP_POPULATE = 0x8000;

// The system calls return their result or -errno (bindSys; syscall numbers in libc.ts).
const u = bindSys({
  setup: 'long io_uring_setup(uint32_t entries, void *params)',
  enter:
    'long io_uring_enter(int fd, uint32_t submit, uint32_t complete, uint32_t flags, intptr_t arg, size_t argsz)',
  register: 'long io_uring_register(int fd, uint32_t opcode, intptr_t arg, uint32_t nargs)',
});

const c = bindLibc({
  mmap: 'void *mmap(void *addr, size_t len, int prot, int flags, int fd, intptr_t off)',
  munmap: 'int munmap(void *addr, size_t len)',
  close: 'int close(int fd)',
});

/** Anonymous memory of our own (page-aligned, as the kernel wants a provided buffer ring), and its view. */
export class Mapping {
  readonly pointer: unknown;
  readonly address: number;
  readonly buffer: ArrayBuffer;
  readonly length: number;
  constructor(pointer: unknown, length: number) {
    this.pointer = pointer;
    this.length = length;
    this.address = Number(koffi().address(pointer));
    this.buffer = koffi().view(pointer, length) as ArrayBuffer;
  }
  static anonymous(length: number): Mapping {
    const p = c.mmap(null, length, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p === null || Number(koffi().address(p)) === -1 || Number(koffi().address(p)) === 0)
      throw new Error(`mmap of ${length} bytes failed: errno ${lastErrno()}`);
    return new Mapping(p, length);
  }
  unmap(): void {
    c.munmap(this.pointer, this.length);
  }
}

function mapRing(fd: number, length: number, offset: number): Mapping {
  const p = c.mmap(null, length, PROT_RW, MAP_SHARED | MAP_POPULATE, fd, offset);
  const address = p === null ? 0 : Number(koffi().address(p));
  if (address === 0 || address === -1)
    throw new Error(`mmap of the io_uring rings failed: errno ${lastErrno()}`);
  return new Mapping(p, length);
}

export interface RingOptions {
  entries: number;
  cqEntries: number;
  flags: number;
}

/**
 * One io_uring: its descriptor, the SQ and CQ rings and the SQE array, with the few operations a proactor
 * needs. Not thread-safe (nor needs to be: one ring per event loop, IORING_SETUP_SINGLE_ISSUER).
 */
export class IoUring {
  readonly fd: number;
  readonly flags: number;
  readonly features: number;
  readonly sqEntries: number;
  readonly cqEntries: number;
  private readonly maps: Mapping[] = [];
  // SQ ring
  private readonly sqTailView: Uint32Array; // [0] is the tail
  private readonly sqHeadView: Uint32Array;
  private readonly sqMask: number;
  private sqTail = 0;
  /** The SQ head as last read: at or behind the kernel's. */
  private sqHeadSeen = 0;
  /** SQEs prepared and not yet handed to io_uring_enter. */
  pending = 0;
  private readonly sqe8: Uint8Array;
  private readonly sqe16: Uint16Array;
  private readonly sqe32: Uint32Array;
  private readonly sqeI32: Int32Array;
  private readonly sqe64: Float64Array;
  // CQ ring
  private readonly cqHeadView: Uint32Array;
  private readonly cqTailView: Uint32Array;
  private readonly cqFlagsView: Uint32Array;
  private readonly cqMask: number;
  private readonly cqe32: Uint32Array;
  private readonly cqeI32: Int32Array;
  private readonly cqeBase: number; // in u32 units
  private cqHead = 0;
  /** io_uring_getevents_arg + __kernel_timespec, for waits with a timeout. */
  private readonly waitArg: Mapping;
  private readonly waitArg32: Uint32Array;
  /** One s32 per SQE slot: the descriptor a FILES_UPDATE in that slot installs (read when submitted). */
  private readonly updateFds: Mapping;
  private readonly updateFds32: Int32Array;

  constructor(options: RingOptions) {
    if (endianness() !== 'LE') throw new Error('io_uring bindings assume a little-endian machine');
    const params = Buffer.alloc(PARAMS.size);
    params.writeUInt32LE(options.flags, PARAMS.flags);
    params.writeUInt32LE(options.cqEntries, PARAMS.cqEntries);
    const fd = Number(u.setup(options.entries, params));
    if (fd < 0) throw new IoUringSetupError(-fd);
    this.fd = fd;
    try {
      this.flags = options.flags;
      this.features = params.readUInt32LE(PARAMS.features);
      this.sqEntries = params.readUInt32LE(PARAMS.sqEntries);
      this.cqEntries = params.readUInt32LE(PARAMS.cqEntries);
      const so = (i: number) => params.readUInt32LE(PARAMS.sqOff + i * 4);
      const co = (i: number) => params.readUInt32LE(PARAMS.cqOff + i * 4);
      const sqSize = so(6) + this.sqEntries * 4;
      const cqSize = co(5) + this.cqEntries * CQE.size;
      const single = (this.features & IORING_FEAT_SINGLE_MMAP) !== 0;
      const sqMap = mapRing(fd, single ? Math.max(sqSize, cqSize) : sqSize, IORING_OFF_SQ_RING);
      this.maps.push(sqMap);
      const cqMap = single ? sqMap : mapRing(fd, cqSize, 0x8000000);
      if (!single) this.maps.push(cqMap);
      const sqes = mapRing(fd, this.sqEntries * SQE.size, IORING_OFF_SQES);
      this.maps.push(sqes);
      this.sqHeadView = new Uint32Array(sqMap.buffer, so(0), 1);
      this.sqTailView = new Uint32Array(sqMap.buffer, so(1), 1);
      this.sqMask = new Uint32Array(sqMap.buffer, so(2), 1)[0]!;
      // The SQ index array: identity, once (SQEs are filled in ring order).
      const array = new Uint32Array(sqMap.buffer, so(6), this.sqEntries);
      for (let i = 0; i < this.sqEntries; i++) array[i] = i;
      this.sqTail = Atomics.load(this.sqTailView, 0);
      this.sqHeadSeen = Atomics.load(this.sqHeadView, 0);
      this.sqe8 = new Uint8Array(sqes.buffer);
      this.sqe16 = new Uint16Array(sqes.buffer);
      this.sqe32 = new Uint32Array(sqes.buffer);
      this.sqe64 = new Float64Array(sqes.buffer);
      this.sqeI32 = new Int32Array(sqes.buffer);
      this.cqHeadView = new Uint32Array(cqMap.buffer, co(0), 1);
      this.cqTailView = new Uint32Array(cqMap.buffer, co(1), 1);
      this.cqMask = new Uint32Array(cqMap.buffer, co(2), 1)[0]!;
      this.cqFlagsView = new Uint32Array(cqMap.buffer, co(6), 1);
      this.cqe32 = new Uint32Array(cqMap.buffer);
      this.cqeI32 = new Int32Array(cqMap.buffer);
      this.cqeBase = co(5) >> 2;
      this.cqHead = Atomics.load(this.cqHeadView, 0);
      this.waitArg = Mapping.anonymous(4096);
      this.waitArg32 = new Uint32Array(this.waitArg.buffer);
      this.updateFds = Mapping.anonymous(Math.max(4096, this.sqEntries * 4));
      this.updateFds32 = new Int32Array(this.updateFds.buffer);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  // ---- submission --------------------------------------------------------------------------------------
  /** A zeroed SQE slot (its index in u32 units is returned), submitting first if the SQ is full. */
  private next(): number {
    // The kernel's head read again only when the ring looks full by the last one read (the head only
    // moves forward): not an Atomics.load, which V8 calls out of line, per SQE.
    let head = this.sqHeadSeen;
    if ((this.sqTail - head) >>> 0 >= this.sqEntries)
      head = this.sqHeadSeen = Atomics.load(this.sqHeadView, 0);
    if ((this.sqTail - head) >>> 0 >= this.sqEntries || this.pending >= this.sqEntries) this.submit();
    const index = this.sqTail & this.sqMask;
    this.sqTail = (this.sqTail + 1) >>> 0;
    this.pending++;
    const w = index * 16; // 64 bytes = 16 u32
    // Zeroed as 8 doubles (0.0 is all zero bits): eight stores, not a loop of sixteen.
    const d = this.sqe64;
    const q = index * 8;
    d[q] = 0;
    d[q + 1] = 0;
    d[q + 2] = 0;
    d[q + 3] = 0;
    d[q + 4] = 0;
    d[q + 5] = 0;
    d[q + 6] = 0;
    d[q + 7] = 0;
    return w;
  }

  private head(op: number, fd: number, userLo: number, userHi: number): number {
    const w = this.next();
    this.sqe8[w * 4] = op;
    this.sqeI32[w + 1] = fd;
    this.sqe32[w + 8] = userLo;
    this.sqe32[w + 9] = userHi;
    return w;
  }

  /** Multishot accept: one SQE, a CQE per accepted descriptor (flags: SOCK_NONBLOCK | SOCK_CLOEXEC). */
  prepMultishotAccept(fd: number, acceptFlags: number, userLo: number, userHi = 0): void {
    const w = this.head(IORING_OP_ACCEPT, fd, userLo, userHi);
    this.sqe16[w * 2 + 1] = IORING_ACCEPT_MULTISHOT;
    this.sqe32[w + 7] = acceptFlags;
  }

  /**
   * Multishot receive into buffers picked from provided buffer group `group`. `fixed`: fd is a slot of
   * the registered file table (IOSQE_FIXED_FILE), not a descriptor.
   */
  prepRecvMultishot(fd: number, fixed: boolean, group: number, userLo: number, userHi = 0): void {
    const w = this.head(IORING_OP_RECV, fd, userLo, userHi);
    this.sqe8[w * 4 + 1] = fixed ? IOSQE_BUFFER_SELECT | IOSQE_FIXED_FILE : IOSQE_BUFFER_SELECT;
    this.sqe16[w * 2 + 1] = IORING_RECV_MULTISHOT;
    this.sqe16[(w + 10) * 2] = group;
  }

  /** One recv(2) of at most `len` bytes into `address` (no buffer selection). */
  prepRecv(fd: number, fixed: boolean, address: number, len: number, userLo: number, userHi = 0): void {
    const w = this.head(IORING_OP_RECV, fd, userLo, userHi);
    if (fixed) this.sqe8[w * 4 + 1] = IOSQE_FIXED_FILE;
    this.sqe32[w + 4] = address >>> 0;
    this.sqe32[w + 5] = Math.floor(address / 0x100000000);
    this.sqe32[w + 6] = len;
  }

  /**
   * send(2) of `len` bytes at `address` (MSG_NOSIGNAL in msgFlags: a reset peer is -EPIPE, no signal).
   * `fixed`: fd is a slot of the registered file table.
   */
  prepSend(
    fd: number,
    fixed: boolean,
    address: number,
    len: number,
    msgFlags: number,
    userLo: number,
    userHi = 0,
  ): void {
    const w = this.head(IORING_OP_SEND, fd, userLo, userHi);
    if (fixed) this.sqe8[w * 4 + 1] = IOSQE_FIXED_FILE;
    this.sqe32[w + 4] = address >>> 0;
    this.sqe32[w + 5] = Math.floor(address / 0x100000000);
    this.sqe32[w + 6] = len;
    this.sqe32[w + 7] = msgFlags;
  }

  /** One-shot poll for `events` (POLLIN...) on fd. */
  prepPoll(fd: number, events: number, userLo: number, userHi = 0): void {
    const w = this.head(IORING_OP_POLL_ADD, fd, userLo, userHi);
    this.sqe32[w + 7] = events;
  }

  /** Cancel the request whose user_data is (targetLo, targetHi). */
  prepCancel(targetLo: number, targetHi: number, userLo: number, userHi = 0): void {
    const w = this.head(IORING_OP_ASYNC_CANCEL, -1, userLo, userHi);
    this.sqe32[w + 4] = targetLo;
    this.sqe32[w + 5] = targetHi;
  }

  /** Cancel every request on descriptor fd. */
  prepCancelFd(fd: number, userLo: number, userHi = 0): void {
    const w = this.head(IORING_OP_ASYNC_CANCEL, fd, userLo, userHi);
    this.sqe32[w + 7] = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
  }

  /**
   * Put descriptor fd (-1: nothing) into slot `slot` of the registered file table. Its completion is
   * skipped when it succeeds (IOSQE_CQE_SKIP_SUCCESS, where the kernel has it): only a failure reports.
   */
  prepFilesUpdate(slot: number, fd: number, userLo: number, userHi = 0): void {
    const w = this.head(IORING_OP_FILES_UPDATE, -1, userLo, userHi);
    const index = w >> 4; // the SQE's slot: its fd cell stays ours until the kernel has consumed the SQE
    this.updateFds32[index] = fd;
    const address = this.updateFds.address + index * 4;
    if ((this.features & IORING_FEAT_CQE_SKIP) !== 0) this.sqe8[w * 4 + 1] = IOSQE_CQE_SKIP_SUCCESS;
    this.sqe32[w + 2] = slot; // off
    this.sqe32[w + 4] = address >>> 0;
    this.sqe32[w + 5] = Math.floor(address / 0x100000000);
    this.sqe32[w + 6] = 1; // len: one descriptor
  }

  prepNop(userLo: number, userHi = 0): void {
    this.head(IORING_OP_NOP, -1, userLo, userHi);
  }

  /**
   * Hand the prepared SQEs to the kernel and run its pending completions (GETEVENTS: with deferred task
   * work, completions are posted only inside io_uring_enter). Waits for `minComplete` CQEs, at most
   * `timeoutMs` when given (needs IORING_FEAT_EXT_ARG). The SQEs submitted, or -errno.
   */
  enter(minComplete = 0, timeoutMs = -1): number {
    const submit = this.pending;
    Atomics.store(this.sqTailView, 0, this.sqTail);
    let flags = IORING_ENTER_GETEVENTS;
    let arg = 0;
    let argsz = 0;
    if (minComplete > 0 && timeoutMs >= 0) {
      // struct io_uring_getevents_arg { u64 sigmask; u32 sigmask_sz; u32 min_wait_usec; u64 ts } at 0,
      // struct __kernel_timespec { s64 tv_sec; s64 tv_nsec } at 32.
      const a = this.waitArg32;
      const base = this.waitArg.address;
      a.fill(0, 0, 12);
      a[4] = (base + 32) >>> 0;
      a[5] = Math.floor((base + 32) / 0x100000000);
      a[8] = Math.floor(timeoutMs / 1000);
      a[10] = (timeoutMs % 1000) * 1_000_000;
      flags |= IORING_ENTER_EXT_ARG;
      arg = base;
      argsz = 24;
    }
    const r = Number(u.enter(this.fd, submit, minComplete, flags, arg, argsz));
    if (r < 0) {
      // ETIME: the wait timed out; EINTR: a signal. Both submitted what they could: take it from the head.
      this.pending = Math.max(0, this.sqTail - Atomics.load(this.sqHeadView, 0));
      return r;
    }
    this.pending -= r;
    return r;
  }

  /** Submit without waiting. */
  submit(): number {
    return this.enter(0);
  }

  // ---- completion ----------------------------------------------------------------------------------------
  /** CQEs ready to read: they are at cqIndex(0) .. cqIndex(n-1); call advance(n) when done with them. */
  ready(): number {
    return (Atomics.load(this.cqTailView, 0) - this.cqHead) >>> 0;
  }
  /** The u32 index of the i-th ready CQE. */
  cqIndex(i: number): number {
    return this.cqeBase + (((this.cqHead + i) & this.cqMask) << 2);
  }
  userLo(ci: number): number {
    return this.cqe32[ci]!;
  }
  userHi(ci: number): number {
    return this.cqe32[ci + 1]!;
  }
  res(ci: number): number {
    return this.cqeI32[ci + 2]!;
  }
  cqeFlags(ci: number): number {
    return this.cqe32[ci + 3]!;
  }
  advance(n: number): void {
    this.cqHead = (this.cqHead + n) >>> 0;
    Atomics.store(this.cqHeadView, 0, this.cqHead);
  }

  /** Turn the registered eventfd's signalling off (busy) or on (about to sleep on it). */
  eventfdEnabled(on: boolean): void {
    const f = Atomics.load(this.cqFlagsView, 0);
    Atomics.store(this.cqFlagsView, 0, on ? f & ~IORING_CQ_EVENTFD_DISABLED : f | IORING_CQ_EVENTFD_DISABLED);
  }

  // ---- registration --------------------------------------------------------------------------------------
  /** io_uring_register(2): 0 or more, or -errno. */
  register(opcode: number, arg: number, nargs: number): number {
    return Number(u.register(this.fd, opcode, arg, nargs));
  }

  registerEventfd(efd: number): number {
    const m = Buffer.alloc(4);
    m.writeInt32LE(efd);
    return this.register(IORING_REGISTER_EVENTFD, Number(koffi().address(m)), 1);
  }

  /**
   * A registered file table of `slots` empty slots (IORING_REGISTER_FILES2, sparse; Linux 5.19): requests
   * on a socket installed there name its slot with IOSQE_FIXED_FILE and skip the descriptor lookup and
   * its reference count (fget/fput) per operation. 0, or -errno.
   */
  registerSparseFiles(slots: number): number {
    // struct io_uring_rsrc_register { u32 nr; u32 flags; u64 resv2; u64 data; u64 tags }
    const reg = Buffer.alloc(32);
    reg.writeUInt32LE(slots, 0);
    reg.writeUInt32LE(IORING_RSRC_REGISTER_SPARSE, 4);
    return this.register(IORING_REGISTER_FILES2, Number(koffi().address(reg)), 32);
  }

  /** The opcodes the kernel supports (IORING_REGISTER_PROBE), or null when it cannot say. */
  supportedOps(): Set<number> | null {
    const n = 256;
    const probe = Buffer.alloc(16 + n * 8);
    if (this.register(IORING_REGISTER_PROBE, Number(koffi().address(probe)), n) < 0) return null;
    const ops = new Set<number>();
    const len = probe[1]!;
    for (let i = 0; i < len; i++) {
      const at = 16 + i * 8;
      if ((probe.readUInt16LE(at + 2) & IO_URING_OP_SUPPORTED) !== 0) ops.add(probe[at]!);
    }
    return ops;
  }

  close(): void {
    for (const m of this.maps) m.unmap();
    this.maps.length = 0;
    this.waitArg?.unmap();
    this.updateFds?.unmap();
    if (this.fd >= 0) c.close(this.fd);
  }
}

/**
 * A provided buffer ring (IORING_REGISTER_PBUF_RING): `count` buffers of `size` bytes each, in one mapping
 * the kernel picks from for every receive that selects buffer group `group`. The ring and the buffers are
 * ours; a buffer goes back with give(), published by flush() (one tail store for a turn's worth).
 */
export class BufferRing {
  readonly group: number;
  readonly count: number;
  readonly size: number;
  /** The buffers: buffer `bid` is bytes [bid * size, (bid + 1) * size). */
  readonly data: Mapping;
  /** A Node Buffer over all of `data`, for views (subarray) of received bytes. */
  readonly bytes: Buffer;
  private readonly ring: Mapping;
  private readonly ring32: Uint32Array;
  private readonly ring16: Uint16Array;
  private readonly tailView: Uint16Array;
  private tail = 0;
  private readonly mask: number;

  constructor(uring: IoUring, group: number, count: number, size: number) {
    if ((count & (count - 1)) !== 0 || count > 32768)
      throw new RangeError('buffer count must be a power of two <= 32768');
    this.group = group;
    this.count = count;
    this.size = size;
    this.mask = count - 1;
    this.ring = Mapping.anonymous(Math.max(4096, count * BUF.size));
    this.data = Mapping.anonymous(count * size);
    this.bytes = Buffer.from(this.data.buffer);
    this.ring32 = new Uint32Array(this.ring.buffer);
    this.ring16 = new Uint16Array(this.ring.buffer);
    this.tailView = new Uint16Array(this.ring.buffer, BUF.ringTail, 1);
    // struct io_uring_buf_reg { u64 ring_addr; u32 ring_entries; u16 bgid; u16 flags; u64 resv[3] }
    const reg = Buffer.alloc(40);
    reg.writeUInt32LE(this.ring.address >>> 0, 0);
    reg.writeUInt32LE(Math.floor(this.ring.address / 0x100000000), 4);
    reg.writeUInt32LE(count, 8);
    reg.writeUInt16LE(group, 12);
    const r = uring.register(IORING_REGISTER_PBUF_RING, Number(koffi().address(reg)), 1);
    if (r < 0) {
      this.ring.unmap();
      this.data.unmap();
      throw new IoUringSetupError(-r, 'IORING_REGISTER_PBUF_RING');
    }
    for (let bid = 0; bid < count; bid++) this.give(bid);
    this.flush();
  }

  /** Buffer bid back to the kernel (seen once flush() publishes the tail). */
  give(bid: number): void {
    const i = (this.tail & this.mask) * 4; // 16 bytes = 4 u32
    const address = this.data.address + bid * this.size;
    this.ring32[i] = address >>> 0;
    this.ring32[i + 1] = Math.floor(address / 0x100000000);
    this.ring32[i + 2] = this.size;
    this.ring16[(i + 3) * 2] = bid; // bid at byte 12; byte 14 (resv, or entry 0's tail) is left alone
    this.tail = (this.tail + 1) & 0xffff;
  }

  /** Publish what give() added: buffers first, then the tail (release). */
  flush(): void {
    Atomics.store(this.tailView, 0, this.tail);
  }

  /** The address of byte `offset` of the buffers. */
  addressAt(offset: number): number {
    return this.data.address + offset;
  }

  dispose(): void {
    this.ring.unmap();
    this.data.unmap();
  }
}

export class IoUringSetupError extends Error {
  readonly errno: number;
  constructor(errno: number, what = 'io_uring_setup') {
    super(`${what} failed: errno ${errno}`);
    this.errno = errno;
  }
}

// ---- support, probed once --------------------------------------------------------------------------
/** The setup flags the proactor asks for first, then without deferred task work (before 6.1). */
export const PROACTOR_SETUP_FLAGS = [
  IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL,
  IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL,
] as const;

const NEEDED_OPS: [number, string][] = [
  [IORING_OP_ACCEPT, 'IORING_OP_ACCEPT'],
  [IORING_OP_RECV, 'IORING_OP_RECV'],
  [IORING_OP_SEND, 'IORING_OP_SEND'],
  [IORING_OP_ASYNC_CANCEL, 'IORING_OP_ASYNC_CANCEL'],
  [IORING_OP_POLL_ADD, 'IORING_OP_POLL_ADD'],
];

export interface IoUringSupport {
  ok: boolean;
  /** What is missing, in one line (empty when ok). */
  reason: string;
  /** The setup flags that worked. */
  flags: number;
}

let support: IoUringSupport | undefined;

/**
 * Can this kernel run the proactor? Checked once: io_uring_disabled, io_uring_setup with our flags, the
 * opcodes (IORING_REGISTER_PROBE), EXT_ARG waits, provided buffer rings (5.19), and multishot receive
 * (6.0, which a probe cannot see: the kernel's version says).
 */
export function ioUringSupport(): IoUringSupport {
  if (support !== undefined) return support;
  support = probe();
  return support;
}

function kernelAtLeast(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release());
  if (m === null) return true;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

function probe(): IoUringSupport {
  const no = (reason: string): IoUringSupport => ({ ok: false, reason, flags: 0 });
  // The fallback path on demand (tests; a user who wants io_uring left alone).
  if (process.env.C10K_IO_URING === 'off') return no('io_uring is turned off here (C10K_IO_URING=off)');
  if (process.platform !== 'linux') return no(`io_uring is Linux only (platform ${process.platform})`);
  if (process.arch !== 'x64' && process.arch !== 'arm64')
    return no(`io_uring bindings cover x64 and arm64, not ${process.arch}`);
  try {
    const disabled = readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim();
    if (disabled === '2') return no('io_uring is disabled (sysctl kernel.io_uring_disabled=2)');
  } catch {} // before 6.6 the sysctl does not exist
  if (!kernelAtLeast(6, 0))
    return no(`kernel ${release()} lacks multishot receive (IORING_RECV_MULTISHOT, Linux 6.0)`);
  let uring: IoUring | undefined;
  let flags = 0;
  let lastError = 0;
  for (const f of PROACTOR_SETUP_FLAGS) {
    try {
      uring = new IoUring({ entries: 8, cqEntries: 16, flags: f });
      flags = f;
      break;
    } catch (error) {
      if (!(error instanceof IoUringSetupError)) return no(`io_uring_setup: ${(error as Error).message}`);
      lastError = error.errno;
      if (error.errno !== 22) break; // EINVAL: try fewer flags; anything else will not get better
    }
  }
  if (uring === undefined) {
    if (lastError === 38) return no('io_uring_setup is not implemented by this kernel (ENOSYS)');
    if (lastError === 1 || lastError === 13)
      return no(
        'io_uring_setup is not permitted here (EPERM: kernel.io_uring_disabled=1 or a seccomp filter)',
      );
    return no(`io_uring_setup failed (errno ${lastError})`);
  }
  try {
    if ((uring.features & IORING_FEAT_EXT_ARG) === 0)
      return no('io_uring lacks IORING_FEAT_EXT_ARG (Linux 5.11)');
    const ops = uring.supportedOps();
    if (ops === null) return no('io_uring cannot list its opcodes (IORING_REGISTER_PROBE, Linux 5.6)');
    const missing = NEEDED_OPS.filter(([op]) => !ops.has(op)).map(([, name]) => name);
    if (missing.length > 0) return no(`io_uring lacks ${missing.join(', ')}`);
    try {
      new BufferRing(uring, 0, 1, 64).dispose();
    } catch {
      return no('io_uring lacks provided buffer rings (IORING_REGISTER_PBUF_RING, Linux 5.19)');
    }
    return { ok: true, reason: '', flags };
  } finally {
    uring.close();
  }
}
