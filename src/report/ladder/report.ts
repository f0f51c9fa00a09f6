// The ladder's output: progress lines on stderr, a table on stdout, ladder.json, and a ladder section
// in report.html (added to the showdown's report when results.json is there, else a page of its own).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { reportHtml } from '../html.ts';
import { kernelBlockers, readLimits } from './plan.ts';
import { type LadderOptions, type RungResult, runLadder } from './run.ts';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const kb = (b: number | null) => (b === null ? '-' : (b / 1024).toFixed(2));

export function ladderTable(rungs: RungResult[]): string {
  const head = [
    'conns',
    'status',
    'established',
    'echoed',
    'connect s',
    'conn/s',
    'p50 µs',
    'p99 µs',
    'server KB/conn',
    'server RSS KB/conn',
    'load KB/conn',
    'kernel KB/conn',
    'inspect s',
    'owned',
    'workers',
    'load procs',
    'sources',
  ];
  const rows = rungs.map((r) => [
    r.connections.toLocaleString('en-US'),
    r.status,
    r.established.toLocaleString('en-US'),
    r.echoed.toLocaleString('en-US'),
    (r.connectMs / 1000).toFixed(1),
    String(r.connectsPerSec),
    String(r.echoP50Us ?? '-'),
    String(r.echoP99Us ?? '-'),
    kb(r.serverAnonBytesPerConn),
    kb(r.serverBytesPerConn),
    kb(r.loadBytesPerConn),
    kb(r.kernelSlabBytesPerConn),
    r.inspectMs === null ? '-' : (r.inspectMs / 1000).toFixed(2),
    r.inspectOwned === null ? '-' : r.inspectOwned.toLocaleString('en-US'),
    String(r.plan.workers),
    String(r.plan.loadProcesses),
    String(r.plan.sources),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(w[i])).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

export function ladderSection(rungs: RungResult[]): string {
  const rows = rungs
    .map(
      (r) =>
        `<tr><td>${r.connections.toLocaleString('en-US')}</td><td>${r.status}</td><td>${r.established.toLocaleString('en-US')}</td><td>${r.echoed.toLocaleString('en-US')}</td><td>${(r.connectMs / 1000).toFixed(1)}</td><td>${r.echoP50Us ?? '-'}</td><td>${r.echoP99Us ?? '-'}</td><td>${(r.serverIdleBaselineBytes / 2 ** 20).toFixed(0)}</td><td>${kb(r.serverAnonBytesPerConn)}</td><td>${kb(r.serverBytesPerConn)}</td><td>${kb(r.loadBytesPerConn)}</td><td>${kb(r.kernelSlabBytesPerConn)}</td><td>${kb(r.kernelTcpSlabBytesPerConn)}</td><td>${r.inspectMs === null ? '-' : (r.inspectMs / 1000).toFixed(2)}</td><td>${r.inspectOwned === null ? '-' : r.inspectOwned.toLocaleString('en-US')}</td><td>${r.plan.workers} / ${r.plan.loadProcesses} / ${r.plan.sources}</td><td>${esc(r.reason)}</td></tr>`,
    )
    .join('\n');
  return `<h2>The ladder: 10K -> 100K -> 1M concurrent connections on this box</h2>
<p>Each rung: one multi-reactor server (workers sized from the open-files limit, SO_REUSEPORT), the load over
processes and source addresses 127.0.0.2..; every connection held idle, then each echoes a verified message.
Memory per connection: the server's private memory (smaps_rollup Anonymous: heap, native allocations, buffers)
above its workers' idle baseline, and its RSS above the same (which counts the Node code each of the workers maps
again in each), load processes' RSS, kernel slab (/proc/meminfo
Slab; the TCP caches from /proc/slabinfo), all divided by the connections established.</p>
<table><thead><tr><th>conns</th><th>status</th><th>established</th><th>echoed</th><th>connect s</th><th>echo p50 µs</th><th>echo p99 µs</th><th>server idle MiB</th><th>server KB/conn (private)</th><th>server RSS KB/conn</th><th>load KB/conn</th><th>kernel slab KB/conn</th><th>TCP caches KB/conn</th><th>inspect --json s</th><th>connections inspect found owned</th><th>workers / load / sources</th><th>reason</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

export async function runLadderCommand(o: LadderOptions & { outDir: string }): Promise<number> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const limits = readLimits();
  const top = Math.max(...o.rungs);
  const blockers = kernelBlockers(top, limits);
  say(
    `limits: open files ${limits.nofile}, fs.nr_open ${limits.nrOpen}, fs.file-max ${limits.fileMax}, ports ${limits.portRange.join('-')}, somaxconn ${limits.somaxconn}, tcp_mem ${limits.tcpMem.join(' ')}, MemAvailable ${(limits.memAvailableBytes / 2 ** 30).toFixed(1)} GiB`,
  );
  for (const b of blockers)
    say(
      `would stop the climb at ${top}: ${b.setting} (${b.reason}): have ${b.have}, need ${b.need}; to raise: ${b.fix}`,
    );
  const t0 = performance.now();
  const rungs = await runLadder({ ...o, onLine: say });
  const wallMs = Math.round(performance.now() - t0);
  const dir = resolve(o.outDir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'ladder.json'),
    JSON.stringify({ date: new Date().toISOString(), limits, wallMs, rungs }, null, 2) + '\n',
  );
  const results = join(dir, 'results.json');
  const html = join(dir, 'report.html');
  if (existsSync(results)) {
    const j = JSON.parse(readFileSync(results, 'utf8'));
    writeFileSync(html, reportHtml(j.models, j.results, j.multiplexers ?? [], j.meta, ladderSection(rungs)));
  } else {
    writeFileSync(
      html,
      `<!doctype html><html><head><meta charset="utf-8"><title>c10k ladder</title></head><body>\n${ladderSection(rungs)}\n</body></html>\n`,
    );
  }
  process.stdout.write(
    `${ladderTable(rungs)}\n\nclimb ${(wallMs / 1000).toFixed(1)} s\nreport: ${html}\nresults: ${join(dir, 'ladder.json')}\n`,
  );
  const last = rungs[rungs.length - 1];
  if (rungs.length < o.rungs.length || last.status !== 'ok') {
    say(
      `c10k bench: highest rung reached whole: ${rungs.filter((r) => r.status === 'ok').pop()?.connections ?? 'none'}; ${last.connections}: ${last.status} (${last.reason})`,
    );
    return 1;
  }
  return 0;
}
