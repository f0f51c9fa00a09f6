// driver.ts — what every engine shares: the connect ramp, the closed/open-loop traffic logic, checking
// echoed bytes, and the counters. An engine (node:net or epoll over src/sys) only moves bytes.
//
// Why it is shaped this way: the logic that decides *what* to send and *when* (and how to time it) must
// be identical across engines so their figures compare; the engines differ only in how a connect, a
// write and a read reach the kernel. Connection state is a small fixed-shape object (monomorphic for
// V8) and nothing on the per-message path allocates.
//
// Open loop (--rate) follows wrk2: each connection has at most one message in flight; message j of the
// whole process is due at start + j / rate and belongs to live connection j % L, so each connection
// sends its k-th message no earlier than its intended time start + (k * L + slot) / rate, and the
// latency is measured from that intended time. A late response therefore delays the next send and the
// delay shows up in the latency (coordinated-omission correction) instead of silently lowering the rate.
import type { Pattern } from './pattern.ts';
import {
  DEFAULT_TIMEOUT_MS,
  type FailureReason,
  failureReason,
  type LoadOptions,
  type LoadStats,
  newStats,
  type Slice,
} from './stats.ts';

/** At the end, how long the server gets to echo what is in flight and close after our FIN. */
export const DRAIN_MS = 1000;

const STATUS_101 = Buffer.from('HTTP/1.1 101 ');
const CRLFCRLF = Buffer.from('\r\n\r\n');

/** The global, read once: `performance.now()` costs a global lookup each time. */
const perf = performance;

export class Conn<H> {
  /** Global connection id (used for the payload pattern and the source address). */
  readonly id: number;
  /** Engine handle (a net.Socket, or an fd). */
  handle: H;
  /** Index among the connections live when the run started (open loop), -1 before. */
  slot = -1;
  state = 0; // 0 connecting, 1 open, 2 closed, 3 upgrading (WebSocket: request sent, waiting for the 101)
  /** Messages sent. */
  seq = 0;
  /** Open loop: messages due so far. */
  due = 0;
  /** A message is in flight. */
  busy = false;
  /** Frame variant in flight, and how many of its bytes have come back. */
  v = 0;
  got = 0;
  /** This message already counted as a mismatch. */
  bad = false;
  /** An echo came back whole during the measured window. */
  answered = false;
  /** Send time (closed loop) or intended send time (open loop), ms; connect start while connecting. */
  t0 = 0;
  constructor(id: number, handle: H) {
    this.id = id;
    this.handle = handle;
  }
}

export abstract class Driver<H> {
  readonly options: LoadOptions;
  readonly slice: Slice;
  readonly pattern: Pattern;
  readonly stats: LoadStats = newStats();
  protected readonly conns: Conn<H>[] = [];
  /** Live connections at the start of the run, by slot. */
  protected live: Conn<H>[] = [];
  protected measuring = false;
  protected stopping = false;
  private next = 0;
  private pumping = false;
  private earlyStop = false;
  private wakeSleep: (() => void) | null = null;
  protected connecting = 0;
  private rampStart = 0;
  private readonly connectRate: number;
  private readonly rate: number;
  private runStart = 0;
  private dueTotal = 0;
  private connectDone: (() => void) | null = null;
  /** options.once: live connections whose echo came back. */
  private answeredOnce = 0;

  constructor(options: LoadOptions, slice: Slice, pattern: Pattern) {
    this.options = options;
    this.slice = slice;
    this.pattern = pattern;
    const share = options.connections > 0 ? slice.count / options.connections : 0;
    this.connectRate = options.connectRate * share;
    this.rate = options.rate * share;
  }

  // ------------------------------------------------------------ engine hooks

  /** Start a non-blocking connect for `c` (c.t0 is set); report with established() / failed(). */
  protected abstract startConnect(c: Conn<H>, source: string | undefined): void;
  /** Write frame `v` on `c` (whole frame; the engine buffers what the kernel does not take). */
  protected abstract write(c: Conn<H>, v: number): void;
  /** Close every connection; resolves when they are closed. */
  protected abstract closeAll(): Promise<void>;
  /** Send `bytes` (a handshake: small, on a fresh socket) on `c`. */
  protected abstract writeBytes(c: Conn<H>, bytes: Buffer): void;
  /** Close `c` now; the engine then reports it through lost(). */
  protected abstract drop(c: Conn<H>): void;
  /** `c` is open for traffic (after its upgrade, for WebSocket). */
  protected opened(_c: Conn<H>): void {}
  /** Call pump() now and then while connects are pending (rate ramp, timeouts). */
  protected abstract startRampTimer(): void;
  protected abstract stopRampTimer(): void;
  /** Open loop: call tick() at least every millisecond or so while measuring. */
  protected abstract startTicker(): void;
  protected abstract stopTicker(): void;

  // ------------------------------------------------------------ phases

  /** Opens this slice's connections; resolves when every attempt has succeeded or failed. */
  connect(): Promise<void> {
    return new Promise((resolve) => {
      this.connectDone = resolve;
      this.rampStart = perf.now();
      this.startRampTimer();
      this.pump();
    });
  }

  /** Measured phase: traffic (or idle hold) for options.duration ms. */
  async run(): Promise<void> {
    this.live = this.conns.filter((c) => c.state === 1);
    for (let i = 0; i < this.live.length; i++) this.live[i].slot = i;
    this.measuring = true;
    const cpu0 = process.cpuUsage();
    this.runStart = perf.now();
    // the window's timer starts before the first sends (a burst of thousands of writes takes a while)
    const windowOver = this.sleep(this.options.duration);
    if (!this.options.hold) {
      if (this.rate > 0) this.startTicker();
      else for (const c of this.live) this.sendNext(c, perf.now());
    }
    await windowOver;
    this.measuring = false;
    const end = perf.now();
    this.stats.elapsedMs = end - this.runStart;
    this.countUnanswered(end);
    const cpu = process.cpuUsage(cpu0);
    this.stats.cpuMs = (cpu.user + cpu.system) / 1000;
    this.stopTicker();
  }

  /** Open connections still waiting at the end: never answered in the run, or waiting past the timeout. */
  private countUnanswered(now: number): void {
    if (this.options.hold) return;
    const timeout = this.options.timeout ?? DEFAULT_TIMEOUT_MS;
    for (const c of this.live) {
      if (c.answered) this.stats.answered++;
      if (c.state === 1 && c.busy && (!c.answered || now - c.t0 >= timeout)) this.stats.unanswered++;
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.stopRampTimer();
    this.stopTicker();
    await this.closeAll();
    this.stats.open = 0;
  }

  /** Ends the run early (SIGINT): no new connects; a running measurement ends now. */
  stopEarly(): void {
    this.earlyStop = true;
    this.next = this.slice.count;
    this.wakeSleep?.();
    this.checkConnectDone();
  }

  private sleep(ms: number): Promise<void> {
    if (this.earlyStop) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeSleep = done;
    });
  }

  // ------------------------------------------------------------ connect ramp

  /** Starts as many connects as the in-flight cap and the connect rate allow. */
  pump(): void {
    // connects that fail synchronously call back into pump(): the outer loop carries on instead
    if (this.pumping) return;
    this.pumping = true;
    const { count, first } = this.slice;
    const max = this.options.maxConnecting;
    const sources = this.options.sources;
    const allowed =
      this.connectRate > 0
        ? Math.floor(((perf.now() - this.rampStart) / 1000) * this.connectRate) + 1
        : count;
    while (this.next < count && this.connecting < max && this.next < allowed && !this.stopping) {
      const id = first + this.next++;
      const c = new Conn<H>(id, undefined as H);
      c.t0 = perf.now();
      this.conns.push(c);
      this.connecting++;
      this.stats.attempted++;
      this.startConnect(c, sources.length > 0 ? sources[id % sources.length] : undefined);
    }
    this.pumping = false;
    this.checkConnectDone();
  }

  /** The connect phase is still on. */
  protected get ramping(): boolean {
    return this.connectDone !== null;
  }

  private checkConnectDone(): void {
    if (this.connectDone !== null && this.next >= this.slice.count && this.connecting === 0) {
      const done = this.connectDone;
      this.connectDone = null;
      this.stopRampTimer();
      done();
    }
  }

  /** Connection `c` is established. */
  protected established(c: Conn<H>, now: number): void {
    const handshake = this.pattern.handshake;
    if (handshake !== null && c.state === 0) {
      // WebSocket: the connection counts as established once the server has answered the upgrade
      c.state = 3;
      c.got = 0; // bytes of the response seen
      c.v = 0; // of its final CRLFCRLF, how many matched
      this.writeBytes(c, handshake);
      return;
    }
    c.state = 1;
    this.opened(c);
    this.connecting--;
    this.stats.established++;
    this.stats.open++;
    this.stats.connectTime.record((now - c.t0) * 1000);
    if (this.connectDone !== null) this.pump();
  }

  /** Connect of `c` failed with errno `code` (or 'ETIMEDOUT' for our own timeout). */
  protected failed(c: Conn<H>, code: string | undefined): void {
    c.state = 2;
    this.connecting--;
    const reason: FailureReason = failureReason(code);
    this.stats.failed[reason]++;
    if (reason === 'other') {
      const key = code ?? 'unknown';
      this.stats.otherCodes[key] = (this.stats.otherCodes[key] ?? 0) + 1;
    }
    if (this.connectDone !== null) this.pump();
  }

  /** An open connection ended without us closing it (`code`: the engine's reason, if it has one). */
  protected lost(c: Conn<H>, code?: string): void {
    if (c.state === 3) {
      this.failed(c, code ?? 'EUPGRADE'); // during the upgrade: a failed connect (ETIMEDOUT from the engine)
      return;
    }
    if (c.state !== 1) return;
    c.state = 2;
    c.busy = false;
    this.stats.open--;
    if (!this.stopping) this.stats.closedByServer++;
  }

  // ------------------------------------------------------------ traffic

  private sendNext(c: Conn<H>, t0: number): void {
    const v = this.pattern.variant(c.id, c.seq);
    c.seq++;
    c.v = v;
    c.got = 0;
    c.bad = false;
    c.busy = true;
    c.t0 = t0;
    this.stats.bytesSent += this.pattern.sendLength;
    this.write(c, v);
  }

  /** Open loop: hands out the messages due by `now`. */
  tick(now: number): void {
    if (!this.measuring) return;
    const L = this.live.length;
    if (L === 0) return;
    const due = Math.floor(((now - this.runStart) / 1000) * this.rate);
    const perMs = 1000 / this.rate;
    for (let j = this.dueTotal; j < due; j++) {
      const c = this.live[j % L];
      c.due++;
      if (!c.busy && c.state === 1) this.sendNext(c, this.runStart + j * perMs);
    }
    if (due > this.dueTotal) this.dueTotal = due;
  }

  /** Bytes `buf[from, from + n)` arrived on `c`: check them against what was sent. */
  protected received(c: Conn<H>, buf: Uint8Array, from: number, n: number): void {
    if (c.state === 3) {
      const used = this.upgrading(c, buf, from, n);
      if (used < 0) return;
      from += used;
      n -= used;
      if (n === 0) return;
    }
    const stats = this.stats;
    if (this.measuring) stats.bytesReceived += n;
    const frameLength = this.pattern.frameLength;
    const end = from + n;
    while (from < end) {
      if (!c.busy) {
        // bytes nobody asked for: a mismatch, and they are dropped
        stats.mismatches++;
        return;
      }
      const take = Math.min(frameLength - c.got, end - from);
      const same = this.pattern.check(c.v, c.got, buf, from, take);
      if (this.measuring) stats.bytesVerified += same; // counted over the same window as bytesReceived
      if (same !== take && !c.bad) {
        c.bad = true;
        stats.mismatches++;
      }
      c.got += take;
      from += take;
      if (c.got === frameLength) this.completed(c);
    }
  }

  /**
   * Reads the upgrade response: "HTTP/1.1 101 " then anything up to CRLFCRLF. Returns how many bytes it
   * took once the response is whole (the connection is then established), or -1.
   */
  private upgrading(c: Conn<H>, buf: Uint8Array, from: number, n: number): number {
    for (let i = 0; i < n; i++) {
      const b = buf[from + i];
      if (c.got < STATUS_101.length) {
        if (b !== STATUS_101[c.got]) {
          this.drop(c);
          return -1;
        }
      } else if (b === CRLFCRLF[c.v]) {
        if (++c.v === 4) {
          c.state = 1; // not 0: established() then counts it instead of upgrading again
          this.established(c, perf.now());
          return i + 1;
        }
      } else c.v = b === 13 ? 1 : 0;
      if (++c.got > 8192) {
        this.drop(c);
        return -1;
      }
    }
    return -1;
  }

  private completed(c: Conn<H>): void {
    c.busy = false;
    if (!this.measuring) return;
    const now = perf.now();
    if (!c.answered && this.options.once && ++this.answeredOnce === this.live.length) this.stopEarly();
    c.answered = true;
    this.stats.messages++;
    this.stats.latency.record((now - c.t0) * 1000);
    if (this.options.once) return;
    if (this.rate === 0) this.sendNext(c, now);
    else if (c.seq < c.due) {
      this.sendNext(c, this.runStart + ((c.seq * this.live.length + c.slot) * 1000) / this.rate);
    }
  }
}
