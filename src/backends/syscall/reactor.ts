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
//   again on wake-up (each a VM exit on a virtual machine), which costs CPU per message (figures:
//   docs/performance.md).
// - Idle: still nothing, the wait is parked on a libuv pool thread (waitAsync(-1)) and the turn returns;
//   Node sleeps in its own poll until the kernel reports one of our descriptors or something of Node's
//   happens. Idle, we never spin: 10,000 idle connections cost nothing but the sweep timer.
// - Anything that must interrupt a parked wait (a resumed edge-triggered connection, shutdown) calls
//   mux.wake(); select and poll wake themselves for an interest edit they cannot take while parked.
// Ready sockets are served in batches of up to --read-batch (32), in three phases, as Redis does (it
// writes its replies just before it waits again): read each socket once into a slot of its own, hand
// every read to the app, then send the replies the app made (each connection holds its small replies to
// the end of the batch and is listed for it: see SysConnection.transportSendOrQueue). Why: every system
// call evicts much of what the CPU had cached, and the code between two calls runs cold; one app handler
// between each read and its write ran the whole handler path cold per message, a batch runs it warm (less
// CPU per echoed message: docs/performance.md). A batch of 1 is the interleaved textbook loop.
import type { ListenSpec, ResolvedServeOptions } from '../../net/server-contract.ts';
import { coreOptions, ServerCore } from '../../net/server-core.ts';
import * as sys from '../../sys/index.ts';
import { Acceptor } from './acceptor.ts';
import { SysConnection } from './connection.ts';
import { EpollMultiplexer } from './epoll-multiplexer.ts';
import type { ConnectionLoop } from './loop.ts';
import { type Multiplexer, READABLE } from './multiplexer.ts';
import { PollMultiplexer } from './poll-multiplexer.ts';
import { ReadSlots } from './read-slots.ts';
import { SelectMultiplexer } from './select-multiplexer.ts';

/** One read's buffer: a slot of ReadSlots. */
const READ_BUFFER_BYTES = 64 * 1024;
/** Edge-triggered reads per connection per turn before others get their turn (passes over the read
 * queue: a connection is read once per batch). */
const EDGE_READS = 16;

/** The longest our loop blocks Node's, in ms, when a turn finds nothing ready: at least a kernel tick
 * (see the top comment). */
const SYNC_WAIT_MS = 5;

export function createMultiplexer(options: ResolvedServeOptions): Multiplexer {
  if (options.multiplexer === 'select') return new SelectMultiplexer();
  if (options.multiplexer === 'poll') return new PollMultiplexer();
  return new EpollMultiplexer(options.trigger === 'edge');
}

export class SyscallReactor<In = unknown, Out = unknown> implements ConnectionLoop<In, Out> {
  readonly core: ServerCore<In, Out>;
  private readonly mux: Multiplexer;
  readonly edge: boolean;
  private readonly options: ResolvedServeOptions;
  private readonly conns: (SysConnection<In, Out> | undefined)[] = [];
  /** Every read lands here, one slot per socket of a batch. */
  readonly slots: ReadSlots;
  /** The app is handling a batch's reads: replies wait for the batch's end. */
  inBatch = false;
  /** A batch's reads: slot k holds readLens[k] bytes of readConns[k]; readMore[k]: the socket may hold
   * more (a full slot, or a hang-up whose EOF is still to be read). */
  private readonly readConns: (SysConnection<In, Out> | null)[];
  private readonly readLens: Int32Array;
  private readonly readMore: Uint8Array;
  /** Reads in the batch so far (slots 0 .. batched-1). */
  private batched = 0;
  /** Connections with replies held to the end of the batch (Redis's clients_pending_write): the first
   * flushCount entries (a count, not length = 0, which would make V8 reallocate the array each batch). */
  private readonly flushList: (SysConnection<In, Out> | undefined)[] = [];
  private flushCount = 0;
  private readonly acceptor: Acceptor;
  private readQueue: SysConnection<In, Out>[] = [];
  /** Clients refused because the multiplexer cannot watch their descriptor (select's FD_SETSIZE). */
  private unwatchable = 0;
  /** close() is done with the connections: the loop ends at its next turn. */
  private stopping = false;
  private loopDone: (() => void) | null = null;

  constructor(options: ResolvedServeOptions) {
    this.options = options;
    this.core = new ServerCore(coreOptions(options));
    this.mux = createMultiplexer(options);
    this.edge = this.mux.edge;
    this.slots = new ReadSlots(options.readBatch, READ_BUFFER_BYTES);
    this.readConns = new Array(options.readBatch).fill(null);
    this.readLens = new Int32Array(options.readBatch);
    this.readMore = new Uint8Array(options.readBatch);
    this.acceptor = new Acceptor(this.mux, this.core as ServerCore<unknown, unknown>, this.connect);
  }

  /** Open (or adopt) the listening socket and start the loop; the port. */
  listen(spec: ListenSpec): number {
    const port = this.acceptor.listen(spec, this.options);
    this.core.start();
    setImmediate(this.turn);
    return port;
  }

  /** The acceptor admitted a client: watch it and serve it. */
  private readonly connect = (fd: number, address: string, port: number): void => {
    try {
      this.mux.add(fd, READABLE);
    } catch (error) {
      // select's FD_SETSIZE: this client cannot be watched at all. Turn it away, keep serving the rest.
      sys.close(fd);
      this.core.reject('fd-limit');
      const count = ++this.unwatchable;
      if ((count & (count - 1)) === 0)
        this.core.logger.warn(`${(error as Error).message}: turned away ${count} client(s) so far`);
      return;
    }
    sys.setsockopt(fd, sys.IPPROTO_TCP, sys.TCP_NODELAY, 1);
    const conn = new SysConnection(this.core, this, fd);
    conn.remoteAddress = address;
    conn.remotePort = port;
    conn.localAddress = this.acceptor.localAddress;
    conn.localPort = this.acceptor.localPort;
    this.conns[fd] = conn;
    conn.start();
  };

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

  /** Read phase: each ready descriptor's events go to its connection (which reads into the batch). */
  private dispatch(n: number): number {
    const mux = this.mux;
    const conns = this.conns;
    for (let i = 0; i < n; i++) {
      const fd = mux.readyFd(i);
      // fd < 0: the multiplexer's own (a wake, or Node's loop has work: the turn yields to it next).
      if (fd < 0) continue;
      const conn = conns[fd];
      if (conn !== undefined) conn.handleEvent(mux.readyEvents(i));
      else if (fd === this.acceptor.fd) this.acceptor.ready();
    }
    this.endBatch();
    return n;
  }

  /**
   * One read of `conn` into the batch's next slot; a full batch is handled at once. A read shorter than
   * the slot took all a TCP socket held: only a full read, or a hang-up (whose EOF must still be read),
   * leaves more to read (see SysConnection.handleRead).
   */
  read(conn: SysConnection<In, Out>, untilEof: boolean): void {
    const k = this.batched;
    const n = sys.recvRaw(conn.fd, this.slots.slotAddress(k), READ_BUFFER_BYTES);
    if (n > 0) {
      this.readConns[k] = conn;
      this.readLens[k] = n;
      this.readMore[k] = n === READ_BUFFER_BYTES || untilEof ? 1 : 0;
      this.batched = k + 1;
      if (this.batched === this.slots.count) this.endBatch();
      return;
    }
    if (n === 0) conn.onEof();
    else if (n !== -sys.EAGAIN) conn.onError(-n);
  }

  /** Handle phase, then write phase: the app gets the batch's reads, then the replies held go out. */
  private endBatch(): void {
    const k = this.batched;
    if (k === 0) return;
    this.batched = 0;
    const slots = this.slots;
    const readConns = this.readConns;
    this.inBatch = true;
    for (let j = 0; j < k; j++) {
      const conn = readConns[j]!; // left in place: at most readBatch references, overwritten next batch
      // closed by another connection's handler
      if (!conn.closed) conn.handleRead(slots.view(this.readLens[j]!, j), this.readMore[j] === 1);
    }
    this.inBatch = false;
    const count = this.flushCount;
    if (count === 0) return;
    this.flushCount = 0;
    const list = this.flushList;
    for (let j = 0; j < count; j++) {
      const conn = list[j]!;
      list[j] = undefined;
      conn.flushListed();
    }
  }

  /** Edge-triggered connections with more to read: up to EDGE_READS more batches of them this turn. */
  private runReadQueue(): number {
    let handled = 0;
    for (let pass = 0; pass < EDGE_READS && this.readQueue.length > 0; pass++) {
      const queue = this.readQueue;
      this.readQueue = [];
      for (const conn of queue) conn.continueReading();
      this.endBatch();
      handled += queue.length;
    }
    return handled;
  }

  // ---- ConnectionLoop: what a connection asks of its loop -----------------------------------------------
  readAgain(conn: SysConnection<In, Out>): void {
    this.readQueue.push(conn);
    this.mux.wake();
  }

  flushLater(conn: SysConnection<In, Out>): void {
    this.flushList[this.flushCount++] = conn;
  }

  watch(fd: number, interest: number): void {
    this.mux.modify(fd, interest);
  }

  forget(conn: SysConnection<In, Out>): boolean {
    if (this.conns[conn.fd] !== conn) return false;
    this.conns[conn.fd] = undefined;
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
    this.acceptor.abandon(); // listen() may have thrown after opening it (getsockname, addListener)
    this.finish();
  }

  private finish(): void {
    this.mux.close();
    this.loopDone?.();
  }
}
