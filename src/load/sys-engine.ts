// sys-engine.ts — the fast engine: one epoll loop over non-blocking sockets through src/sys (koffi FFI).
//
// Why it is shaped this way: to load an echo server as hard as the C reference client does, the
// per-message path must be what echo_load does — read(2) into one reusable buffer, write(2) of a
// prebuilt frame — plus a koffi call, and nothing else: reads and writes take raw addresses (no Buffer
// marshalling), connections are found by fd in an array, epoll events are read from a typed array.
// The loop polls epoll_wait with timeout 0 in batches of at most BATCH_MS, then yields to Node with
// setImmediate so timers (the run's duration), IPC and progress keep working; only after a few empty
// turns does it block in epoll_wait (1-10 ms), so an idle run costs little CPU and a server running in
// the same process (tests) still gets its turns. Sockets are registered edge-triggered (see IN below).
import * as sys from '../sys/index.ts';
import { type Conn, DRAIN_MS, Driver } from './driver.ts';
import type { Pattern } from './pattern.ts';
import type { LoadOptions, Slice } from './stats.ts';

// The two calls made per message are sys.recvRaw/sendRaw: recvfrom/sendto at raw addresses through
// syscall(2), the cheapest way to make them from JavaScript (see src/sys/raw-io.ts for the measurements).

/** The global, read once: `performance.now()` costs a global lookup each time. */
const perf = performance;
const READ_SIZE = 64 * 1024;
// Edge-triggered: a level-triggered epoll re-polls every reported socket on the next epoll_wait
// (tcp_poll/sock_poll: docs/performance.md); with EPOLLET a socket is reported
// once per arrival, and the reader drains it.
const IN = sys.EPOLLIN | sys.EPOLLET;
const OUT = sys.EPOLLOUT | sys.EPOLLET;
const MAX_EVENTS = 1024;
/** Empty polls (each followed by a turn of Node's event loop) before the loop blocks in epoll_wait. */
const IDLE_ROUNDS = 3;
/** Longest time the loop keeps Node's event loop waiting while busy. */
const BATCH_MS = 5;

export class SysEngine extends Driver<number> {
  readonly name = 'sys';
  private readonly ep: sys.Epoll;
  private readonly byFd: (Conn<number> | undefined)[] = [];
  /** Bytes of the in-flight frame already written, by fd (only non-zero after a short write). */
  private written = new Int32Array(1024);
  private readonly readBuf = Buffer.allocUnsafe(READ_SIZE);
  private readonly readAddr: number;
  private readonly patternAddr: number;
  private readonly family: number;
  private readonly sockaddr: Buffer;
  /** Connects in flight, oldest first (they share one timeout, so the head expires first). */
  private pending: Conn<number>[] = [];
  private pendingHead = 0;
  private running = false;
  private ticking = false;
  private immediate: NodeJS.Immediate | null = null;
  private idleRounds = 0;

  constructor(options: LoadOptions, slice: Slice, pattern: Pattern) {
    super(options, slice, pattern);
    sys.assertSyscallBackendAvailable();
    this.ep = new sys.Epoll(MAX_EVENTS);
    this.readAddr = sys.addressOf(this.readBuf);
    this.patternAddr = sys.addressOf(pattern.sent);
    this.family = sys.addressFamily(options.host);
    this.sockaddr = sys.encodeSockaddr(options.host, options.port);
  }

  // ------------------------------------------------------------ connect

  protected startConnect(c: Conn<number>, source: string | undefined): void {
    let fd: number;
    try {
      fd = sys.socket(this.family, sys.SOCK_STREAM | sys.SOCK_NONBLOCK | sys.SOCK_CLOEXEC);
    } catch (err) {
      this.failed(c, (err as sys.SysError).code);
      return;
    }
    c.handle = fd;
    try {
      sys.setsockopt(fd, sys.IPPROTO_TCP, sys.TCP_NODELAY, 1);
      if (source !== undefined) {
        if (this.family === sys.AF_INET) sys.setsockopt(fd, sys.SOL_IP, sys.IP_BIND_ADDRESS_NO_PORT, 1);
        sys.bind(fd, source, 0);
      }
    } catch (err) {
      sys.close(fd);
      this.failed(c, (err as sys.SysError).code ?? 'EINVAL');
      return;
    }
    const r = sys.connectAddr(fd, this.sockaddr);
    if (r === 0) {
      this.track(fd, c, IN);
      // a WebSocket upgrade still to come: its answer is timed like a connect
      if (this.pattern.handshake !== null) this.pending.push(c);
      this.established(c, perf.now());
    } else if (r === -sys.EINPROGRESS) {
      this.track(fd, c, OUT);
      this.pending.push(c);
    } else {
      sys.close(fd);
      this.failed(c, sys.errnoName(r));
    }
  }

  private track(fd: number, c: Conn<number>, events: number): void {
    this.byFd[fd] = c;
    if (fd >= this.written.length) {
      const grown = new Int32Array(Math.max(fd + 1, this.written.length * 2));
      grown.set(this.written);
      this.written = grown;
    }
    this.written[fd] = 0;
    this.ep.add(fd, events);
  }

  private untrack(c: Conn<number>): void {
    const fd = c.handle;
    if (this.byFd[fd] === c) this.byFd[fd] = undefined;
    sys.close(fd);
  }

  /** A connecting socket became writable (or failed). */
  private connected(c: Conn<number>): void {
    const fd = c.handle;
    let err: number;
    try {
      err = sys.socketError(fd);
    } catch (e) {
      err = (e as sys.SysError).errno ?? sys.EINVAL;
    }
    if (err === 0) {
      this.ep.modify(fd, IN);
      this.established(c, perf.now());
    } else {
      this.untrack(c);
      this.failed(c, sys.errnoName(err));
    }
  }

  private expireConnects(now: number): void {
    const limit = this.options.connectTimeout;
    const q = this.pending;
    while (this.pendingHead < q.length) {
      const c = q[this.pendingHead];
      if (c.state === 0 || c.state === 3) {
        if (now - c.t0 < limit) break;
        this.untrack(c);
        this.failed(c, 'ETIMEDOUT');
      }
      this.pendingHead++;
    }
    if (this.pendingHead > 4096 && this.pendingHead * 2 > q.length) {
      this.pending = q.slice(this.pendingHead);
      this.pendingHead = 0;
    }
  }

  // ------------------------------------------------------------ bytes

  protected writeBytes(c: Conn<number>, bytes: Buffer): void {
    const r = sys.send(c.handle, bytes, bytes.length, sys.MSG_NOSIGNAL);
    if (r !== bytes.length) this.drop(c); // a fresh socket takes a few hundred bytes at once
  }

  protected drop(c: Conn<number>): void {
    this.untrack(c);
    this.lost(c);
  }

  protected write(c: Conn<number>, v: number): void {
    const len = this.pattern.sendLength;
    const r = sys.sendRaw(c.handle, this.patternAddr + v * len, len);
    if (r === len) return;
    if (r >= 0 || r === -sys.EAGAIN) {
      this.written[c.handle] = Math.max(r, 0);
      this.ep.modify(c.handle, IN | OUT);
    }
    // other errors (EPIPE, ECONNRESET) surface on the next read
  }

  /** EPOLLOUT after a short write: send the rest of the frame. */
  private flush(c: Conn<number>): void {
    const fd = c.handle;
    const len = this.pattern.sendLength;
    const off = this.written[fd];
    const r = sys.writePtr(fd, this.patternAddr + c.v * len + off, len - off);
    if (r === len - off) {
      this.written[fd] = 0;
      this.ep.modify(fd, IN);
    } else if (r > 0) {
      this.written[fd] = off + r;
    }
  }

  private handle(n: number): void {
    const ep = this.ep;
    const byFd = this.byFd;
    for (let i = 0; i < n; i++) {
      const c = byFd[ep.fd(i)];
      if (c === undefined) continue;
      const events = ep.events(i);
      if (c.state === 0) {
        this.connected(c);
        continue;
      }
      if (c.state !== 1 && c.state !== 3) continue;
      if ((events & sys.EPOLLOUT) !== 0 && c.state === 1) this.flush(c);
      if ((events & (sys.EPOLLIN | sys.EPOLLERR | sys.EPOLLHUP)) !== 0) {
        // edge-triggered: read until a short read (TCP then has nothing more queued) or EAGAIN
        for (;;) {
          const r = sys.recvRaw(c.handle, this.readAddr, READ_SIZE);
          if (r > 0) {
            this.received(c, this.readBuf, 0, r);
            if (r < READ_SIZE) break;
          } else {
            if (r !== -sys.EAGAIN) {
              this.untrack(c);
              this.lost(c);
            }
            break;
          }
        }
      }
    }
  }

  // ------------------------------------------------------------ the loop

  private loop = (): void => {
    this.immediate = null;
    if (!this.running) return;
    const ep = this.ep;
    const deadline = perf.now() + BATCH_MS;
    let n: number;
    let now: number;
    let handled = 0;
    do {
      n = ep.wait(0);
      if (n > 0) this.handle(n);
      handled += n;
      now = perf.now();
      if (this.ticking) this.tick(now);
    } while (n > 0 && now < deadline && this.running);
    if (this.connecting > 0) this.expireConnects(now);
    if (this.ramping) this.pump();
    // Idle: after a few empty rounds through Node's event loop (which let a server in this same process,
    // as in tests, answer), block briefly in the kernel instead of spinning through setImmediate.
    this.idleRounds = handled === 0 ? this.idleRounds + 1 : 0;
    if (this.idleRounds > IDLE_ROUNDS && this.running) {
      n = ep.wait(this.ramping || this.ticking ? 1 : 10);
      if (n > 0) {
        this.handle(n);
        this.idleRounds = 0;
      }
    }
    if (this.running) this.immediate = setImmediate(this.loop);
  };

  private startLoop(): void {
    if (this.running) return;
    this.running = true;
    this.immediate = setImmediate(this.loop);
  }

  protected startRampTimer(): void {
    this.startLoop();
  }

  protected stopRampTimer(): void {}

  protected startTicker(): void {
    this.ticking = true;
    this.startLoop();
  }

  protected stopTicker(): void {
    this.ticking = false;
  }

  protected async closeAll(): Promise<void> {
    // Half-close (FIN) the open connections and keep the loop running until the server has echoed what
    // was in flight and closed its side, for at most DRAIN_MS; then close the rest. Closing with unread
    // data would send RST, and a server writing into it gets EPIPE (a naive C server dies of SIGPIPE).
    for (const c of this.conns) {
      if (c.state === 1) sys.shutdown(c.handle, sys.SHUT_WR);
      else if (c.state === 0 || c.state === 3) {
        c.state = 2;
        this.untrack(c);
      }
    }
    this.startLoop();
    const until = perf.now() + DRAIN_MS;
    while (this.stats.open > 0 && perf.now() < until) await new Promise((r) => setTimeout(r, 5));
    this.running = false;
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    for (const c of this.conns) {
      if (c.state !== 2) {
        c.state = 2;
        this.untrack(c);
      }
    }
    this.ep.close();
  }
}
