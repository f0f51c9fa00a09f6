// The proactor on io_uring: "receive for me, send for me, tell me when it is done". Where the reactor asks
// the kernel which sockets are ready and then makes a system call per read and per write, the proactor
// hands the kernel whole operations through a submission ring and reads their results from a completion
// ring, and one io_uring_enter a turn both submits everything the turn prepared and collects what
// finished. The cost of a system call from JavaScript (bench/ffi-cost.ts) is paid once a batch, not twice
// a message.
//
// - One ring (src/sys/io-uring.ts), single issuer with deferred task work where the kernel has it (6.1+):
//   completions are posted only inside our own io_uring_enter, never by interrupting us.
// - Accepting: one multishot accept on the listening socket, a completion per client; sockets are
//   accepted non-blocking (otherwise every receive would go to the kernel's io-wq threads). Admission is
//   the reactor's: ServerCore's limits, the descriptor cap (the accept is cancelled there and re-armed
//   below it, so clients wait in the accept queue or go to another worker).
// - Receiving: one multishot receive per connection, selecting buffers from one provided buffer ring that
//   every connection shares: an idle connection owns no read buffer. A completion carries the buffer id;
//   the app gets a view of it (as every backend hands out borrowed views), and the buffer goes back to the
//   ring after the handler returns, unless a send of that very view (an echo) holds it until the send
//   completes. When the ring runs dry a receive ends with -ENOBUFS and is re-armed once buffers are back.
//   Pausing (the app's pause(), an async handler) cancels the receive; what completes before the cancel
//   lands is kept and delivered on resume.
// - Sending: a connection has one send in flight; later writes wait and leave together (see
//   connection.ts); a short send is resumed with the rest before anything else. Every send of a turn goes
//   in the turn's one io_uring_enter.
// - Descriptors: each accepted socket is also put in the ring's registered file table, in the slot of
//   its descriptor number, and its receives and sends name the slot (IOSQE_FIXED_FILE): the kernel then
//   skips the descriptor lookup and its atomic reference count per operation (Node's threads share the
//   descriptor table, so every fget pays it). Where the kernel refuses the table, plain descriptors.
// - Closing cancels what the connection has in flight (its receive, its send) by user_data, empties its
//   slot and closes the descriptor at once (the socket closes when the slot is emptied, in the next
//   enter); completions that arrive later are told apart from a new connection on the same descriptor
//   number by a generation in their user_data.
// - Memory: a connection is one object (see connection.ts), and V8's young generation is kept small
//   (the process's heap policy: src/models/heap-policy.ts).
// - Every completion carries its own -errno: nothing on this path reads errno.
//
// A good citizen inside Node, as the syscall reactor is (src/backends/syscall/reactor.ts):
// - Busy: a turn is a few rounds (at most TURN_ROUNDS, within TURN_BUDGET_MS) of one io_uring_enter
//   (submit + collect) and the handling of its completions, then it yields to Node with setImmediate, at
//   once if Node has I/O of its own (a poll on libuv's epoll descriptor in the ring says so). Busy, it
//   never sleeps.
// - A lull: a turn that finds nothing waits up to SYNC_WAIT_MS in io_uring_enter for one completion, with a
//   poll on libuv's own epoll descriptor in the ring, so the wait ends at once when Node has I/O (IPC,
//   signals, pool completions).
// - Idle: the ring's eventfd (IORING_REGISTER_EVENTFD, silenced while busy through the CQ ring's
//   IORING_CQ_EVENTFD_DISABLED flag) is read on a libuv pool thread and the turn returns: Node sleeps in its
//   own poll until a completion is pending. Idle, it never spins. Anything that must interrupt that sleep
//   (a write from a timer, a close, shutdown) writes the eventfd itself.
import { connectionFdCap, openFilesLimit } from '../../net/fd-cap.ts';
import { listenTcpSocket } from '../../net/listen.ts';
import {
  type ListenSpec,
  ModelUnavailableError,
  type ResolvedServeOptions,
} from '../../net/server-contract.ts';
import { coreOptions, ServerCore } from '../../net/server-core.ts';
import * as sys from '../../sys/index.ts';
import { bindLibc, callAsync } from '../../sys/libc.ts';
import { connectionClass, FLUSH_LISTED, RECV_ARMED, type UringConnection } from './connection.ts';

// user_data: low word = (generation << 24) | (fd << 4) | operation; high word: a send's held buffer + 1.
const OP_ACCEPT = 1;
const OP_RECV = 2;
const OP_SEND = 3;
const OP_CANCEL = 4;
const OP_UV_POLL = 5;
const OP_FILES = 6;
const FD_LIMIT = 1 << 20;
/** The kernel's most registered files (IORING_MAX_FIXED_FILES). */
const FIXED_FILES_MAX = 1 << 20;

const SQ_ENTRIES = 4096;
const CQ_ENTRIES = 32768;
/** The shared receive buffers: BUFFERS of BUFFER_BYTES (a page each). */
export const BUFFERS = 16384;
const BUFFER_BYTES = 2048;
const BUFFER_GROUP = 0;
/** The longest our loop blocks Node's when a turn finds nothing (see the syscall reactor: a kernel tick). */
const SYNC_WAIT_MS = 5;
/**
 * A busy turn makes up to TURN_ROUNDS rounds of submit-and-collect, within TURN_BUDGET_MS, before it
 * yields to Node: each yield costs a loop iteration of Node's (its own epoll_wait among it). Against one
 * round a turn it made no difference beyond the noise (docs/performance.md).
 */
const TURN_ROUNDS = 8;
const TURN_BUDGET_MS = 1;
const ETIME = 62;
const ECANCELED = 125;

const pool = bindLibc({ read: 'intptr_t read(int fd, void *buf, size_t n)' });
const raw = bindLibc({ getpeername: 'int getpeername(int fd, void *addr, void *len)' });

/** Refuses to start where the kernel cannot run the proactor, naming what is missing. */
export function assertProactorAvailable(model: string): number {
  sys.assertSyscallBackendAvailable();
  const support = sys.ioUringSupport();
  if (!support.ok)
    throw new ModelUnavailableError(
      `--model ${model} needs io_uring: ${support.reason}; models that work here: reactor, multi-reactor, iterative, prefork, process-per-connection, thread-pool`,
    );
  return support.flags;
}

export class Proactor<In = unknown, Out = unknown> {
  readonly core: ServerCore<In, Out>;
  private readonly options: ResolvedServeOptions;
  private readonly uring: sys.IoUring;
  private readonly bufs: sys.BufferRing;
  private readonly poolBuffer: ArrayBuffer;
  /** The last view of the pool handed to a connection (inPool() knows it without asking V8). */
  private lastChunk: Buffer | null = null;
  /** Its pool buffer's id. */
  private lastBid = 0;
  /**
   * The view last made of each pool buffer, handed out again when that buffer next receives as many
   * bytes (steady traffic: always), as the reactor's read slots do (src/net/read-buffer.ts): a view is
   * valid while its handler runs, and a buffer a send still holds receives nothing, so one view is never
   * handed out twice at once. One Buffer a message less to allocate and to collect.
   */
  private readonly views: (Buffer | undefined)[];
  /** References per pool buffer handed out: the receive's while its handler runs, and sends of views of it. */
  private readonly holds: Uint16Array;
  /** Buffers given back this turn, published before the next enter. */
  private given = 0;
  private readonly conns: (UringConnection<In, Out> | undefined)[] = [];
  private readonly Connection = connectionClass(this);
  private readonly gens = new Uint8Array(FD_LIMIT);
  /** Connections with writes to send this turn: the first flushCount entries (a count, not length = 0,
   * which makes V8 shrink the array and grow it again each round). */
  private readonly flushList: (UringConnection<In, Out> | undefined)[] = [];
  private flushCount = 0;
  /** Connections whose receive must be armed (new, resumed, after -ENOBUFS). */
  private armList: UringConnection<In, Out>[] = [];
  /** What connections received while paused (copies), delivered on resume: rare, so kept here, not in
   * a field of every connection. */
  readonly stashes = new Map<UringConnection<In, Out>, Buffer[]>();
  /** IPv4 client address strings, shared by the connections from one address (bounded). */
  private readonly addresses = new Map<number, string>();
  private readonly peer = Buffer.alloc(sys.SOCKADDR_STORAGE_SIZE);
  private readonly peerLen = Buffer.alloc(4);
  /** Resumed connections with stashed bytes to deliver. */
  private stashList: UringConnection<In, Out>[] = [];
  /** Non-pool buffers of sends in flight whose connection is gone: kept alive until the kernel is done. */
  private readonly pinned = new Map<number, Buffer>();
  // the listening socket
  private listenFd = -1;
  private acceptArmed = false;
  private acceptWanted = false;
  private acceptClosing = false;
  private readonly fdCap: number;
  /** Slots in the ring's registered file table (0: none): a connection whose fd is below this is in slot
   * fd, and its receives and sends name the slot (no fget/fput per operation). */
  private readonly fileSlots: number;
  private localAddress = '';
  private localPort = 0;
  // the loop
  private readonly efd: number;
  private readonly efdBuf = Buffer.alloc(8);
  private readonly uvFd: number;
  private uvPollArmed = false;
  private parked = false;
  private woken = false;
  private turnScheduled = false;
  stopping = false;
  private loopDone: (() => void) | null = null;

  /** `buffers`: the shared receive buffers (a power of two; fewer only to test a ring that runs dry). */
  constructor(options: ResolvedServeOptions, flags: number, buffers = BUFFERS) {
    this.options = options;
    this.core = new ServerCore(coreOptions(options));
    this.uring = new sys.IoUring({ entries: SQ_ENTRIES, cqEntries: CQ_ENTRIES, flags });
    try {
      this.bufs = new sys.BufferRing(this.uring, BUFFER_GROUP, buffers, BUFFER_BYTES);
    } catch (error) {
      this.uring.close();
      throw error;
    }
    this.poolBuffer = this.bufs.bytes.buffer as ArrayBuffer;
    this.holds = new Uint16Array(buffers);
    this.views = new Array<Buffer | undefined>(buffers).fill(undefined);
    this.efd = sys.eventfd(0, sys.EFD_CLOEXEC);
    this.uring.registerEventfd(this.efd);
    this.uring.eventfdEnabled(false);
    this.uvFd = sys.libuvBackendFd();
    this.fdCap = Math.min(connectionFdCap(), FD_LIMIT - 1);
    // A slot per descriptor number this process may open (the kernel allows no more than RLIMIT_NOFILE).
    // Where the kernel refuses the table, connections use plain descriptors.
    const slots = Math.min(openFilesLimit(), FIXED_FILES_MAX);
    this.fileSlots = this.uring.registerSparseFiles(slots) === 0 ? slots : 0;
    if (this.fileSlots === 0)
      this.core.logger.info('io_uring: no registered file table here; using plain descriptors');
  }

  listen(spec: ListenSpec): number {
    if (spec.fd !== undefined) this.listenFd = spec.fd;
    else {
      this.listenFd = listenTcpSocket(this.options, {
        nonBlocking: true,
        reusePort: spec.reusePort ?? false,
      });
    }
    sys.setNonBlocking(this.listenFd); // drained with accept4 on close
    // Accepted sockets inherit TCP_NODELAY from the listening socket (Linux): set once here, not with a
    // system call per client.
    sys.setsockopt(this.listenFd, sys.IPPROTO_TCP, sys.TCP_NODELAY, 1);
    const local = sys.getsockname(this.listenFd);
    this.localAddress = local.address;
    this.localPort = local.port;
    this.acceptWanted = true;
    this.armAccept();
    this.core.start();
    this.schedule();
    return local.port;
  }

  // ---- the loop -------------------------------------------------------------------------------------
  private schedule(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(this.turn);
  }

  private readonly turn = (): void => {
    this.turnScheduled = false;
    if (this.parked) {
      this.wake(); // its wait ends, and the turn comes then
      return;
    }
    if (this.stopping) {
      this.finish();
      return;
    }
    // Node's own I/O (IPC, signals, pool completions) completes this poll: then we yield at once.
    if (this.uvFd >= 0 && !this.uvPollArmed) {
      this.uring.prepPoll(this.uvFd, sys.POLLIN, OP_UV_POLL);
      this.uvPollArmed = true;
    }
    // Busy: rounds of submit-and-collect until one finds nothing, Node has I/O, or the budget is spent.
    const until = performance.now() + TURN_BUDGET_MS;
    for (let round = 1; ; round++) {
      this.prepare();
      this.enter(0, -1);
      const reaped = this.reap();
      if (reaped === 0 && !this.pendingWork()) break;
      if (round >= TURN_ROUNDS || !this.uvPollArmed || performance.now() >= until) {
        this.schedule();
        return;
      }
    }
    // A lull: wait a little here, ended early by a completion or by Node's own I/O.
    if (!this.uvPollArmed) {
      this.schedule();
      return;
    }
    this.enter(1, SYNC_WAIT_MS);
    if (this.reap() > 0 || this.pendingWork()) this.schedule();
    else this.park();
  };

  private enter(min: number, timeoutMs: number): void {
    const r = this.uring.enter(min, timeoutMs);
    if (r < 0 && r !== -ETIME && r !== -sys.EINTR && r !== -sys.EAGAIN && r !== -16 /* EBUSY */)
      this.core.logger.error(`io_uring_enter failed: ${sys.errnoName(-r)}`);
  }

  private pendingWork(): boolean {
    return (
      this.flushCount > 0 || this.armList.length > 0 || this.stashList.length > 0 || this.uring.pending > 0
    );
  }

  /** What the last turn's handlers (and timers since) asked for becomes SQEs. */
  private prepare(): void {
    if (this.stashList.length > 0) {
      const list = this.stashList;
      this.stashList = [];
      for (const conn of list) {
        conn.deliverStash();
        this.maybeArm(conn);
      }
    }
    if (this.flushCount > 0) {
      // A connection listed while this runs (none today: startSend only moves what waits) is appended
      // and handled in this same loop.
      const list = this.flushList;
      for (let i = 0; i < this.flushCount; i++) {
        const conn = list[i]!;
        list[i] = undefined;
        conn.set(FLUSH_LISTED, false);
        if (conn.closed) continue;
        if (conn.startSend()) this.submitSend(conn);
      }
      this.flushCount = 0;
    }
    if (this.given > 0) {
      this.bufs.flush();
      this.given = 0;
    }
    if (this.armList.length > 0) {
      const list = this.armList;
      this.armList = [];
      for (const conn of list) {
        if (conn.closed || conn.has(RECV_ARMED) || conn.readPaused || conn.eof) continue;
        conn.set(RECV_ARMED, true);
        const fd = conn.fd;
        const fixed = fd < this.fileSlots;
        this.uring.prepRecvMultishot(fd, fixed, BUFFER_GROUP, (conn.tag | OP_RECV) >>> 0);
      }
    }
  }

  private submitSend(conn: UringConnection<In, Out>): void {
    const buf = conn.inflight!;
    const done = conn.inflightDone;
    // A send holds a pool buffer exactly when it is a view of one (see UringConnection.transportSendOrQueue).
    const address =
      conn.inflightHold >= 0 ? this.bufs.addressAt(buf.byteOffset + done) : sys.addressOf(buf) + done;
    const fd = conn.fd;
    this.uring.prepSend(
      fd,
      fd < this.fileSlots,
      address,
      buf.length - done,
      sys.MSG_NOSIGNAL,
      (conn.tag | OP_SEND) >>> 0,
      conn.inflightHold + 1,
    );
  }

  /** Handle every completion ready; how many. */
  private reap(): number {
    const u = this.uring;
    let total = 0;
    for (;;) {
      const n = u.ready();
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        const ci = u.cqIndex(i);
        this.complete(u.userLo(ci), u.userHi(ci), u.res(ci), u.cqeFlags(ci));
      }
      u.advance(n);
      total += n;
    }
    return total;
  }

  private complete(lo: number, hi: number, res: number, flags: number): void {
    const op = lo & 15;
    if (op === OP_RECV) {
      const fd = (lo >>> 4) & (FD_LIMIT - 1);
      const conn = this.conns[fd];
      const live = conn !== undefined && conn.tag === (lo & ~15) >>> 0;
      const more = (flags & sys.IORING_CQE_F_MORE) !== 0;
      const bid = (flags & sys.IORING_CQE_F_BUFFER) !== 0 ? flags >>> sys.IORING_CQE_BUFFER_SHIFT : -1;
      if (!live) {
        if (bid >= 0) this.giveBack(bid);
        return;
      }
      if (!more) conn.set(RECV_ARMED, false);
      if (res > 0) {
        this.holds[bid] = 1; // the receive's reference; a send of a view of it adds one
        let chunk = this.views[bid];
        if (chunk === undefined || chunk.length !== res) {
          const at = bid * BUFFER_BYTES;
          chunk = this.views[bid] = this.bufs.bytes.subarray(at, at + res);
        }
        this.lastChunk = chunk;
        this.lastBid = bid;
        conn.onData(chunk);
        this.release(bid);
        if (!more) this.maybeArm(conn);
      } else if (res === 0) conn.onEof();
      else if (res === -sys.ENOBUFS || res === -ECANCELED) this.maybeArm(conn);
      else conn.onError(-res);
      return;
    }
    if (op === OP_SEND) {
      const fd = (lo >>> 4) & (FD_LIMIT - 1);
      const conn = this.conns[fd];
      const bid = hi - 1;
      if (conn === undefined || conn.tag !== (lo & ~15) >>> 0 || conn.inflight === null) {
        this.pinned.delete(lo);
        if (bid >= 0) this.release(bid);
        return;
      }
      const partial = res > 0 && conn.inflightDone + res < conn.inflight.length;
      if (!partial && bid >= 0) {
        conn.inflightHold = -1;
        this.release(bid);
      }
      conn.onSent(res);
      return;
    }
    if (op === OP_ACCEPT) {
      if ((flags & sys.IORING_CQE_F_MORE) === 0) this.acceptArmed = false;
      if (res >= 0) this.admit(res);
      else if (res === -sys.EMFILE || res === -sys.ENFILE || res === -sys.ENOBUFS || res === -sys.ENOMEM) {
        this.core.logger.warn(`accept: ${sys.errnoName(-res)}: pausing accepts for 100 ms`);
        this.acceptWanted = false;
        setTimeout(() => {
          if (this.acceptClosing || this.stopping) return;
          this.acceptWanted = true;
          this.armAccept();
          this.wake();
        }, 100).unref();
      } else if (res !== -ECANCELED && res !== -sys.ECONNABORTED && res !== -sys.EINTR)
        this.core.logger.error(`accept failed: ${sys.errnoName(-res)}`);
      if (!this.acceptArmed) this.armAccept();
      return;
    }
    if (op === OP_UV_POLL) this.uvPollArmed = false;
    else if (op === OP_FILES) {
      // Only a failure reports (IOSQE_CQE_SKIP_SUCCESS): a connection whose slot could not be set
      // cannot receive or send; it is closed.
      const fd = (lo >>> 4) & (FD_LIMIT - 1);
      const conn = this.conns[fd];
      if (res < 0 && conn !== undefined && conn.tag === (lo & ~15) >>> 0) {
        this.core.logger.error(`io_uring file table update failed: ${sys.errnoName(-res)}`);
        conn.onError(-res);
      }
    }
    // OP_CANCEL: nothing to do (-ENOENT or -EALREADY: what it cancelled had finished or was finishing).
  }

  // ---- buffers ------------------------------------------------------------------------------------------
  inPool(buf: Uint8Array): boolean {
    // The chunk just handed to a handler (an echo writes it back as it is) is told without reading
    // .buffer, which V8 answers in C++ for a Buffer over external memory.
    return buf === this.lastChunk || buf.buffer === this.poolBuffer;
  }

  /** A send of this view of a pool buffer holds the buffer: its id. */
  hold(buf: Uint8Array): number {
    const bid = buf === this.lastChunk ? this.lastBid : Math.floor(buf.byteOffset / BUFFER_BYTES);
    this.holds[bid]++;
    return bid;
  }

  release(bid: number): void {
    if (--this.holds[bid]! === 0) this.giveBack(bid);
  }

  private giveBack(bid: number): void {
    this.bufs.give(bid);
    this.given++;
  }

  // ---- what connections ask -------------------------------------------------------------------------
  listFlush(conn: UringConnection<In, Out>): void {
    if (conn.has(FLUSH_LISTED)) return;
    conn.set(FLUSH_LISTED, true);
    this.flushList[this.flushCount++] = conn;
    this.wake();
  }

  /** A short send: the rest goes now, before anything queued behind it. */
  sendRest(conn: UringConnection<In, Out>): void {
    this.submitSend(conn);
  }

  pauseRecv(conn: UringConnection<In, Out>): void {
    if (!conn.has(RECV_ARMED)) return;
    const lo = (conn.tag | OP_RECV) >>> 0;
    this.uring.prepCancel(lo, 0, OP_CANCEL);
    this.wake();
  }

  stash(conn: UringConnection<In, Out>, bytes: Buffer): void {
    const list = this.stashes.get(conn);
    if (list === undefined) this.stashes.set(conn, [bytes]);
    else list.push(bytes);
  }

  resumeRecv(conn: UringConnection<In, Out>): void {
    this.stashList.push(conn);
    this.wake();
  }

  private maybeArm(conn: UringConnection<In, Out>): void {
    if (conn.closed || conn.has(RECV_ARMED) || conn.readPaused || conn.eof) return;
    this.armList.push(conn);
  }

  /**
   * A connection closes: what it has in flight is cancelled by user_data (an exact, hashed lookup; a cancel
   * by descriptor scans every request in flight, thousands of armed receives), and its descriptor is closed
   * now: the requests hold their own reference to the socket until the cancel lands, and their late
   * completions carry the old generation.
   */
  forget(conn: UringConnection<In, Out>): void {
    if (this.conns[conn.fd] !== conn) return;
    this.conns[conn.fd] = undefined;
    let cancels = 0;
    if (conn.has(RECV_ARMED)) {
      this.uring.prepCancel((conn.tag | OP_RECV) >>> 0, 0, OP_CANCEL);
      cancels++;
    }
    if (conn.inflight !== null) {
      const lo = (conn.tag | OP_SEND) >>> 0;
      if (conn.inflightHold < 0) this.pinned.set(lo, conn.inflight);
      this.uring.prepCancel(lo, conn.inflightHold + 1, OP_CANCEL);
      cancels++;
    }
    // The file table holds the socket open until its slot is emptied (in the next enter, after the
    // cancels: SQEs are issued in order).
    if (conn.fd < this.fileSlots) {
      this.uring.prepFilesUpdate(conn.fd, -1, (conn.tag | OP_FILES) >>> 0);
      cancels++;
    }
    sys.close(conn.fd);
    if (cancels > 0) this.wake();
    if (!this.acceptWanted && !this.acceptClosing && this.listenFd >= 0) {
      if (this.core.connections.size <= this.fdCap - 16) {
        this.acceptWanted = true;
        this.armAccept();
      }
    }
  }

  // ---- accepting ----------------------------------------------------------------------------------------
  private armAccept(): void {
    if (this.acceptArmed || !this.acceptWanted || this.acceptClosing || this.listenFd < 0) return;
    this.acceptArmed = true;
    this.uring.prepMultishotAccept(
      this.listenFd,
      sys.SOCK_NONBLOCK | sys.SOCK_CLOEXEC,
      ((this.listenFd << 4) | OP_ACCEPT) >>> 0,
    );
  }

  private admit(fd: number): void {
    const core = this.core;
    if (fd >= FD_LIMIT) {
      sys.close(fd);
      core.reject('fd-limit');
      return;
    }
    // Multishot accept reports no address: ask for it, into one scratch buffer (no objects per client).
    const peer = this.peer;
    this.peerLen.writeUInt32LE(peer.length, 0);
    if (raw.getpeername(fd, peer, this.peerLen) < 0) {
      sys.close(fd); // reset before we got to it
      return;
    }
    const address = this.peerAddress();
    const refusal = core.refusal(address);
    if (refusal !== null) {
      sys.close(fd);
      core.reject(refusal);
      return;
    }
    const gen = (this.gens[fd] = (this.gens[fd]! + 1) & 255);
    // sin_port and sin6_port: both at offset 2, big-endian
    const conn = new this.Connection(
      core,
      fd,
      gen,
      address,
      peer.readUInt16BE(2),
      this.localAddress,
      this.localPort,
    );
    this.conns[fd] = conn;
    // Into the file table before its receive is armed (next prepare(): SQEs are issued in order).
    if (fd < this.fileSlots) this.uring.prepFilesUpdate(fd, fd, (conn.tag | OP_FILES) >>> 0);
    conn.start();
    this.maybeArm(conn);
    if (core.connections.size >= this.fdCap && this.acceptWanted) {
      this.acceptWanted = false;
      if (this.acceptArmed) this.uring.prepCancel(((this.listenFd << 4) | OP_ACCEPT) >>> 0, 0, OP_CANCEL);
      core.logger.warn(
        `holding ${core.connections.size} connections, the most this process's fd limit allows: accepting paused`,
      );
    }
  }

  private peerAddress(): string {
    const peer = this.peer;
    if (peer.readUInt16LE(0) !== sys.AF_INET) return sys.decodeSockaddr(peer).address;
    const ip = peer.readUInt32BE(4);
    let address = this.addresses.get(ip);
    if (address === undefined) {
      address = `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
      if (this.addresses.size < 4096) this.addresses.set(ip, address);
    }
    return address;
  }

  /** Stop accepting: cancel the multishot accept, take what already waits in the accept queue (those
   * clients completed their handshake), then close the listening socket. */
  private closeListener(): void {
    if (this.listenFd < 0 || this.acceptClosing) return;
    this.acceptClosing = true;
    this.acceptWanted = false;
    if (this.acceptArmed) this.uring.prepCancel(((this.listenFd << 4) | OP_ACCEPT) >>> 0, 0, OP_CANCEL);
    this.prepare();
    this.enter(0, -1);
    this.reap();
    for (;;) {
      const fd = sys.accept4(this.listenFd, sys.SOCK_NONBLOCK | sys.SOCK_CLOEXEC);
      if (fd === -sys.ECONNABORTED || fd === -sys.EINTR) continue;
      if (fd < 0) break;
      this.admit(fd);
    }
    sys.close(this.listenFd);
    this.listenFd = -1;
    this.schedule();
    this.wake();
  }

  // ---- sleeping and waking ------------------------------------------------------------------------------
  private park(): void {
    this.uring.eventfdEnabled(true);
    // A completion that came between the last enter and now did not signal the eventfd: look once more.
    this.enter(0, -1);
    if (this.uring.ready() > 0 || this.pendingWork()) {
      this.uring.eventfdEnabled(false);
      this.schedule();
      return;
    }
    this.parked = true;
    this.woken = false;
    callAsync(pool.read, this.efd, this.efdBuf, 8).then(
      () => this.unpark(),
      (error) => {
        this.core.logger.error('proactor wait failed', { error });
        this.unpark();
      },
    );
  }

  private unpark(): void {
    this.parked = false;
    this.uring.eventfdEnabled(false);
    this.schedule();
  }

  /** Something wants a turn: end a parked wait (once). Busy, the next turn comes anyway. */
  private wake(): void {
    if (this.parked && !this.woken) {
      this.woken = true;
      sys.eventfdWrite(this.efd, 1);
    }
  }

  // ---- stopping -----------------------------------------------------------------------------------------
  async close(): Promise<void> {
    this.closeListener();
    await this.core.drain(this.options.drainTimeout);
    await new Promise<void>((resolve) => {
      this.loopDone = resolve;
      this.stopping = true;
      this.schedule();
      this.wake();
    });
  }

  dispose(): void {
    this.finish();
  }

  private finish(): void {
    if (this.listenFd >= 0) {
      sys.close(this.listenFd);
      this.listenFd = -1;
    }
    this.uring.close(); // cancels whatever is still in flight
    this.bufs.dispose();
    this.pinned.clear();
    sys.close(this.efd);
    this.loopDone?.();
  }
}
