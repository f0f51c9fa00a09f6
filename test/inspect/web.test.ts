// The live page's feed: server-sent events from `inspect --web` against a running server with --status,
// at least two frames whose numbers change as clients connect and echo; the page itself is served whole
// (no external resources), and the SSE client cap holds.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Endpoint } from '../../src/admin/http-endpoint.ts';
import { startStatusEndpoint } from '../../src/admin/status.ts';
import { memoryLogger, type ServerHandle, serve } from '../../src/index.ts';
import { type Frame, startWebInspector, type WebInspector } from '../../src/inspect/web.ts';
import { TestClient } from '../helpers/client.ts';

let server: ServerHandle;
let status: Endpoint;
let web: WebInspector;
const clients: TestClient[] = [];

before(async () => {
  server = await serve({
    app: 'line-echo',
    model: 'reactor',
    backend: 'node',
    port: 0,
    logger: memoryLogger(),
  });
  status = await startStatusEndpoint(server, '127.0.0.1:0');
  web = await startWebInspector({
    address: '127.0.0.1:0',
    port: server.port,
    statusUrl: `${status.url}/status`,
    intervalMs: 250,
    maxClients: 2,
  });
});
after(async () => {
  for (const c of clients) c.close();
  await web?.close();
  await status?.close();
  await server?.close();
});

/** Read SSE events from a fetch body until `enough` says stop (or the deadline). */
async function readEvents(
  url: string,
  enough: (events: { event: string; data: unknown }[]) => boolean,
  timeoutMs = 20_000,
) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const res = await fetch(url, { signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: { event: string; data: unknown }[] = [];
  const decoder = new TextDecoder();
  let text = '';
  try {
    for await (const chunk of res.body!) {
      text += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, i);
        text = text.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
      if (enough(events)) break;
    }
  } catch (error) {
    if (!ac.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return events;
}

test('the page is one self-contained document', async () => {
  const res = await fetch(`${web.url}/`);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /^<!doctype html>/);
  assert.ok(!/\b(src|href)=["']?https?:/.test(html), 'no external resources');
  assert.match(html, /EventSource\('events'/);
});

test('SSE: a history, then frames whose numbers change with traffic', { timeout: 40_000 }, async () => {
  let driven = false;
  const frames: Frame[] = [];
  const events = await readEvents(`${web.url}/events`, (evs) => {
    const fresh = evs.filter((e) => e.event === 'frame').map((e) => e.data as Frame);
    frames.splice(0, frames.length, ...fresh);
    if (fresh.length >= 1 && !driven) {
      driven = true;
      void (async () => {
        for (let i = 0; i < 5; i++) clients.push(await TestClient.open(server.port));
        for (let r = 1; r <= 20; r++) {
          for (const c of clients) c.write('ping\n');
          await Promise.all(clients.map((c) => c.waitFor(5 * r)));
        }
      })();
    }
    const last = fresh.at(-1);
    return last !== undefined && last.connections === 5 && last.server?.messagesIn === 100;
  });
  const history = events.find((e) => e.event === 'history')?.data as { frames: Frame[]; intervalMs: number };
  assert.equal(history.intervalMs, 250);
  assert.ok(history.frames.length >= 1);
  assert.ok(frames.length >= 2, `at least two frames (${frames.length})`);
  const first = frames[0];
  const last = frames.at(-1)!;
  assert.equal(first.connections, 0);
  assert.equal(last.connections, 5);
  assert.equal(last.server?.active, 5);
  assert.equal(last.server?.workers[0].kernelConnections, 5, 'server and kernel agree');
  assert.equal(last.listeners[0].port, server.port);
  assert.ok(
    frames.some((f) => (f.messagesPerSec ?? 0) > 0),
    'a message rate was seen',
  );
  assert.ok(last.memPerConn !== null && last.memPerConn > 0);
});

test('SSE clients are capped', { timeout: 20_000 }, async () => {
  const a = new AbortController();
  const b = new AbortController();
  try {
    const r1 = await fetch(`${web.url}/events`, { signal: a.signal });
    const r2 = await fetch(`${web.url}/events`, { signal: b.signal });
    assert.equal(r1.status, 200);
    assert.equal(r2.status, 200);
    const r3 = await fetch(`${web.url}/events`);
    assert.equal(r3.status, 503);
    await r3.text();
  } finally {
    a.abort();
    b.abort();
  }
});
