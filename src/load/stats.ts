// stats.ts — the load generator's options and results, and merging results from several processes.
//
// Why it is shaped this way: each process (worker) counts into a plain LoadStats; the parent receives
// them as JSON over IPC and merges them: counters add up, histograms merge bucket by bucket (exact),
// and the measured time is the longest of the workers' windows. The same code serves a single process.
import { Histogram, type HistogramJSON } from './histogram.ts';
import type { Protocol } from './pattern.ts';

export const ENGINES = ['sys', 'node'] as const;
export type EngineName = (typeof ENGINES)[number];

export interface LoadOptions {
  host: string;
  port: number;
  /** Connections in total, over all processes. */
  connections: number;
  /** Connections opened per second in total; 0 = as fast as maxConnecting allows. */
  connectRate: number;
  /** At most this many connects in flight per process. */
  maxConnecting: number;
  /** A connect not finished after this many ms fails as 'timeout'. */
  connectTimeout: number;
  /** Measured traffic time in ms, after every connection is up (or has failed). */
  duration: number;
  size: number;
  /** Messages per second in total (open loop); 0 = closed loop. */
  rate: number;
  protocol: Protocol;
  /** Source addresses; connection g uses sources[g % sources.length]; [] = the kernel chooses. */
  sources: string[];
  processes: number;
  /** Open the connections and keep them idle for `duration`: no messages. */
  hold: boolean;
  /** Closed loop, one message per connection: the run ends once every connection has its echo back
   * (`duration` is then the deadline). The ladder's check that each of a million connections echoes. */
  once?: boolean;
  engine: EngineName;
  /** A message waiting longer than this (ms) for its echo at the end of the run counts its connection
   * as unanswered, as does one that got no echo in the whole run (default DEFAULT_TIMEOUT_MS). */
  timeout?: number;
  /** Forked load processes lower their scheduling priority to this nice value (os.setPriority): a bench
   * that shares the cores with the server it measures lets the server accept first, so the load does not
   * outrun the accept queues (a full queue drops the SYN, resent 1 s later). */
  nice?: number;
  /** Speak TLS (node engine): no certificate check unless tlsCa (PEM) is given; SNI is tlsServername. */
  tls?: boolean;
  tlsCa?: string;
  tlsServername?: string;
}

export const DEFAULT_TIMEOUT_MS = 2000;

/** The part of the connections one process drives: global ids first .. first + count - 1. */
export interface Slice {
  first: number;
  count: number;
}

export const FAILURE_REASONS = ['refused', 'timeout', 'reset', 'addrNotAvailable', 'other'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export interface Counters {
  attempted: number;
  established: number;
  failed: Record<FailureReason, number>;
  /** errno codes behind 'other' failures, e.g. { EMFILE: 3 }. */
  otherCodes: Record<string, number>;
  /** Established connections the server closed (EOF or reset) before we did. */
  closedByServer: number;
  /** Connections open now. */
  open: number;
  /** Open connections whose message got no echo in the whole run, or had waited longer than the
   * timeout when the run ended (wrk's timeouts). */
  unanswered: number;
  /** Connections live at the start of the run that got at least one whole echo in it. */
  answered: number;
  messages: number;
  bytesSent: number;
  bytesReceived: number;
  bytesVerified: number;
  /** Messages with at least one byte different from what was sent (plus unexpected extra bytes). */
  mismatches: number;
  /** Length of the measured window in ms. */
  elapsedMs: number;
  /** CPU time (user + system) the load process(es) spent in the measured window, ms. */
  cpuMs: number;
}

export interface LoadStats extends Counters {
  connectTime: Histogram;
  latency: Histogram;
}

export interface LoadStatsJSON extends Counters {
  connectTime: HistogramJSON;
  latency: HistogramJSON;
}

export function newCounters(): Counters {
  return {
    attempted: 0,
    established: 0,
    failed: { refused: 0, timeout: 0, reset: 0, addrNotAvailable: 0, other: 0 },
    otherCodes: {},
    closedByServer: 0,
    open: 0,
    unanswered: 0,
    answered: 0,
    messages: 0,
    bytesSent: 0,
    bytesReceived: 0,
    bytesVerified: 0,
    mismatches: 0,
    elapsedMs: 0,
    cpuMs: 0,
  };
}

export function newStats(): LoadStats {
  return { ...newCounters(), connectTime: new Histogram(), latency: new Histogram() };
}

/** The counters alone (what a progress report carries). */
export function countersOf(s: Counters): Counters {
  return {
    attempted: s.attempted,
    established: s.established,
    failed: { ...s.failed },
    otherCodes: { ...s.otherCodes },
    closedByServer: s.closedByServer,
    open: s.open,
    unanswered: s.unanswered,
    answered: s.answered,
    messages: s.messages,
    bytesSent: s.bytesSent,
    bytesReceived: s.bytesReceived,
    bytesVerified: s.bytesVerified,
    mismatches: s.mismatches,
    elapsedMs: s.elapsedMs,
    cpuMs: s.cpuMs,
  };
}

export function failedTotal(s: Counters): number {
  let n = 0;
  for (const r of FAILURE_REASONS) n += s.failed[r];
  return n;
}

/** errno code -> failure reason. */
export function failureReason(code: string | undefined): FailureReason {
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ETIMEDOUT':
    case 'ETIMEOUT':
      return 'timeout';
    case 'ECONNRESET':
      return 'reset';
    case 'EADDRNOTAVAIL':
      return 'addrNotAvailable';
    default:
      return 'other';
  }
}

export function addCounters(into: Counters, from: Counters): void {
  into.attempted += from.attempted;
  into.established += from.established;
  for (const r of FAILURE_REASONS) into.failed[r] += from.failed[r];
  for (const [code, n] of Object.entries(from.otherCodes))
    into.otherCodes[code] = (into.otherCodes[code] ?? 0) + n;
  into.closedByServer += from.closedByServer;
  into.open += from.open;
  into.unanswered += from.unanswered;
  into.answered += from.answered ?? 0;
  into.messages += from.messages;
  into.bytesSent += from.bytesSent;
  into.bytesReceived += from.bytesReceived;
  into.bytesVerified += from.bytesVerified;
  into.mismatches += from.mismatches;
  into.elapsedMs = Math.max(into.elapsedMs, from.elapsedMs);
  into.cpuMs += from.cpuMs;
}

export function statsToJSON(s: LoadStats): LoadStatsJSON {
  return { ...countersOf(s), connectTime: s.connectTime.toJSON(), latency: s.latency.toJSON() };
}

export function statsFromJSON(j: LoadStatsJSON): LoadStats {
  const s = newStats();
  addCounters(s, j);
  s.connectTime = Histogram.fromJSON(j.connectTime);
  s.latency = Histogram.fromJSON(j.latency);
  return s;
}

export function mergeStats(list: readonly LoadStats[]): LoadStats {
  const out = newStats();
  for (const s of list) {
    addCounters(out, s);
    out.connectTime.merge(s.connectTime);
    out.latency.merge(s.latency);
  }
  return out;
}

/** Splits `total` connections into `parts` contiguous slices whose sizes differ by at most one. */
export function splitSlices(total: number, parts: number): Slice[] {
  const out: Slice[] = [];
  let first = 0;
  for (let i = 0; i < parts; i++) {
    const count = Math.floor(total / parts) + (i < total % parts ? 1 : 0);
    out.push({ first, count });
    first += count;
  }
  return out;
}
