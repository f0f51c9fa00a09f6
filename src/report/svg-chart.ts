// Line charts as SVG text, drawn here rather than in a browser: the report is one self-contained file
// that shows the same with scripts off, and a test can check every chart without a browser.
// x is logarithmic (connection counts span decades); y is linear or logarithmic per chart.

export interface Series {
  name: string;
  color: string;
  /** [x, y] points; y null where the model has no figure (it failed there). */
  points: [number, number | null][];
}

export interface ChartOptions {
  title: string;
  yLabel: string;
  yLog?: boolean;
  width?: number;
  height?: number;
  format?: (v: number) => string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

export function lineChart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 560;
  const H = o.height ?? 300;
  const m = { left: 64, right: 172, top: 34, bottom: 40 };
  const fmt = o.format ?? compact;
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const ys = series
    .flatMap((s) => s.points.map((p) => p[1]))
    .filter((y): y is number => y !== null && Number.isFinite(y));
  const yLog = (o.yLog ?? false) && ys.every((y) => y > 0);
  let yMin = ys.length > 0 ? Math.min(...ys) : 0;
  let yMax = ys.length > 0 ? Math.max(...ys) : 1;
  if (!yLog) yMin = Math.min(0, yMin);
  if (yMax === yMin) yMax = yMin + 1;
  const lx = (x: number) => Math.log10(Math.max(x, 1));
  const ly = (y: number) => (yLog ? Math.log10(y) : y);
  const x0 = lx(xs[0] ?? 1);
  const x1 = Math.max(lx(xs.at(-1) ?? 10), x0 + 1e-9);
  const y0 = ly(yLog ? yMin / 1.2 : yMin);
  const y1 = ly(yLog ? yMax * 1.2 : yMax * 1.08);
  const px = (x: number) => m.left + ((lx(x) - x0) / (x1 - x0 || 1)) * (W - m.left - m.right);
  const py = (y: number) => H - m.bottom - ((ly(y) - y0) / (y1 - y0 || 1)) * (H - m.top - m.bottom);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">`,
  );
  out.push(`<text x="${m.left}" y="20" class="title">${esc(o.title)}</text>`);
  // y grid: 5 ticks, linear or by decade
  const ticks: number[] = [];
  if (yLog) {
    for (let e = Math.floor(y0); e <= Math.ceil(y1); e++) if (e >= y0 && e <= y1) ticks.push(10 ** e);
  } else {
    const step = niceStep((y1 - yMin) / 4);
    for (let t = Math.ceil(yMin / step) * step; t <= y1 + 1e-9; t += step) ticks.push(t);
  }
  for (const t of ticks) {
    const y = py(t).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y}" y2="${y}" class="grid"/>`);
    out.push(
      `<text x="${m.left - 6}" y="${y}" class="tick" text-anchor="end" dominant-baseline="middle">${esc(fmt(t))}</text>`,
    );
  }
  for (const x of xs) {
    const X = px(x).toFixed(1);
    out.push(`<line x1="${X}" x2="${X}" y1="${m.top}" y2="${H - m.bottom}" class="grid"/>`);
    out.push(
      `<text x="${X}" y="${H - m.bottom + 16}" class="tick" text-anchor="middle">${esc(compact(x))}</text>`,
    );
  }
  out.push(
    `<text x="${(m.left + W - m.right) / 2}" y="${H - 6}" class="axis" text-anchor="middle">connections</text>`,
  );
  out.push(
    `<text x="14" y="${(m.top + H - m.bottom) / 2}" class="axis" text-anchor="middle" transform="rotate(-90 14 ${(m.top + H - m.bottom) / 2})">${esc(o.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const pts = s.points.filter(
      (p): p is [number, number] => p[1] !== null && Number.isFinite(p[1]) && (!yLog || p[1] > 0),
    );
    const d = pts
      .map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`)
      .join(' ');
    out.push(`<g class="series" data-series="${esc(s.name)}" data-points="${pts.length}">`);
    if (pts.length > 1) out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const p of pts) {
      out.push(
        `<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${s.color}"><title>${esc(`${s.name}: ${fmt(p[1])} at ${p[0]}`)}</title></circle>`,
      );
    }
    const ly0 = m.top + 4 + i * 16;
    out.push(`<rect x="${W - m.right + 10}" y="${ly0}" width="10" height="10" fill="${s.color}"/>`);
    out.push(`<text x="${W - m.right + 24}" y="${ly0 + 9}" class="legend">${esc(s.name)}</text>`);
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('\n');
}

/** A round step (1, 2 or 5 times a power of ten) near `raw`, for axis ticks people can read. */
function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];
