// The bench report in a real browser: every chart lays out, with every series drawn.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { reportHtml } from '../../src/report/html.ts';
import { BENCH_MODELS } from '../../src/report/models.ts';
import type { StepResult } from '../../src/report/runner.ts';
import { browserUnavailable, launchBrowser } from '../helpers/browser.ts';

function fakeResults(): StepResult[] {
  const out: StepResult[] = [];
  for (const [i, m] of BENCH_MODELS.slice(0, 3).entries()) {
    for (const connections of [100, 1000, 10000]) {
      out.push({
        model: m.id,
        connections,
        status: 'ok',
        established: connections,
        failed: 0,
        failedBy: {},
        closedByServer: 0,
        messages: 1000 * (i + 1),
        msgsPerSec: 10_000 * (i + 1) + connections,
        mismatches: 0,
        latencyUs: { p50: 100, p90: 200, p99: 300 + connections / 10, p999: 900, max: 1000 },
        serverCpuUsPerMsg: 3 + i,
        serverCpuMs: 100,
        serverPeakRssBytes: 1 << 26,
        serverMemPerConnBytes: 500 * (i + 1),
        serverProcesses: 1,
        acceptQueuePeak: i === 0 ? connections - 1 : 0,
        backlog: 4096,
        loadCpuUsPerMsg: 2,
        wallMs: 1000,
      });
    }
  }
  return out;
}

test('report.html: every chart renders in Chromium with non-empty series', async (t) => {
  const why = browserUnavailable();
  if (why) {
    t.skip(why);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'c10k-report-'));
  const file = join(dir, 'report.html');
  const meta = {
    date: 'today',
    node: '24',
    cpus: 2,
    memoryBytes: 2 ** 34,
    kernel: 'x',
    durationMs: 1000,
    size: 64,
    ladder: [100, 1000, 10000],
    wallMs: 1,
  };
  const mux = ['select', 'poll', 'epoll'].flatMap((multiplexer, i) =>
    [100, 1000].map((idle) => ({
      multiplexer: multiplexer as 'select',
      idle,
      held: idle,
      messages: 10,
      msgsPerSec: 10,
      serverCpuUsPerMsg: 2 + i + idle / 1000,
      status: 'ok',
    })),
  );
  writeFileSync(file, reportHtml(BENCH_MODELS.slice(0, 3), fakeResults(), mux, meta));
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(file).href);
    const charts = await page.$$eval('svg.chart', (svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        const series = [...svg.querySelectorAll('g.series')].map((g) => ({
          name: g.getAttribute('data-series'),
          points: g.querySelectorAll('circle').length,
          drawn:
            (g.querySelector('path') as unknown as { getTotalLength(): number } | null)?.getTotalLength() ??
            0,
        }));
        return { title: svg.getAttribute('aria-label'), width: box.width, height: box.height, series };
      }),
    );
    assert.equal(charts.length, 7, 'six model charts and the multiplexer chart');
    for (const chart of charts) {
      assert.ok(chart.width > 200 && chart.height > 100, `${chart.title} has no size`);
      assert.ok(chart.series.length >= 3, `${chart.title} lost series`);
      for (const s of chart.series) {
        assert.ok(s.points > 0, `${chart.title}: ${s.name} has no points`);
        if (s.points > 1) assert.ok(s.drawn > 10, `${chart.title}: ${s.name} line not drawn`);
      }
    }
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
