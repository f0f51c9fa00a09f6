// What one serving process knows about its connections: the app, the limits, the counters, the set of
// live connections and the one timer that expires idle and slowloris connections and drives a drain.
// Every model and backend builds on it, so their behaviour and statistics are the same.
import type { App } from '../app.ts';
import type { Logger } from '../log.ts';
import { parseCidrList } from '../protocols/cidr.ts';
import type { ConnectionBase } from './connection.ts';
import { CLOSE_REASONS, type CloseReason } from './connection-api.ts';
import type { ConnectionLimits } from './limits.ts';
import type { ResolvedServeOptions } from './server-contract.ts';
import { TimeoutList } from './timeout-list.ts';
import type { ResolvedTls } from './tls/config.ts';
import { TlsContext } from './tls/context.ts';

export interface ServerStats {
  startedAt: number;
  accepted: number;
  active: number;
  /** Refused at accept (max connections, fd reserve, select's FD_SETSIZE...). */
  rejected: number;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  /** TLS: handshakes done (resumed ones among them) and under way now; failures count in `closed`. */
  tlsHandshakes: number;
  tlsResumed: number;
  tlsHandshaking: number;
  closed: Record<CloseReason, number>;
}

export function emptyStats(): ServerStats {
  const closed = {} as Record<CloseReason, number>;
  for (const reason of CLOSE_REASONS) closed[reason] = 0;
  return {
    startedAt: Date.now(),
    accepted: 0,
    active: 0,
    rejected: 0,
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    tlsHandshakes: 0,
    tlsResumed: 0,
    tlsHandshaking: 0,
    closed,
  };
}

export interface ServerCoreOptions<In, Out> {
  app: App<In, Out>;
  limits: ConnectionLimits;
  logger: Logger;
  /** At most this many connections at once in this process (Infinity: no cap). */
  maxConnections: number;
  /** At most this many connections at once in this process from one client address (default: no cap). */
  maxConnectionsPerIp?: number;
  /** PROXY protocol: which peers may send a header (null: the protocol is off). */
  trustedProxy?: ((address: string) => boolean) | null;
  /** TLS on every connection (null: plain TCP). */
  tls?: ResolvedTls | null;
}

export const DEFAULT_TRUSTED_PROXIES = '127.0.0.0/8,::1/128';

/** The ServerCore options a model derives from its serve options (every model builds its cores so). */
export function coreOptions<In, Out>(
  options: Pick<
    ResolvedServeOptions,
    'limits' | 'logger' | 'maxConnections' | 'proxyProtocol' | 'trustedProxies'
  > &
    Partial<Pick<ResolvedServeOptions, 'tls'>> &
    Partial<Pick<ResolvedServeOptions, 'maxConnectionsPerIp'>> & {
      app: App<In, Out>;
    },
): ServerCoreOptions<In, Out> {
  return {
    app: options.app,
    limits: options.limits,
    logger: options.logger,
    maxConnections: options.maxConnections,
    maxConnectionsPerIp: options.maxConnectionsPerIp,
    trustedProxy: options.proxyProtocol ? parseCidrList(options.trustedProxies) : null,
    tls: options.tls ?? null,
  };
}

/** A drained connection is ended once it has been quiet (nothing in or out) this long. */
const DRAIN_QUIET_MS = 100;
/**
 * A connection that is never quiet that long (a client that keeps sending) is ended, from this long into
 * the drain (at most half the drain timeout), at its next message boundary instead: every message read
 * has been answered, nothing is half-decoded or queued. The client sees FIN right after its last answer,
 * so whatever it sent later and got no answer for was not processed and can be sent again elsewhere;
 * destroying it at the deadline would drop answers to messages already handled.
 */
const DRAIN_BOUNDARY_MS = 1000;
const DRAIN_TICK_MS = 20;

const PLAIN_HTTP_BODY = 'This port speaks HTTPS: the request was plain HTTP. Use https://\n';
const PLAIN_HTTP_REPLY = Buffer.from(
  `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: ${PLAIN_HTTP_BODY.length}\r\nConnection: close\r\n\r\n${PLAIN_HTTP_BODY}`,
);

export class ServerCore<In = unknown, Out = unknown> {
  readonly app: App<In, Out>;
  readonly limits: ConnectionLimits;
  readonly logger: Logger;
  readonly stats: ServerStats = emptyStats();
  readonly connections = new Set<ConnectionBase<In, Out>>();
  readonly idleList: TimeoutList<ConnectionBase<In, Out>> | null;
  readonly partialList: TimeoutList<ConnectionBase<In, Out>> | null;
  maxConnections: number;
  readonly maxConnectionsPerIp: number;
  /** Live connections per client address when maxConnectionsPerIp is set (an entry goes at zero, so the
   * map never holds more entries than there are connections), else null. */
  readonly perIp: Map<string, number> | null;
  readonly trustedProxy: ((address: string) => boolean) | null;
  /** TLS: the context new connections' handshakes use (null: plain TCP). */
  readonly tls: TlsContext | null;
  /** TLS: what a client that speaks plain text on the TLS port is told (HTTP: a 400), or null. */
  readonly tlsPlainTextReply: Buffer | null;
  /** Date.now() when this core started; `now` counts from it. */
  readonly epoch = Date.now();
  /** performance.now() at `epoch`: `now` is read from the monotonic clock (a wall clock set back or
   * forward would fire every deadline at once, or none). */
  private readonly monoEpoch = performance.now();
  /**
   * A coarse clock in whole ms since `epoch`, advanced by the sweep timer (and refreshClock()): cheap to
   * read on every chunk, and a small integer, so connections store their times without a boxed double
   * each. It lags: something stamped `now` happened at or after `now`, before the clock's next advance.
   * So a deadline is never judged by its stamp alone (see advance() and tick()): it fires late, never early.
   */
  now = 0;
  private ids = 0;
  private timer: NodeJS.Timeout | null = null;
  private tickMs: number;
  /** When a drain must be over (on the `now` clock); -1: not draining. */
  private drainDeadline = -1;
  /** From then on (the `now` clock) a drained connection is ended at a message boundary. */
  private drainBoundary = -1;
  private drainWaiters: (() => void)[] = [];

  constructor(options: ServerCoreOptions<In, Out>) {
    this.app = options.app;
    this.limits = options.limits;
    this.logger = options.logger;
    this.maxConnections = options.maxConnections;
    this.maxConnectionsPerIp = options.maxConnectionsPerIp ?? Infinity;
    this.perIp = Number.isFinite(this.maxConnectionsPerIp) ? new Map() : null;
    this.trustedProxy = options.trustedProxy ?? null;
    this.tls = options.tls ? new TlsContext(options.tls) : null;
    this.tlsPlainTextReply = this.tls !== null && options.app.codec.name === 'http' ? PLAIN_HTTP_REPLY : null;
    this.idleList = this.limits.idleTimeout > 0 ? new TimeoutList() : null;
    this.partialList = this.limits.partialTimeout > 0 ? new TimeoutList() : null;
    const shortest = Math.min(this.limits.idleTimeout || Infinity, this.limits.partialTimeout || Infinity);
    this.tickMs = Math.max(10, Math.min(250, Math.floor(shortest / 8)));
  }

  get draining(): boolean {
    return this.drainDeadline !== -1;
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.tickMs).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Advance the coarse clock to the real time now (for a caller about to stamp connections). */
  refreshClock(): number {
    return this.advance();
  }

  /**
   * The one way `now` moves (to the monotonic time, in whole ms). What was stamped with the old value
   * happened before this moment, so its deadline may be judged from at most `tickMs` + 1 after its
   * stamp (the margin tick() adds): when the clock was stale longer than that (a late timer, a long
   * turn of the event loop), the entries stamped with the old value are moved up to keep that true.
   */
  private advance(): number {
    const before = this.now;
    const now = Math.max(before, Math.floor(performance.now() - this.monoEpoch));
    if (now - before > this.tickMs) {
      if (this.idleList) this.idleList.restampTail(before, now - this.tickMs);
      if (this.partialList) this.partialList.restampTail(before, now - this.tickMs);
    }
    this.now = now;
    return now;
  }

  nextId(): number {
    return ++this.ids;
  }

  /**
   * Why one more connection from `address` would be refused ('shutdown', 'max-connections',
   * 'per-ip-limit'), or null to take it. The caller closes a refused one and calls reject(reason).
   */
  refusal(address: string): CloseReason | null {
    if (this.draining) return 'shutdown';
    if (this.connections.size >= this.maxConnections) return 'max-connections';
    if (this.perIp !== null && (this.perIp.get(address) ?? 0) >= this.maxConnectionsPerIp)
      return 'per-ip-limit';
    return null;
  }

  /**
   * A connection's address changed (a PROXY header named the real client): move its per-address count.
   * False, with the connection no longer counted anywhere, if the new address is already at its limit.
   */
  readdress(conn: ConnectionBase<In, Out>, address: string): boolean {
    const perIp = this.perIp;
    if (perIp === null || !this.connections.has(conn) || address === conn.remoteAddress) {
      conn.remoteAddress = address;
      return true;
    }
    const n = perIp.get(address) ?? 0;
    if (n >= this.maxConnectionsPerIp) return false; // still counted under its old address until forget()
    this.uncountAddress(conn.remoteAddress);
    conn.remoteAddress = address;
    perIp.set(address, n + 1);
    return true;
  }

  private uncountAddress(address: string): void {
    const perIp = this.perIp!;
    const n = perIp.get(address) ?? 0;
    if (n <= 1) perIp.delete(address);
    else perIp.set(address, n - 1);
  }

  reject(reason: CloseReason = 'max-connections'): void {
    this.stats.rejected++;
    this.stats.closed[reason]++;
  }

  register(conn: ConnectionBase<In, Out>): void {
    this.connections.add(conn);
    if (this.perIp !== null)
      this.perIp.set(conn.remoteAddress, (this.perIp.get(conn.remoteAddress) ?? 0) + 1);
    this.stats.accepted++;
    this.stats.active = this.connections.size;
    if (this.idleList) this.idleList.touch(conn.idleDeadline!, this.now);
    if (this.drainDeadline !== -1 && this.timer === null) {
      // Accepted while stopping (it was in the accept queue) after the drain had emptied the server:
      // drain it too — a full quiet period from now, then ended — or nothing would ever end it.
      conn.lastActive = this.refreshClock();
      this.timer = setInterval(() => this.tick(), DRAIN_TICK_MS);
    }
  }

  /** Drop a closed connection; false if it was already gone. */
  forget(conn: ConnectionBase<In, Out>): boolean {
    if (!this.connections.delete(conn)) return false;
    if (this.perIp !== null) this.uncountAddress(conn.remoteAddress);
    this.stats.active = this.connections.size;
    if (conn.idleDeadline) this.idleList!.remove(conn.idleDeadline);
    if (conn.partialDeadline) this.partialList!.remove(conn.partialDeadline);
    if (this.drainDeadline !== -1 && this.connections.size === 0) this.drainDone();
    return true;
  }

  countClose(reason: CloseReason): void {
    this.stats.closed[reason]++;
  }

  /**
   * Graceful stop of this process's connections (the caller has stopped accepting): each connection is
   * served until it is quiet (a busy one, after DRAIN_BOUNDARY_MS: until a message boundary), then ended
   * after its pending writes; at the deadline the rest are destroyed.
   */
  drain(timeoutMs: number): Promise<void> {
    const done = new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    if (this.drainDeadline === -1) {
      this.advance();
      this.drainDeadline = this.now + timeoutMs;
      this.drainBoundary = this.now + Math.min(DRAIN_BOUNDARY_MS, timeoutMs / 2);
      // Every connection gets a full quiet period from now: bytes already on the wire still arrive.
      for (const conn of this.connections) conn.lastActive = this.now;
      if (this.timer) clearInterval(this.timer);
      this.timer = setInterval(() => this.tick(), DRAIN_TICK_MS);
      if (this.connections.size === 0) this.drainDone();
    }
    return done;
  }

  private drainDone(): void {
    this.stop();
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  private tick(): void {
    const now = this.advance();
    // An entry stamped `at` was last active before at + tickMs + 1 (see advance()): due only once that
    // plus the timeout has passed.
    const margin = this.tickMs + 1;
    if (this.idleList)
      this.idleList.expire(now - this.limits.idleTimeout - margin, (c) => c.destroy('idle-timeout'));
    if (this.partialList)
      this.partialList.expire(now - this.limits.partialTimeout - margin, (c) => c.destroy('partial-timeout'));
    if (this.drainDeadline === -1) return;
    const late = now >= this.drainDeadline;
    const quietSince = now >= this.drainBoundary ? now : now - DRAIN_QUIET_MS;
    let quiet: ConnectionBase<In, Out>[] | null = null;
    for (const conn of this.connections) {
      if (late) conn.destroy('shutdown');
      else if (conn.isQuietSince(quietSince)) (quiet ??= []).push(conn);
    }
    // Timers run before the loop's I/O phase: a read that already returned (a blocking read on a pool
    // thread takes the bytes out of the kernel) is handed over only then. Judge again after it.
    if (quiet)
      setImmediate(() => {
        for (const conn of quiet) if (conn.isQuietSince(quietSince)) conn.endForShutdown();
      });
  }
}
