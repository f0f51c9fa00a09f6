// The reactor on the syscall backend: this process itself calls accept4, read, write and a multiplexer
// (select, poll or epoll) through FFI — the textbook event loop, written in TypeScript.
//
// A good citizen inside Node: Node's own loop (timers, promises, IPC, signals) must keep running.
// - Busy: each turn makes one wait, handles what is ready, then yields with setImmediate, so Node runs a
//   loop iteration (its poll phase with timeout 0) between our turns. Busy, we never sleep.
// - A lull: when nothing is ready, that wait lasts up to SYNC_WAIT_MS (5 ms), with libuv's own epoll
//   descriptor in the set so the wait ends at once when Node has I/O of its own (IPC, signals, pool
//   completions); only timers can be that late. Not shorter: a sleep whose timeout comes before the
//   kernel's next tick (4 ms at HZ=250) makes it reprogram the timer hardware on the way to sleep and
//   again on wake-up (each a VM exit on a virtual machine): with 1 ms, 1.31x the C reference's CPU per
//   message at 150,000 messages/s here, against 1.19x with 5 ms (bench/reactor-ratio.ts --rate).
// - Idle: still nothing, the wait is parked on a libuv pool thread (waitAsync(-1)) and the turn returns;
//   Node sleeps in its own poll until the kernel reports one of our descriptors or something of Node's
//   happens. Idle, we never spin: 10,000 idle connections cost nothing but the sweep timer.
// - Anything that must interrupt a parked wait (a resumed edge-triggered connection, an interest edit
//   that select/poll cannot take while the kernel scans their arrays, shutdown) writes to an eventfd
//   that the multiplexer watches.
// Ready sockets are served in batches of up to --read-batch (32), in three phases, as Redis does (it
// writes its replies just before it waits again): read each socket once into a slot of its own, hand
// every read to the app, then send the replies the app made (a connection's first small write of the
// batch is deferred; see write-batch.ts). Why: every system call evicts much of what the CPU had cached
// (on this VM most of it), and the code between two calls runs cold; one app handler between each read
// and its write ran the whole handler path cold per message, a batch runs it warm: 3-4% less CPU per echoed
// message here (bench/pair.ts, --read-batch 32 against 1). A batch of 1 is the interleaved textbook loop.
import { inProcessHandle } from '../../models/in-process-handle.ts';
import type { ListenSpec, ResolvedServeOptions, ServerHandle } from '../../models/types.ts';
import { ServeError } from '../../models/types.ts';
import { connectionFdCap } from '../../net/fd-cap.ts';
import { coreOptions, ServerCore } from '../../net/server-core.ts';
import * as sys from '../../sys/index.ts';
import { SysConnection } from './connection.ts';
import { EpollMultiplexer } from './epoll-multiplexer.ts';
import { ERROR, HANGUP, type Multiplexer, PEER_HANGUP, READABLE, WRITABLE } from './multiplexer.ts';
import { PollMultiplexer } from './poll-multiplexer.ts';
import { ReadSlots } from './read-slots.ts';
import { SelectMultiplexer } from './select-multiplexer.ts';
import { type ShortSendSink, WriteBatch } from './write-batch.ts';

/** One read's buffer: a slot of ReadSlots. */
const READ_BUFFER_BYTES = 64 * 1024;
/** Accepts per readiness of the listening socket, so a connection storm cannot starve served clients. */
const ACCEPT_BATCH = 256;
/** Edge-triggered reads per connection per turn before others get their turn (passes over the read
 * queue: a connection is read once per batch). */
const EDGE_READS = 16;

/** Descriptors kept free for the process's own files; accepting pauses before them (see fdCap). */
export { FD_RESERVE } from '../../net/fd-cap.ts';

/** The longest our loop blocks Node's, in ms, when a turn finds nothing ready: at least a kernel tick
 * (see the top comment). */
const SYNC_WAIT_MS = 5;
const ADDRESS_CACHE = 4096;
const WATCH_LISTENER = -1;
const UNWATCH_LISTENER = -2;
const CLOSE_LISTENER = -3;

export function createMultiplexer(options: ResolvedServeOptions): Multiplexer {
  if (options.multiplexer === 'select') return new SelectMultiplexer();
  if (options.multiplexer === 'poll') return new PollMultiplexer();
  return new EpollMultiplexer(options.trigger === 'edge');
}

export class SyscallReactor<In = unknown, Out = unknown> implements ShortSendSink {
  readonly core: ServerCore<In, Out>;
  readonly mux: Multiplexer;
  private readonly options: ResolvedServeOptions;
  private readonly conns: (SysConnection<In, Out> | undefined)[] = [];
  /** Every read lands here, one slot per socket of a batch. */
  readonly reads: ReadSlots;
  /** Replies deferred to the end of a batch. */
  readonly batch: WriteBatch;
  /** A batch's reads: slot k holds readLens[k] bytes of the connection on readFds[k]; readMore[k]: the
   * socket may hold more (a full slot, or a hang-up whose EOF is still to be read). */
  private readonly readFds: Int32Array;
  private readonly readLens: Int32Array;
  private readonly readMore: Uint8Array;
  private readonly peer = Buffer.alloc(sys.SOCKADDR_STORAGE_SIZE);
  private readonly addresses = new Map<number, string>();
  private readonly wakeFd: number;
  private listenFd = -1;
  private watchingListener = false;
  private acceptPausedUntil = 0;
  /** Connections beyond which accepting pauses: the open-files limit less what the process already uses. */
  readonly fdCap: number;
  private readQueue: SysConnection<In, Out>[] = [];
  /** Edits that wait for a parked select/poll: connections, closed fds, or the listener codes below. */
  private dirty: (SysConnection<In, Out> | number)[] = [];
  private listenerClosing = false;
  private parked = false;
  /** libuv's own epoll descriptor, watched so that a short synchronous wait ends when Node has work. */
  private readonly uvFd: number;
  private stopping = false;
  private loopDone: (() => void) | null = null;
  private turnedAway = 0;
  private localAddress = '';
  private localPort = 0;

  constructor(options: ResolvedServeOptions) {
    this.options = options;
    this.core = new ServerCore(coreOptions(options));
    this.mux = createMultiplexer(options);
    this.reads = new ReadSlots(options.readBatch, READ_BUFFER_BYTES);
    this.batch = new WriteBatch(this.reads);
    this.readFds = new Int32Array(options.readBatch);
    this.readLens = new Int32Array(options.readBatch);
    this.readMore = new Uint8Array(options.readBatch);
    this.wakeFd = sys.eventfd(0, sys.EFD_NONBLOCK | sys.EFD_CLOEXEC);
    this.mux.add(this.wakeFd, READABLE, true);
    this.uvFd = sys.libuvBackendFd();
    if (this.uvFd >= 0) this.mux.add(this.uvFd, READABLE, true);
    this.fdCap = connectionFdCap();
  }

  /** Open (or adopt) the listening socket and start the loop; resolves with the port. */
  listen(spec: ListenSpec): number {
    const { host, port, backlog } = this.options;
    if (spec.fd !== undefined) {
      this.listenFd = spec.fd;
      sys.setNonBlocking(this.listenFd);
    } else {
      try {
        this.listenFd = sys.listenTcp({ host, port, backlog, reusePort: spec.reusePort ?? false });
      } catch (error) {
        const code = (error as sys.SysError).code;
        if (code === 'EADDRINUSE') throw new ServeError(`port ${port} is already in use on ${host}`);
        if (code === 'EADDRNOTAVAIL') throw new ServeError(`address ${host} is not available here`);
        if (code === 'EACCES') throw new ServeError(`no permission to listen on ${host}:${port}`);
        throw new ServeError(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
      }
    }
    const local = sys.getsockname(this.listenFd);
    this.localAddress = local.address;
    this.localPort = local.port;
    this.watchListener(true);
    this.core.start();
    setImmediate(this.turn);
    return local.port;
  }

  // ---- the loop ---------------------------------------------------------------------------------------
  private readonly turn = (): void => {
    if (this.stopping) {
      this.finish();
      return;
    }
    this.applyDirty();
    // One wait a turn: it returns at once when anything is ready, and otherwise waits a little right here
    // (ended early by our sockets or by anything Node's own loop waits for) before the wait is parked.
    const n = this.mux.wait(this.readQueue.length > 0 ? 0 : SYNC_WAIT_MS);
    const handled = (n > 0 ? this.dispatch(n) : 0) + this.runReadQueue();
    if (handled > 0 || this.readQueue.length > 0) setImmediate(this.turn);
    else this.park();
  };

  private park(): void {
    this.parked = true;
    this.mux.waitAsync(-1).then(
      (n) => {
        this.parked = false;
        if (n > 0) this.dispatch(n);
        setImmediate(this.turn);
      },
      (error) => {
        this.parked = false;
        this.core.logger.error('multiplexer wait failed', { error });
        setImmediate(this.turn);
      },
    );
  }

  private wake(): void {
    if (this.parked) sys.eventfdWrite(this.wakeFd, 1);
  }

  private dispatch(n: number): number {
    const mux = this.mux;
    const conns = this.conns;
    const slots = this.reads.count;
    let k = 0; // reads in the batch so far
    for (let i = 0; i < n; i++) {
      const fd = mux.readyFd(i);
      const events = mux.readyEvents(i);
      const conn = conns[fd];
      if (conn === undefined) {
        if (fd === this.listenFd) {
          if (!this.listenerClosing) this.acceptReady();
        } else if (fd === this.wakeFd) sys.eventfdRead(this.wakeFd);
        // fd === this.uvFd: Node's loop has work; the caller yields to it right after this turn.
        continue;
      }
      if (events & (READABLE | HANGUP | ERROR)) {
        if (!conn.readPaused && !conn.eof) {
          if (this.readInto(conn, fd, k, (events & (PEER_HANGUP | HANGUP | ERROR)) !== 0) && ++k === slots) {
            this.handleReads(k);
            k = 0;
          }
        } else if (conn.readPaused && mux.edge) conn.readPending = true;
        else if (events & ERROR) conn.onError(sys.socketError(fd) || sys.ECONNRESET);
        else if (events & HANGUP) conn.closeWith(conn.eof ? undefined : 'peer-reset');
      }
      // Edge-triggered reports writability with every event; only a connection with bytes queued cares.
      if (events & WRITABLE && conn.hasQueue) conn.onWritable();
    }
    if (k > 0) this.handleReads(k);
    return n;
  }

  /**
   * Read phase: one read of `conn` into slot k; true when bytes arrived (handled with the batch). A read
   * shorter than the slot took all a TCP socket held: only a full read, or a hang-up (whose EOF must still
   * be read), leaves more to read — level-triggered, the kernel reports the socket again; edge-triggered,
   * it goes on the read queue (one read per batch: a handler may pause the connection in between).
   */
  private readInto(conn: SysConnection<In, Out>, fd: number, k: number, untilEof: boolean): boolean {
    const n = sys.recvRaw(fd, this.reads.slotAddress(k), READ_BUFFER_BYTES);
    if (n > 0) {
      this.readFds[k] = fd;
      this.readLens[k] = n;
      this.readMore[k] = n === READ_BUFFER_BYTES || untilEof ? 1 : 0;
      return true;
    }
    if (n === 0) conn.onEof();
    else if (n !== -sys.EAGAIN) conn.onError(-n);
    return false;
  }

  /** Handle phase, then write phase: the app gets the batch's k reads, then its replies go out. */
  private handleReads(k: number): void {
    const conns = this.conns;
    const reads = this.reads;
    const edge = this.mux.edge;
    this.batch.open = true;
    for (let j = 0; j < k; j++) {
      const conn = conns[this.readFds[j]!];
      if (conn === undefined || conn.closed) continue; // closed by another connection's handler
      const view = reads.view(j, this.readLens[j]!);
      reads.current = view;
      conn.onData(view);
      if (!edge) continue;
      if (conn.readPaused) conn.readPending = true;
      else if (this.readMore[j] === 1 && !conn.closed) this.readQueue.push(conn);
    }
    reads.current = null;
    this.batch.open = false;
    this.batch.flush(this);
  }

  /** A deferred reply went out short (ShortSendSink): its connection queues the rest. */
  sentShort(fd: number, bytes: Buffer, n: number): void {
    this.conns[fd]?.sentShort(bytes, n);
  }

  /** Edge-triggered connections with more to read: up to EDGE_READS more batches of them this turn. */
  private runReadQueue(): number {
    let handled = 0;
    for (let pass = 0; pass < EDGE_READS && this.readQueue.length > 0; pass++) {
      const queue = this.readQueue;
      this.readQueue = [];
      let k = 0;
      for (const conn of queue) {
        if (conn.closed || conn.readPaused || conn.eof) continue;
        if (this.readInto(conn, conn.fd, k, true) && ++k === this.reads.count) {
          this.handleReads(k);
          k = 0;
        }
      }
      if (k > 0) this.handleReads(k);
      handled += queue.length;
    }
    return handled;
  }

  // ---- accepting --------------------------------------------------------------------------------------
  private acceptReady(): void {
    const core = this.core;
    for (let i = 0; i < ACCEPT_BATCH; i++) {
      if (core.connections.size >= this.fdCap) {
        this.pauseAccepting('fd-limit');
        return;
      }
      const fd = sys.accept4(this.listenFd, sys.SOCK_NONBLOCK | sys.SOCK_CLOEXEC, this.peer);
      if (fd < 0) {
        if (fd === -sys.EAGAIN) return;
        if (fd === -sys.EMFILE || fd === -sys.ENFILE || fd === -sys.ENOBUFS || fd === -sys.ENOMEM) {
          core.logger.warn(`accept4: ${sys.errnoName(-fd)}: pausing accepts for 100 ms`);
          this.pauseAccepting('errno', 100);
          return;
        }
        if (fd === -sys.ECONNABORTED || fd === -sys.EINTR) continue;
        core.logger.error(`accept4 failed: ${sys.errnoName(-fd)}`);
        return;
      }
      this.adopt(fd);
    }
  }

  private adopt(fd: number): void {
    const core = this.core;
    const refusal = core.refusal(core.perIp === null ? '' : this.peerAddress());
    if (refusal !== null) {
      sys.close(fd);
      core.reject(refusal);
      return;
    }
    try {
      this.mux.add(fd, READABLE);
    } catch (error) {
      // select's FD_SETSIZE: this client cannot be watched at all. Turn it away, keep serving the rest.
      sys.close(fd);
      core.reject('fd-limit');
      this.turnedAway++;
      if ((this.turnedAway & (this.turnedAway - 1)) === 0) {
        core.logger.warn(`${(error as Error).message}: turned away ${this.turnedAway} client(s) so far`);
      }
      return;
    }
    sys.setsockopt(fd, sys.IPPROTO_TCP, sys.TCP_NODELAY, 1);
    const conn = new SysConnection(core, this, fd);
    this.setPeer(conn);
    conn.localAddress = this.localAddress;
    conn.localPort = this.localPort;
    this.conns[fd] = conn;
    conn.start();
  }

  /**
   * The client's address from accept4's sockaddr. IPv4 address strings are shared between connections
   * from the same host (a bounded cache): thousands of clients behind few addresses pay for one string.
   */
  private setPeer(conn: SysConnection<In, Out>): void {
    conn.remoteAddress = this.peerAddress();
    conn.remotePort = this.peer.readUInt16BE(2); // sin_port and sin6_port: both at offset 2, big-endian
  }

  /** The address in accept4's sockaddr (also what maxConnectionsPerIp counts, before a connection exists). */
  private peerAddress(): string {
    const peer = this.peer;
    if (peer.readUInt16LE(0) !== sys.AF_INET) return sys.decodeSockaddr(peer).address;
    const ip = peer.readUInt32BE(4);
    let address = this.addresses.get(ip);
    if (address === undefined) {
      address = `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
      if (this.addresses.size < ADDRESS_CACHE) this.addresses.set(ip, address);
    }
    return address;
  }

  private watchListener(on: boolean): void {
    if (on === this.watchingListener || this.listenFd < 0) return;
    this.watchingListener = on;
    if (on) this.mux.add(this.listenFd, READABLE, true);
    else this.mux.remove(this.listenFd, false);
  }

  /** Stop watching the listening socket: new clients wait in the kernel's accept queue (or go to
   * another worker sharing the port) until a connection closes or the pause ends. */
  private pauseAccepting(why: 'fd-limit' | 'errno', ms = 0): void {
    if (!this.watchingListener) return;
    this.editListener(false);
    if (why === 'fd-limit') {
      this.core.logger.warn(
        `holding ${this.core.connections.size} connections, the most this process's fd limit allows: accepting paused`,
      );
      return;
    }
    this.acceptPausedUntil = Date.now() + ms;
    setTimeout(() => {
      this.acceptPausedUntil = 0;
      if (!this.stopping && !this.listenerClosing) this.editListener(true);
    }, ms).unref();
  }

  private editListener(on: boolean): void {
    if (this.mux.concurrentEdits || !this.parked) this.watchListener(on);
    else {
      this.dirty.push(on ? WATCH_LISTENER : UNWATCH_LISTENER);
      this.wake();
    }
  }

  // ---- what connections ask of the reactor ----------------------------------------------------------
  setInterest(conn: SysConnection<In, Out>, interest: number): void {
    if (this.mux.concurrentEdits || !this.parked) this.mux.modify(conn.fd, interest);
    else {
      this.dirty.push(conn);
      this.wake();
    }
  }

  scheduleRead(conn: SysConnection<In, Out>): void {
    if (!this.mux.edge && !conn.readPending) return; // level-triggered: the kernel announces it again
    conn.readPending = false;
    this.readQueue.push(conn);
    this.wake();
  }

  /** Drop a closing connection; true if the caller should close its descriptor. */
  forget(conn: SysConnection<In, Out>): boolean {
    if (this.conns[conn.fd] !== conn) return false;
    this.conns[conn.fd] = undefined;
    this.batch.drop(conn.fd);
    if (this.mux.concurrentEdits || !this.parked) this.mux.remove(conn.fd, true);
    else {
      this.dirty.push(conn.fd);
      this.wake();
    }
    if (
      !this.watchingListener &&
      this.acceptPausedUntil === 0 &&
      !this.listenerClosing &&
      this.listenFd >= 0
    ) {
      if (this.core.connections.size <= this.fdCap - 16) this.editListener(true);
    }
    return true;
  }

  /** Interest edits that waited for a parked select/poll to return. */
  private applyDirty(): void {
    if (this.dirty.length === 0) return;
    const dirty = this.dirty;
    this.dirty = [];
    for (const item of dirty) {
      if (item === WATCH_LISTENER) this.watchListener(true);
      else if (item === UNWATCH_LISTENER) this.watchListener(false);
      else if (item === CLOSE_LISTENER) this.closeListener();
      else if (typeof item === 'number') this.mux.remove(item, false);
      else if (!item.closed) this.mux.modify(item.fd, item.interest);
    }
  }

  // ---- stopping ---------------------------------------------------------------------------------------
  async close(): Promise<void> {
    if (this.listenFd >= 0 && !this.listenerClosing) {
      // Clients already in the accept queue completed their handshake: accept them before closing the
      // listening socket (which would reset them), then drain them with the rest.
      this.acceptReady();
      this.listenerClosing = true;
      if (this.mux.concurrentEdits || !this.parked) this.closeListener();
      else {
        this.dirty.push(CLOSE_LISTENER); // select/poll are scanning it right now: close it after they return
        this.wake();
      }
    }
    await this.core.drain(this.options.drainTimeout);
    await new Promise<void>((resolve) => {
      this.loopDone = resolve;
      this.stopping = true;
      if (this.parked) sys.eventfdWrite(this.wakeFd, 1);
    });
  }

  private closeListener(): void {
    this.watchListener(false);
    sys.close(this.listenFd);
    this.listenFd = -1;
  }

  /** Release what the constructor opened, for a reactor whose loop never started. */
  dispose(): void {
    this.finish();
  }

  private finish(): void {
    if (this.uvFd >= 0) this.mux.remove(this.uvFd, false);
    this.mux.remove(this.wakeFd, true);
    sys.close(this.wakeFd);
    this.mux.close();
    this.loopDone?.();
  }

  get turnedAwayCount(): number {
    return this.turnedAway;
  }
}

export async function startSyscallReactor(
  options: ResolvedServeOptions,
  spec: ListenSpec = {},
): Promise<ServerHandle> {
  sys.assertSyscallBackendAvailable();
  const reactor = new SyscallReactor(options);
  let port: number;
  try {
    port = reactor.listen(spec);
  } catch (error) {
    reactor.dispose();
    throw error;
  }
  return inProcessHandle('reactor', 'syscall', options, port, reactor.core, () => reactor.close());
}
