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
// - Anything that must interrupt a parked wait (a resumed edge-triggered connection, shutdown) calls
//   mux.wake(); select and poll wake themselves for an interest edit they cannot take while parked.
// Ready sockets are served in batches of up to --read-batch (32), in three phases, as Redis does (it
// writes its replies just before it waits again): read each socket once into a slot of its own, hand
// every read to the app, then send the replies the app made (a connection's first small write of the
// batch is deferred; see write-batch.ts). Why: every system call evicts much of what the CPU had cached
// (on this VM most of it), and the code between two calls runs cold; one app handler between each read
// and its write ran the whole handler path cold per message, a batch runs it warm: 3-4% less CPU per echoed
// message here (bench/pair.ts, --read-batch 32 against 1). A batch of 1 is the interleaved textbook loop.
import { inProcessHandle } from '../../models/in-process-handle.ts';
import type { ListenSpec, ResolvedServeOptions, ServerHandle } from '../../models/types.ts';
import { coreOptions, ServerCore } from '../../net/server-core.ts';
import * as sys from '../../sys/index.ts';
import { Acceptor } from './acceptor.ts';
import type { SysConnection } from './connection.ts';
import { EpollMultiplexer } from './epoll-multiplexer.ts';
import { ERROR, HANGUP, type Multiplexer, PEER_HANGUP, READABLE, WRITABLE } from './multiplexer.ts';
import { PollMultiplexer } from './poll-multiplexer.ts';
import { ReadSlots } from './read-slots.ts';
import { SelectMultiplexer } from './select-multiplexer.ts';
import { type ShortSendSink, WriteBatch } from './write-batch.ts';

/** One read's buffer: a slot of ReadSlots. */
const READ_BUFFER_BYTES = 64 * 1024;
/** Edge-triggered reads per connection per turn before others get their turn (passes over the read
 * queue: a connection is read once per batch). */
const EDGE_READS = 16;

/** Descriptors kept free for the process's own files; accepting pauses before them (see Acceptor.fdCap). */
export { FD_RESERVE } from '../../net/fd-cap.ts';

/** The longest our loop blocks Node's, in ms, when a turn finds nothing ready: at least a kernel tick
 * (see the top comment). */
const SYNC_WAIT_MS = 5;

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
  /** Reads in the batch so far (slots 0 .. batched-1). */
  private batched = 0;
  private readonly acceptor: Acceptor<In, Out>;
  private readQueue: SysConnection<In, Out>[] = [];
  /** close() is done with the connections: the loop ends at its next turn. */
  stopping = false;
  private loopDone: (() => void) | null = null;

  constructor(options: ResolvedServeOptions) {
    this.options = options;
    this.core = new ServerCore(coreOptions(options));
    this.mux = createMultiplexer(options);
    this.reads = new ReadSlots(options.readBatch, READ_BUFFER_BYTES);
    this.batch = new WriteBatch(this.reads);
    this.readFds = new Int32Array(options.readBatch);
    this.readLens = new Int32Array(options.readBatch);
    this.readMore = new Uint8Array(options.readBatch);
    this.acceptor = new Acceptor(this);
  }

  /** Open (or adopt) the listening socket and start the loop; the port. */
  listen(spec: ListenSpec): number {
    const port = this.acceptor.listen(spec, this.options);
    this.core.start();
    setImmediate(this.turn);
    return port;
  }

  // ---- the loop ---------------------------------------------------------------------------------------
  private readonly turn = (): void => {
    if (this.stopping) {
      this.finish();
      return;
    }
    // One wait a turn: it returns at once when anything is ready, and otherwise waits a little right here
    // (ended early by our sockets or by anything Node's own loop waits for) before the wait is parked.
    const n = this.mux.wait(this.readQueue.length > 0 ? 0 : SYNC_WAIT_MS);
    const handled = (n > 0 ? this.dispatch(n) : 0) + this.runReadQueue();
    if (handled > 0 || this.readQueue.length > 0) setImmediate(this.turn);
    else this.park();
  };

  private park(): void {
    this.mux.waitAsync(-1).then(
      (n) => {
        if (n > 0) this.dispatch(n);
        setImmediate(this.turn);
      },
      (error) => {
        this.core.logger.error('multiplexer wait failed', { error });
        setImmediate(this.turn);
      },
    );
  }

  private dispatch(n: number): number {
    const mux = this.mux;
    const conns = this.conns;
    for (let i = 0; i < n; i++) {
      const fd = mux.readyFd(i);
      const events = mux.readyEvents(i);
      // fd < 0: the multiplexer's own (a wake, or Node's loop has work: the turn yields to it next).
      if (fd < 0) continue;
      const conn = conns[fd];
      if (conn === undefined) {
        if (fd === this.acceptor.fd && !this.acceptor.closing) this.acceptor.ready();
        continue;
      }
      if (events & (READABLE | HANGUP | ERROR)) {
        if (!conn.readPaused && !conn.eof)
          this.read(conn, fd, (events & (PEER_HANGUP | HANGUP | ERROR)) !== 0);
        else if (conn.readPaused && mux.edge) conn.readPending = true;
        else if (events & ERROR) conn.onError(sys.socketError(fd) || sys.ECONNRESET);
        else if (events & HANGUP) conn.closeWith(conn.eof ? undefined : 'peer-reset');
      }
      // Edge-triggered reports writability with every event; only a connection with bytes queued cares.
      if (events & WRITABLE && conn.hasQueue) conn.onWritable();
    }
    this.endBatch();
    return n;
  }

  /**
   * Read phase: one read of `conn` (on fd) into the batch's next slot; a full batch is handled at once. A
   * read shorter than the slot took all a TCP socket held: only a full read, or a hang-up (whose EOF must
   * still be read), leaves more to read — level-triggered, the kernel reports the socket again;
   * edge-triggered, it goes on the read queue (one read per batch: a handler may pause the connection in
   * between).
   */
  private read(conn: SysConnection<In, Out>, fd: number, untilEof: boolean): void {
    const k = this.batched;
    const n = sys.recvRaw(fd, this.reads.slotAddress(k), READ_BUFFER_BYTES);
    if (n > 0) {
      this.readFds[k] = fd;
      this.readLens[k] = n;
      this.readMore[k] = n === READ_BUFFER_BYTES || untilEof ? 1 : 0;
      this.batched = k + 1;
      if (this.batched === this.reads.count) this.endBatch();
      return;
    }
    if (n === 0) conn.onEof();
    else if (n !== -sys.EAGAIN) conn.onError(-n);
  }

  /** The batch read so far (if any) is handled, then its replies sent. */
  private endBatch(): void {
    const k = this.batched;
    if (k === 0) return;
    this.batched = 0;
    this.handleReads(k);
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
      conn.onData(reads.view(this.readLens[j]!, j));
      if (!edge) continue;
      if (conn.readPaused) conn.readPending = true;
      else if (this.readMore[j] === 1 && !conn.closed) this.readQueue.push(conn);
    }
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
      for (const conn of queue)
        if (!conn.closed && !conn.readPaused && !conn.eof) this.read(conn, conn.fd, true);
      this.endBatch();
      handled += queue.length;
    }
    return handled;
  }

  // ---- the acceptor's requests ---------------------------------------------------------------------------
  /** A connection the acceptor admitted: serve it. */
  serve(conn: SysConnection<In, Out>): void {
    this.conns[conn.fd] = conn;
    conn.start();
  }

  // ---- what connections ask of the reactor ----------------------------------------------------------
  setInterest(conn: SysConnection<In, Out>, interest: number): void {
    this.mux.modify(conn.fd, interest);
  }

  scheduleRead(conn: SysConnection<In, Out>): void {
    if (!this.mux.edge && !conn.readPending) return; // level-triggered: the kernel announces it again
    conn.readPending = false;
    this.readQueue.push(conn);
    this.mux.wake();
  }

  /** Drop a closing connection; true if the caller should close its descriptor. */
  forget(conn: SysConnection<In, Out>): boolean {
    if (this.conns[conn.fd] !== conn) return false;
    this.conns[conn.fd] = undefined;
    this.batch.drop(conn.fd);
    this.mux.remove(conn.fd, true);
    this.acceptor.connectionGone();
    return true;
  }

  // ---- stopping ---------------------------------------------------------------------------------------
  async close(): Promise<void> {
    this.acceptor.close(); // what waits in the accept queue is drained with the rest
    await this.core.drain(this.options.drainTimeout);
    await new Promise<void>((resolve) => {
      this.loopDone = resolve;
      this.stopping = true;
      this.mux.wake();
    });
  }

  /** Release what the constructor opened, for a reactor whose loop never started. */
  dispose(): void {
    this.finish();
  }

  private finish(): void {
    this.mux.close();
    this.loopDone?.();
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
