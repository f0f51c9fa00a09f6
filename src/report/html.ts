// The bench report: one self-contained HTML file (inline CSS, charts as inline SVG, no script), so it
// opens anywhere, offline, and can be attached to an issue as it is.
import type { BenchModel } from './models.ts';
import { MULTIPLEXERS, type MultiplexerResult } from './multiplexers.ts';
import type { StepResult } from './runner.ts';
import { compact, lineChart, PALETTE, type Series } from './svg-chart.ts';

export interface BenchMeta {
  date: string;
  node: string;
  cpus: number;
  memoryBytes: number;
  kernel: string;
  durationMs: number;
  size: number;
  ladder: number[];
  wallMs: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function series(
  models: BenchModel[],
  results: StepResult[],
  pick: (r: StepResult) => number | null,
): Series[] {
  return models.map((m, i) => ({
    name: m.id,
    color: PALETTE[i % PALETTE.length],
    points: results
      .filter((r) => r.model === m.id)
      .map((r) => [r.connections, pick(r)] as [number, number | null]),
  }));
}

export function reportHtml(
  models: BenchModel[],
  results: StepResult[],
  multiplexers: MultiplexerResult[],
  meta: BenchMeta,
  /** Extra sections (the C1M ladder), already HTML. */
  extra = '',
): string {
  const charts = [
    lineChart(
      series(models, results, (r) => (r.messages > 0 ? r.msgsPerSec : 0)),
      {
        title: 'Echoed messages per second',
        yLabel: 'msgs/s',
      },
    ),
    lineChart(
      series(models, results, (r) => r.latencyUs?.p99 ?? null),
      {
        title: 'Round-trip latency, p99 (served messages)',
        yLabel: 'µs',
        yLog: true,
      },
    ),
    lineChart(
      series(models, results, (r) => r.serverMemPerConnBytes),
      {
        title: 'Server memory per connection (RSS growth)',
        yLabel: 'bytes',
        yLog: true,
      },
    ),
    lineChart(
      series(models, results, (r) => r.serverCpuUsPerMsg),
      {
        title: 'Server CPU per echoed message',
        yLabel: 'µs',
        yLog: true,
      },
    ),
    lineChart(
      series(models, results, (r) => r.established - r.failed * 0),
      {
        title: 'Connections established (by the kernel)',
        yLabel: 'connections',
      },
    ),
    lineChart(
      series(models, results, (r) => r.acceptQueuePeak),
      {
        title: 'Accept queue at its fullest (waiting for accept())',
        yLabel: 'connections',
      },
    ),
  ];
  if (multiplexers.length > 0) {
    charts.push(
      lineChart(
        MULTIPLEXERS.map((name, i) => ({
          name,
          color: PALETTE[(i + 4) % PALETTE.length],
          points: multiplexers
            .filter((r) => r.multiplexer === name)
            .map((r) => [r.idle, r.serverCpuUsPerMsg] as [number, number | null]),
        })).filter((series) => series.points.length > 0), // results without a row for it (an older run)
        { title: 'One busy client beside N idle: server CPU per message', yLabel: 'µs', yLog: true },
      ),
    );
  }
  const muxRows = multiplexers
    .map(
      (r) =>
        `<tr class="${r.status === 'ok' ? '' : 'bad'}"><td>${r.multiplexer}</td><td>${r.idle}</td><td>${r.held}</td><td>${compact(r.msgsPerSec)}</td><td>${r.serverCpuUsPerMsg === null ? '-' : r.serverCpuUsPerMsg.toFixed(2)}</td><td>${esc(r.status)}</td></tr>`,
    )
    .join('\n');
  const rows = results
    .map((r) => {
      const failed =
        r.failed > 0
          ? `${r.failed} (${Object.entries(r.failedBy)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')})`
          : '0';
      return `<tr class="${r.status === 'ok' ? '' : 'bad'}"><td>${esc(r.model)}</td><td>${r.connections}</td><td>${r.established}</td><td>${esc(failed)}</td><td>${r.closedByServer}</td><td>${compact(r.msgsPerSec)}</td><td>${r.latencyUs ? r.latencyUs.p50 : '-'}</td><td>${r.latencyUs ? r.latencyUs.p99 : '-'}</td><td>${r.acceptQueuePeak}${r.backlog ? ` / ${r.backlog}` : ''}</td><td>${r.serverCpuUsPerMsg === null ? '-' : r.serverCpuUsPerMsg.toFixed(2)}</td><td>${r.serverMemPerConnBytes === null ? '-' : Math.round(r.serverMemPerConnBytes)}</td><td>${r.serverProcesses}</td><td>${r.mismatches}</td><td>${esc(r.status)}</td></tr>`;
    })
    .join('\n');
  const legend = models.map((m) => `<li><b>${esc(m.id)}</b>: ${esc(m.note)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>c10k bench — ${esc(meta.date)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1180px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } .meta { color: #666; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 12px; margin: 16px 0; }
svg.chart { background: #fafafa; border: 1px solid #ddd; border-radius: 4px; max-width: 100%; height: auto; }
svg .title { font-weight: 600; font-size: 13px; } svg .tick, svg .legend, svg .axis { font-size: 11px; fill: #444; }
svg .grid { stroke: #e4e4e4; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; } th, td { border-bottom: 1px solid #e4e4e4; padding: 4px 6px; text-align: right; }
th:first-child, td:first-child, td:last-child, th:last-child { text-align: left; } tr.bad td { background: #fff3f0; }
</style></head><body>
<h1>c10k bench: every I/O model, the same load</h1>
<p class="meta">${esc(meta.date)} · Node ${esc(meta.node)} · ${meta.cpus} cores · ${(meta.memoryBytes / 2 ** 30).toFixed(0)} GiB · Linux ${esc(meta.kernel)} ·
closed-loop echo, ${meta.size}-byte messages, ${(meta.durationMs / 1000).toFixed(1)} s per step · ladder ${meta.ladder.join(', ')} · took ${(meta.wallMs / 1000).toFixed(0)} s</p>
<p>Each step starts the server alone, opens the connections with <code>c10k load</code> (its own processes), runs them
in a closed loop (send, wait for the echo, repeat) and samples the server's processes and its listening socket.
A bounded model serves as many clients as it has workers; the others complete their handshake with the kernel and
wait in the accept queue (up to the backlog), then time out: that is its result, not a failure of the bench.</p>
<ul>${legend}</ul>
<div class="charts">${charts.join('\n')}</div>
<table><thead><tr><th>model</th><th>conns</th><th>established</th><th>failed</th><th>closed by server</th><th>msgs/s</th><th>p50 µs</th><th>p99 µs</th><th>accept queue</th><th>CPU µs/msg</th><th>bytes/conn</th><th>processes</th><th>mismatches</th><th>status</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${
  multiplexers.length > 0
    ? `<h2>select, poll, epoll: the cost of watching idle connections</h2>
<p>One client echoes as fast as it can while N other connections sit idle on the same syscall reactor. select and poll
hand the kernel every descriptor on every call and scan them all again; epoll returns only the ready ones. select
cannot watch descriptors above 1023 at all: the reactor turns those clients away (held &lt; N).</p>
<table><thead><tr><th>multiplexer</th><th>idle</th><th>held</th><th>msgs/s</th><th>CPU µs/msg</th><th>status</th></tr></thead>
<tbody>${muxRows}</tbody></table>`
    : ''
}
${extra}
</body></html>
`;
}
