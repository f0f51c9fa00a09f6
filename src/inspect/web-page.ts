// The live inspector page, as one self-contained HTML document (inline CSS and JS, no CDN, no build
// step), served by web.ts. It listens to /events (server-sent events: one 'history' then a 'frame' every
// interval), draws the listening socket's pipeline (SYN queue -> accept queue -> accept() -> connected
// sockets), the processes' fds and memory, the server's own counters when given, and four SVG line
// charts drawn by the small functions below. All text from the kernel (process names...) goes through
// textContent, never innerHTML. Stable ids/data-testid attributes are for the Playwright test.
export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>c10k inspect</title>
<style>
:root{--bg:#0f1419;--panel:#182028;--line:#2b3845;--text:#d8e0e8;--dim:#8797a8;--acc:#4fb3ff;--ok:#5fd38d;--warn:#ffb547;--bad:#ff6b6b}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,sans-serif;background:var(--bg);color:var(--text)}
header{display:flex;gap:16px;align-items:baseline;padding:10px 18px;border-bottom:1px solid var(--line)}
header h1{font-size:18px;margin:0}header .dim{color:var(--dim)}#live{font-weight:600}
main{padding:14px 18px;display:grid;gap:14px}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.panel h2{margin:0 0 8px;font-size:13px;text-transform:uppercase;letter-spacing:.05em;color:var(--dim)}
.pipe{display:flex;align-items:stretch;gap:0;flex-wrap:wrap}
.stage{flex:1;min-width:150px;background:#1f2a35;border:1px solid var(--line);border-radius:6px;padding:10px}
.stage .big{font-size:28px;font-weight:700;font-variant-numeric:tabular-nums}
.stage .sub{color:var(--dim);font-size:12px}
.arrow{align-self:center;color:var(--dim);font-size:22px;padding:0 6px}
.bar{height:8px;background:#0b1016;border-radius:4px;overflow:hidden;margin:6px 0}
.bar>div{height:100%;background:var(--acc)}.bar.warn>div{background:var(--warn)}.bar.bad>div{background:var(--bad)}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid var(--line);font-size:13px}th{color:var(--dim);font-weight:500}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:14px}
svg.chart{width:100%;height:170px;display:block}
svg.chart .grid{stroke:var(--line);stroke-width:1}svg.chart text{fill:var(--dim);font-size:10px}
svg.chart path{fill:none;stroke-width:2}.s0{stroke:var(--acc)}.s1{stroke:var(--warn);stroke-dasharray:4 3}.s2{stroke:var(--ok)}
.legend span{margin-right:12px;font-size:12px;color:var(--dim)}.legend i{display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}
ul{margin:4px 0;padding-left:18px;color:var(--dim);font-size:12px}.note{color:var(--dim);font-size:12px}
.hidden{display:none}
</style></head><body>
<header><h1>c10k inspect</h1><span id="target" class="dim"></span><span id="live">connecting…</span>
<span id="time" class="dim"></span><span id="source" class="dim"></span></header>
<main>
<section class="panel"><h2>listening socket</h2>
<div class="pipe">
<div class="stage"><div class="sub">SYN queue (half-open)</div><div class="big" id="syn" data-testid="syn">–</div><div class="sub">SYN received, SYN-ACK sent</div></div>
<div class="arrow">→</div>
<div class="stage"><div class="sub">accept queue / backlog</div><div class="big"><span id="aq" data-testid="accept-queue">–</span><span class="sub" id="backlog"></span></div>
<div class="bar" id="aqbar"><div style="width:0"></div></div><div class="sub" id="overflow"></div></div>
<div class="arrow">→</div>
<div class="stage"><div class="sub">accept()</div><div class="big" id="owners">–</div><div class="sub">owner pid/fd of the listening socket</div></div>
<div class="arrow">→</div>
<div class="stage"><div class="sub">connected sockets</div><div class="big" id="conns" data-testid="connections">–</div><div class="sub" id="states"></div></div>
</div></section>
<section class="panel" id="server-panel"><h2>the server's own counters</h2><div id="server"></div></section>
<section class="panel"><h2>processes</h2><table><thead><tr><th>pid</th><th>role</th><th>command</th><th>fds / limit</th><th></th><th>RSS</th><th>connections</th><th>memory/conn</th></tr></thead><tbody id="procs"></tbody></table>
<div class="note" id="mem"></div></section>
<section class="charts">
<div class="panel"><h2>connections</h2><svg class="chart" id="c-conns" data-testid="chart-connections"></svg></div>
<div class="panel"><h2>accept queue</h2><svg class="chart" id="c-aq" data-testid="chart-accept-queue"></svg><div class="legend"><span><i style="background:var(--acc)"></i>length</span><span><i style="background:var(--warn)"></i><span id="aq-backlog">backlog</span></span></div></div>
<div class="panel"><h2 id="rate-title">messages/s</h2><svg class="chart" id="c-rate" data-testid="chart-rate"></svg><div class="note" id="rate-note"></div></div>
<div class="panel"><h2>memory per connection</h2><svg class="chart" id="c-mem" data-testid="chart-memory"></svg><div class="legend"><span><i style="background:var(--acc)"></i>process RSS / connections</span><span><i style="background:var(--ok)"></i>kernel socket buffers</span></div></div>
</section>
<section class="panel"><h2>what this means</h2><ul id="explain"></ul><ul id="missing"></ul></section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const NS = 'http://www.w3.org/2000/svg';
let frames = [], windowMs = 300000, lastAt = 0;
function h(tag, attrs, ...kids) {
  const e = tag.startsWith('svg:') ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
}
function num(n) { return n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'); }
function bytes(n) {
  if (n === null || n === undefined) return '–';
  if (n < 1024) return Math.round(n) + ' B';
  if (n < 1048576) return (n / 1024).toFixed(1) + ' KB';
  if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MB';
  return (n / 1073741824).toFixed(2) + ' GB';
}
function nice(max) {
  if (!(max > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(max))), m = max / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}
// series: [{cls, values: [[t, v|null]...]}]; draws into an <svg> with a 0..nice(max) y axis, last windowMs on x
function chart(svg, series, fmt) {
  const W = 480, H = 170, L = 54, R = 8, T = 8, B = 20;
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  svg.replaceChildren();
  const now = frames.length ? frames[frames.length - 1].t : Date.now(), t0 = now - windowMs;
  let max = 0;
  for (const s of series) for (const [t, v] of s.values) if (t >= t0 && v !== null && v > max) max = v;
  const top = nice(max);
  const x = (t) => L + ((t - t0) / windowMs) * (W - L - R), y = (v) => T + (1 - v / top) * (H - T - B);
  for (const f of [0, 0.5, 1]) {
    svg.append(h('svg:line', { class: 'grid', x1: L, x2: W - R, y1: y(top * f), y2: y(top * f) }));
    svg.append(h('svg:text', { x: L - 4, y: y(top * f) + 3, 'text-anchor': 'end' }, fmt(top * f)));
  }
  svg.append(h('svg:text', { x: L, y: H - 4 }, '-' + Math.round(windowMs / 60000) + ' min'));
  svg.append(h('svg:text', { x: W - R, y: H - 4, 'text-anchor': 'end' }, 'now'));
  series.forEach((s, i) => {
    let d = '', pen = false, n = 0;
    for (const [t, v] of s.values) {
      if (t < t0 || v === null || v === undefined) { pen = false; continue; }
      d += (pen ? 'L' : 'M') + x(t).toFixed(1) + ' ' + y(v).toFixed(1) + ' ';
      pen = true; n++;
    }
    svg.append(h('svg:path', { class: s.cls || 's' + i, d: d.trim(), 'data-points': n }));
  });
}
function bar(el, used, cap) {
  const f = cap ? Math.min(1, used / cap) : 0;
  el.className = 'bar' + (f >= 1 ? ' bad' : f > 0.8 ? ' warn' : '');
  el.firstElementChild.style.width = (100 * f).toFixed(1) + '%';
}
function render() {
  const f = frames[frames.length - 1];
  if (!f) return;
  const first = frames[0];
  $('target').textContent = f.target;
  $('time').textContent = new Date(f.t).toLocaleTimeString();
  $('source').textContent = 'source ' + f.source + ', ' + f.elapsedMs + ' ms per refresh';
  $('syn').textContent = num(f.synRecv);
  $('aq').textContent = num(f.acceptQueue);
  $('backlog').textContent = f.backlog === null ? ' / ?' : ' / ' + num(f.backlog);
  bar($('aqbar'), f.acceptQueue, f.backlog);
  $('overflow').textContent = 'ListenOverflows ' + num(f.overflows) + ' (+' + num(f.overflows - first.overflows) +
    ' here), ListenDrops ' + num(f.drops) + ' (machine-wide)';
  $('owners').textContent = f.listeners.map((l) => l.owners || '?').join(' ') || 'no listener';
  $('conns').textContent = num(f.connections);
  $('states').textContent = Object.entries(f.states).map(([k, v]) => k + ' ' + num(v)).join(', ') || 'none';
  const rows = f.processes.map((p) => {
    const b = h('div', { class: 'bar' }, h('div', {}));
    bar(b, p.fds || 0, p.fdLimit);
    return h('tr', { 'data-pid': p.pid }, h('td', {}, p.pid), h('td', {}, p.role), h('td', {}, p.comm),
      h('td', {}, num(p.fds) + ' / ' + (p.fdLimit === null ? 'unlimited' : num(p.fdLimit))), h('td', { style: 'width:120px' }, b),
      h('td', {}, bytes(p.rss)), h('td', {}, num(p.connections)), h('td', {}, bytes(p.memPerConn)));
  });
  $('procs').replaceChildren(...rows);
  $('mem').textContent = f.memPerConn === null ? 'no connections held' :
    'memory per connection: ' + bytes(f.memPerConn) + ' process RSS (includes the runtime baseline), ' +
    bytes(f.kernelMemPerConn) + ' kernel socket buffers';
  const s = f.server;
  $('server-panel').classList.toggle('hidden', !s && !f.serverError);
  if (s) {
    const closed = Object.entries(s.closed).filter(([, n]) => n > 0).map(([k, n]) => k + ' ' + num(n)).join(', ');
    const t = h('table', {}, h('tr', {}, ...['worker pid[/thread]', 'active (server)', 'connections (kernel)', 'accepted'].map((c) => h('th', {}, c))),
      ...s.workers.map((w) => h('tr', {}, h('td', {}, w.thread === undefined ? w.pid : w.pid + '/' + w.thread), h('td', {}, num(w.active)), h('td', {}, num(w.kernelConnections)), h('td', {}, num(w.accepted)))));
    $('server').replaceChildren(
      h('div', {}, s.model + ' (' + s.backend + '): ', h('b', { id: 'srv-active', 'data-testid': 'server-active' }, num(s.active)),
        ' active, ', num(s.accepted), ' accepted, ', num(s.rejected), ' rejected, messages in ',
        h('b', { id: 'srv-msgs', 'data-testid': 'server-messages' }, num(s.messagesIn)), ' / out ', num(s.messagesOut),
        ', bytes in ', bytes(s.bytesIn), ' / out ', bytes(s.bytesOut)),
      h('div', { class: 'note' }, 'closed by reason: ' + (closed || 'none')), t);
  } else if (f.serverError) $('server').replaceChildren(h('div', { class: 'note' }, f.serverError));
  const pts = (key) => frames.map((g) => [g.t, g[key]]);
  chart($('c-conns'), [{ values: pts('connections') }], num);
  // a backlog far above the queue would flatten it: then the backlog is named, not drawn
  const maxQ = Math.max(0, ...frames.map((g) => g.acceptQueue));
  const drawBacklog = f.backlog !== null && maxQ * 10 >= f.backlog;
  chart($('c-aq'), drawBacklog ? [{ values: pts('acceptQueue') }, { values: pts('backlog') }] : [{ values: pts('acceptQueue') }], num);
  $('aq-backlog').textContent = f.backlog === null ? 'backlog unknown' : drawBacklog ? 'backlog' : 'backlog ' + num(f.backlog) + ' (off scale)';
  const haveMsgs = frames.some((g) => g.server), haveBytes = frames.some((g) => g.bytesPerSec !== null);
  $('rate-title').textContent = haveMsgs ? 'messages/s (server counters)' : haveBytes ? 'bytes/s (kernel tcp_info)' : 'messages/s';
  $('c-rate').classList.toggle('hidden', !haveMsgs && !haveBytes);
  $('rate-note').textContent = haveMsgs || haveBytes ? '' :
    'no rate: give --status-url for the server\\'s message counters (the kernel\\'s byte counters need sock_diag)';
  if (haveMsgs) chart($('c-rate'), [{ values: pts('messagesPerSec') }], num);
  else if (haveBytes) chart($('c-rate'), [{ values: pts('bytesPerSec') }], bytes);
  chart($('c-mem'), [{ values: pts('memPerConn') }, { values: pts('kernelMemPerConn'), cls: 's2' }], bytes);
  $('explain').replaceChildren(...f.explain.map((e) => h('li', {}, e)));
  $('missing').replaceChildren(...f.missing.map((e) => h('li', {}, 'missing: ' + e)));
}
function connect() {
  const token = new URLSearchParams(location.search).get('token');
  const es = new EventSource('events' + (token ? '?token=' + encodeURIComponent(token) : ''));
  es.addEventListener('history', (e) => {
    const d = JSON.parse(e.data);
    windowMs = d.intervalMs * d.historySize; frames = d.frames; lastAt = Date.now(); render();
  });
  es.addEventListener('frame', (e) => {
    frames.push(JSON.parse(e.data));
    if (frames.length > 300) frames.shift();
    lastAt = Date.now(); render();
  });
  es.addEventListener('failure', (e) => { $('live').textContent = 'refresh failed: ' + JSON.parse(e.data).message; });
  es.onerror = () => { $('live').textContent = 'disconnected, retrying…'; $('live').style.color = 'var(--bad)'; };
}
setInterval(() => {
  if (!lastAt) return;
  const stale = Date.now() - lastAt > 3000;
  $('live').textContent = stale ? 'stale (' + Math.round((Date.now() - lastAt) / 1000) + ' s)' : '● live';
  $('live').style.color = stale ? 'var(--warn)' : 'var(--ok)';
}, 500);
connect();
</script></body></html>
`;
