// report.ts — a finished run as text (for people) or JSON (for the bench and scripts), and the live
// progress line.
//
// Why it is shaped this way: the JSON carries the summaries *and* the raw histograms so that a bench
// can merge several runs exactly later; the text keeps one topic per line, aligned, figures only.
import type { HistogramSummary } from './histogram.ts';
import type { LoadResult, Phase } from './run.ts';
import { type Counters, DEFAULT_TIMEOUT_MS, FAILURE_REASONS, failedTotal } from './stats.ts';

export function reportJSON(r: LoadResult) {
  const { options: o, stats: s } = r;
  const seconds = s.elapsedMs / 1000;
  return {
    target: { host: o.host, port: o.port },
    /** Stopped early (Ctrl-C): every figure covers the shorter run. */
    interrupted: r.interrupted === true,
    engine: o.engine,
    tls: o.tls === true,
    processes: o.processes,
    sources: o.sources,
    protocol: o.protocol,
    size: o.size,
    mode: o.hold ? 'hold' : o.rate > 0 ? 'open-loop' : 'closed-loop',
    rate: o.rate > 0 ? o.rate : null,
    connections: {
      requested: o.connections,
      attempted: s.attempted,
      established: s.established,
      failed: { ...s.failed, total: failedTotal(s) },
      otherCodes: s.otherCodes,
      closedByServer: s.closedByServer,
      /** Open but waiting at the end: no echo in the whole run, or none for timeoutMs (wrk's timeouts). */
      unanswered: s.unanswered,
      timeoutMs: o.timeout ?? DEFAULT_TIMEOUT_MS,
      connectPhaseMs: round(r.connectPhaseMs, 1),
    },
    durationMs: round(s.elapsedMs, 1),
    messages: s.messages,
    msgsPerSec: seconds > 0 ? Math.round(s.messages / seconds) : 0,
    bytesSent: s.bytesSent,
    bytesReceived: s.bytesReceived,
    bytesPerSec: seconds > 0 ? Math.round(s.bytesReceived / seconds) : 0,
    bytesVerified: s.bytesVerified,
    mismatches: s.mismatches,
    /** Load generator CPU time in the window (all processes), and per message. */
    cpuMs: round(s.cpuMs, 1),
    cpuUsPerMsg: s.messages > 0 ? round((s.cpuMs * 1000) / s.messages, 3) : null,
    connectTimeUs: s.connectTime.summary(),
    latencyUs: s.latency.summary(),
    histograms: { connectTimeUs: s.connectTime.toJSON(), latencyUs: s.latency.toJSON() },
  };
}

export function reportText(r: LoadResult): string {
  const j = reportJSON(r);
  const c = j.connections;
  const lines: string[] = [];
  const mode = j.mode === 'open-loop' ? `open loop at ${int(j.rate!)} msgs/s` : j.mode.replace('-', ' ');
  lines.push(
    `c10k load ${j.target.host}:${j.target.port}  ${j.protocol} ${j.size} B  ${mode}  ` +
      `engine ${j.engine}${j.tls ? ' (TLS)' : ''}, ${j.processes} process${j.processes > 1 ? 'es' : ''}` +
      (j.sources.length > 0
        ? `, ${j.sources.length} source address${j.sources.length > 1 ? 'es' : ''}`
        : '') +
      (j.interrupted ? '  INTERRUPTED (partial figures)' : ''),
  );
  lines.push(
    `connections  ${int(c.established)} established of ${int(c.attempted)} attempted in ${secs(c.connectPhaseMs)}` +
      `  failed ${int(c.failed.total)}  closed by server ${int(c.closedByServer)}`,
  );
  if (c.failed.total > 0) {
    const other = Object.entries(c.otherCodes)
      .map(([code, n]) => `${code} ${int(n)}`)
      .join(', ');
    lines.push(
      `  failed       ${FAILURE_REASONS.map((k) => `${LABELS[k]} ${int(c.failed[k])}`).join('  ')}` +
        (other ? ` (${other})` : ''),
    );
  }
  if (c.unanswered > 0) {
    lines.push(
      `  unanswered   ${int(c.unanswered)} connection${c.unanswered > 1 ? 's' : ''} waiting at the end with no echo in the whole run or for ${secs(c.timeoutMs)}`,
    );
  }
  if (j.mode !== 'hold') {
    lines.push(
      `traffic      ${int(j.msgsPerSec)} msgs/s  ${rateBytes(j.bytesPerSec)}  ` +
        `(${int(j.messages)} msgs in ${secs(j.durationMs)}; client CPU ${secs(j.cpuMs)}` +
        `${j.cpuUsPerMsg !== null ? `, ${j.cpuUsPerMsg} µs/msg` : ''})`,
    );
    lines.push(`verified     ${int(j.bytesVerified)} bytes  ${int(j.mismatches)} mismatches`);
  } else {
    lines.push(`held         ${secs(j.durationMs)}`);
  }
  lines.push(`             ${['p50', 'p90', 'p99', 'p99.9', 'max'].map((h) => h.padStart(9)).join('')}`);
  lines.push(`connect time ${row(j.connectTimeUs)}`);
  if (j.mode !== 'hold')
    lines.push(
      `latency      ${row(j.latencyUs)}${j.mode === 'open-loop' ? '  (from intended send times)' : ''}`,
    );
  return lines.join('\n') + '\n';
}

const LABELS: Record<(typeof FAILURE_REASONS)[number], string> = {
  refused: 'refused',
  timeout: 'timeout',
  reset: 'reset',
  addrNotAvailable: 'addr-not-available',
  other: 'other',
};

/** The live progress line (without the carriage return). */
export function progressLine(c: Counters, phase: Phase, msgsPerSec: number): string {
  const errors = failedTotal(c) + c.closedByServer + c.mismatches;
  return (
    `${phase.padEnd(10)} open ${int(c.open)}/${int(c.attempted)}  ${int(Math.round(msgsPerSec))} msgs/s  ` +
    `errors ${int(errors)}${c.mismatches > 0 ? ` (${int(c.mismatches)} mismatches)` : ''}`
  );
}

function row(h: HistogramSummary): string {
  if (h.count === 0) return '        -'.repeat(5);
  return [h.p50, h.p90, h.p99, h.p999, h.max].map((v) => us(v).padStart(9)).join('');
}

/** Microseconds, human-sized. */
export function us(v: number): string {
  if (v < 1000) return `${Math.round(v)}µs`;
  if (v < 1_000_000) return `${round(v / 1000, v < 10_000 ? 2 : 1)}ms`;
  return `${round(v / 1_000_000, 2)}s`;
}

function secs(ms: number): string {
  return `${round(ms / 1000, 2)} s`;
}

function rateBytes(bps: number): string {
  if (bps >= 1e9) return `${round(bps / 1e9, 2)} GB/s`;
  if (bps >= 1e6) return `${round(bps / 1e6, 2)} MB/s`;
  if (bps >= 1e3) return `${round(bps / 1e3, 2)} kB/s`;
  return `${bps} B/s`;
}

function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
