// What one serving process knows about its connections: the app, the limits, the counters, the set of
// live connections and the one timer that expires idle and slowloris connections and drives a drain.
// Every model and backend builds on it, so their behaviour and statistics are the same.
import type { App } from '../app.ts';
import type { Logger } from '../log.ts';
import type { ResolvedServeOptions } from '../models/types.ts';
import { parseCidrList } from '../protocols/cidr.ts';
import { CLOSE_REASONS, type CloseReason, type ConnectionBase } from './connection.ts';
import type { ConnectionLimits } from './limits.ts';
import { TimeoutList } from './timeout-list.ts';

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
    closed,
  };
}

export interface ServerCoreOptions<In, Out> {
  app: App<In, Out>;
  limits: ConnectionLimits;
  logger: Logger;
  /** At most this many connections at once in this process (Infinity: no cap). */
  maxConnections: number;
  /** PROXY protocol: which peers may send a header (null: the protocol is off). */
  trustedProxy?: ((address: string) => boolean) | null;
}

export const DEFAULT_TRUSTED_PROXIES = '127.0.0.0/8,::1/128';

/** The ServerCore options a model derives from its serve options (every model builds its cores so). */
export function coreOptions<In, Out>(
  options: Pick<
    ResolvedServeOptions,
    'limits' | 'logger' | 'maxConnections' | 'proxyProtocol' | 'trustedProxies'
  > & {
    app: App<In, Out>;
  },
): ServerCoreOptions<In, Out> {
  return {
    app: options.app,
    limits: options.limits,
    logger: options.logger,
    maxConnections: options.maxConnections,
    trustedProxy: options.proxyProtocol ? parseCidrList(options.trustedProxies) : null,
  };
}

/** A drained connection is ended once it has been quiet (nothing in or out) this long. */
const DRAIN_QUIET_MS = 100;
const DRAIN_TICK_MS = 20;

export class ServerCore<In = unknown, Out = unknown> {
  readonly app: App<In, Out>;
  readonly limits: ConnectionLimits;
  readonly logger: Logger;
  readonly stats: ServerStats = emptyStats();
  readonly connections = new Set<ConnectionBase<In, Out>>();
  readonly idleList: TimeoutList<ConnectionBase<In, Out>> | null;
  readonly partialList: TimeoutList<ConnectionBase<In, Out>> | null;
  maxConnections: number;
  readonly trustedProxy: ((address: string) => boolean) | null;
  /** A coarse clock (ms), advanced by the sweep timer: cheap to read on every chunk. */
  now = Date.now();
  private ids = 0;
  private timer: NodeJS.Timeout | null = null;
  private tickMs: number;
  private drainDeadline = 0;
  private drainWaiters: (() => void)[] = [];

  constructor(options: ServerCoreOptions<In, Out>) {
    this.app = options.app;
    this.limits = options.limits;
    this.logger = options.logger;
    this.maxConnections = options.maxConnections;
    this.trustedProxy = options.trustedProxy ?? null;
    this.idleList = this.limits.idleTimeout > 0 ? new TimeoutList() : null;
    this.partialList = this.limits.partialTimeout > 0 ? new TimeoutList() : null;
    const shortest = Math.min(this.limits.idleTimeout || Infinity, this.limits.partialTimeout || Infinity);
    this.tickMs = Math.max(10, Math.min(250, Math.floor(shortest / 4)));
  }

  get draining(): boolean {
    return this.drainDeadline !== 0;
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.tickMs).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  nextId(): number {
    return ++this.ids;
  }

  /** May one more connection be accepted? If not, the caller closes it and calls reject(). */
  admits(): boolean {
    return this.connections.size < this.maxConnections && !this.draining;
  }

  reject(reason: CloseReason = 'max-connections'): void {
    this.stats.rejected++;
    this.stats.closed[reason]++;
  }

  register(conn: ConnectionBase<In, Out>): void {
    this.connections.add(conn);
    this.stats.accepted++;
    this.stats.active = this.connections.size;
    if (this.idleList) this.idleList.touch(conn.idleDeadline, this.now);
  }

  /** Drop a closed connection; false if it was already gone. */
  forget(conn: ConnectionBase<In, Out>): boolean {
    if (!this.connections.delete(conn)) return false;
    this.stats.active = this.connections.size;
    this.idleList?.remove(conn.idleDeadline);
    this.partialList?.remove(conn.partialDeadline);
    if (this.drainDeadline !== 0 && this.connections.size === 0) this.drainDone();
    return true;
  }

  countClose(reason: CloseReason): void {
    this.stats.closed[reason]++;
  }

  /**
   * Graceful stop of this process's connections (the caller has stopped accepting): each connection is
   * served until it is quiet, then ended after its pending writes; at the deadline the rest are destroyed.
   */
  drain(timeoutMs: number): Promise<void> {
    const done = new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    if (this.drainDeadline === 0) {
      this.now = Date.now();
      this.drainDeadline = this.now + timeoutMs;
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
    const now = (this.now = Date.now());
    if (this.idleList) this.idleList.expire(now - this.limits.idleTimeout, (c) => c.destroy('idle-timeout'));
    if (this.partialList)
      this.partialList.expire(now - this.limits.partialTimeout, (c) => c.destroy('partial-timeout'));
    if (this.drainDeadline === 0) return;
    const late = now >= this.drainDeadline;
    for (const conn of this.connections) {
      if (late) conn.destroy('shutdown');
      else if (conn.quietSince(now - DRAIN_QUIET_MS)) conn.endForShutdown();
    }
  }
}
