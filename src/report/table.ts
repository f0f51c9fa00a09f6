// The summary table printed at the end of `c10k bench`: one row per model and connection count.
import type { MultiplexerResult } from './multiplexers.ts';
import type { StepResult } from './runner.ts';
import { compact } from './svg-chart.ts';

const fmtUs = (us: number | undefined) =>
  us === undefined ? '-' : us >= 1000 ? `${(us / 1000).toFixed(1)}ms` : `${us}us`;

export function summaryTable(results: StepResult[]): string {
  const header = [
    'model',
    'conns',
    'established',
    'failed',
    'msgs/s',
    'p99',
    'accept q',
    'cpu/msg',
    'mem/conn',
    'status',
  ];
  const rows = results.map((r) => [
    r.model,
    String(r.connections),
    String(r.established),
    r.failed > 0
      ? `${r.failed} (${Object.entries(r.failedBy)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')})`
      : '0',
    r.messages > 0 ? compact(r.msgsPerSec) : '0',
    fmtUs(r.latencyUs?.p99),
    r.backlog > 0 ? `${r.acceptQueuePeak}/${r.backlog}` : String(r.acceptQueuePeak),
    r.serverCpuUsPerMsg === null ? '-' : `${r.serverCpuUsPerMsg.toFixed(1)}us`,
    r.serverMemPerConnBytes === null ? '-' : `${compact(r.serverMemPerConnBytes)}B`,
    r.status === 'ok' ? (r.closedByServer > 0 ? `ok, ${r.closedByServer} closed by server` : 'ok') : r.status,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** select / poll / epoll: server CPU per message of one busy client as idle connections grow. */
export function multiplexerTable(results: MultiplexerResult[]): string {
  const idles = [...new Set(results.map((r) => r.idle))];
  const names = [...new Set(results.map((r) => r.multiplexer))];
  const header = ['1 busy client +', ...idles.map((n) => `${compact(n)} idle`)];
  const rows = names.map((name) => [
    name,
    ...idles.map((idle) => {
      const r = results.find((x) => x.multiplexer === name && x.idle === idle);
      if (!r || r.serverCpuUsPerMsg === null) return r?.status ?? '-';
      const held = r.held < r.idle ? ` (held ${r.held})` : '';
      return `${r.serverCpuUsPerMsg.toFixed(1)}us/msg${held}`;
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [
    'server CPU per message: one busy client beside idle connections',
    line(header),
    ...rows.map(line),
  ].join('\n');
}
