// A served model reports itself: --status JSON and --metrics Prometheus text against running servers, one
// single-process (reactor) and one multi-worker (multi-reactor, 2 processes). Counts must move with
// echo traffic, per worker too; the metrics text must parse as the Prometheus exposition format.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startMetricsEndpoint } from '../../src/admin/metrics.ts';
import { type StatusDoc, startStatusEndpoint } from '../../src/admin/status.ts';
import { memoryLogger, type ServerHandle, serve } from '../../src/index.ts';
import { eventually, TestClient } from '../helpers/client.ts';

/** Open n clients, echo `rounds` messages each, keep them open. */
async function traffic(port: number, n: number, rounds = 3): Promise<TestClient[]> {
  const clients = await Promise.all(Array.from({ length: n }, () => TestClient.open(port)));
  for (let r = 1; r <= rounds; r++) {
    for (const c of clients) c.write('hello\n');
    await Promise.all(clients.map((c) => c.waitFor(6 * r)));
  }
  return clients;
}

const getStatus = async (url: string): Promise<StatusDoc> => {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return (await res.json()) as StatusDoc;
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A small parser of the text exposition format (0.0.4): HELP/TYPE lines, samples with labels. */
export function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$`);
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\]|\\\\.)*)"(?:,|$)/gy;
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^# HELP (${NAME}) .+$`).exec(line))) helps.add(m[1]);
    else if ((m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line)))
      types.set(m[1], m[2]);
    else {
      m = sampleRe.exec(line);
      assert.ok(m, `not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      if (m[2]) {
        labelRe.lastIndex = 0;
        let l: RegExpExecArray | null;
        let consumed = 0;
        while ((l = labelRe.exec(m[2]))) {
          labels[l[1]] = l[2];
          consumed = labelRe.lastIndex;
        }
        assert.equal(consumed, m[2].length, `bad labels: ${m[2]}`);
      }
      assert.ok(types.has(m[1]), `sample before its TYPE: ${m[1]}`);
      assert.ok(helps.has(m[1]), `sample without HELP: ${m[1]}`);
      samples.push({ name: m[1], labels, value: Number(m[3]) });
    }
  }
  return { types, samples };
}

const value = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

for (const kind of ['reactor', 'multi-reactor'] as const) {
  describe(`status and metrics: ${kind}`, { timeout: 60_000 }, () => {
    test('counts move with traffic, per worker and in total', async () => {
      const server: ServerHandle = await serve({
        app: 'line-echo',
        model: kind,
        backend: 'node',
        workers: kind === 'multi-reactor' ? 2 : undefined,
        port: 0,
        logger: memoryLogger(),
      });
      const status = await startStatusEndpoint(server, '127.0.0.1:0');
      const metrics = await startMetricsEndpoint(server, '127.0.0.1:0');
      let clients: TestClient[] = [];
      try {
        const before = await getStatus(`${status.url}/status`);
        assert.equal(before.model, kind);
        assert.equal(before.port, server.port);
        assert.deepEqual(before.pids, server.pids());
        assert.equal(before.workers.length, kind === 'multi-reactor' ? 2 : 1);
        if (kind === 'reactor') assert.equal(before.workers[0].pid, process.pid);
        else
          for (const w of before.workers) assert.ok(server.pids().includes(w.pid) && w.pid !== process.pid);
        assert.equal(before.totals.accepted, 0);
        assert.ok(before.uptimeMs >= 0 && before.startedAt <= Date.now());

        clients = await traffic(server.port, 8);
        const after = await getStatus(`${status.url}/`);
        assert.equal(after.totals.accepted, 8);
        assert.equal(after.totals.active, 8);
        assert.equal(after.totals.messagesIn, 24);
        assert.equal(after.totals.bytesIn, 8 * 3 * 6);
        const sum = after.workers.reduce((n, w) => n + w.stats.accepted, 0);
        assert.equal(sum, 8, 'the workers account for every connection');

        const res = await fetch(`${metrics.url}/metrics`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
        const { types, samples } = parsePrometheus(await res.text());
        assert.equal(types.get('c10k_connections_accepted_total'), 'counter');
        assert.equal(types.get('c10k_connections_active'), 'gauge');
        assert.equal(types.get('c10k_connections_closed_total'), 'counter');
        assert.equal(value(samples, 'c10k_connections_accepted_total', { worker: 'all' }), 8);
        assert.equal(value(samples, 'c10k_connections_active', { worker: 'all' }), 8);
        assert.equal(value(samples, 'c10k_messages_received_total', { worker: 'all' }), 24);
        assert.equal(value(samples, 'c10k_received_bytes_total', { worker: 'all' }), 144);
        for (const w of after.workers) {
          assert.equal(
            value(samples, 'c10k_connections_accepted_total', { worker: String(w.pid) }),
            w.stats.accepted,
          );
        }
        assert.equal(
          value(samples, 'c10k_connections_closed_total', { worker: 'all', reason: 'peer-closed' }),
          0,
        );
        assert.equal(value(samples, 'c10k_server_info', { model: kind, backend: 'node' }), 1);
        assert.ok(samples.some((s) => s.name === 'c10k_event_loop_delay_seconds'));

        // closing clients moves closed{reason}
        for (const c of clients.splice(0, 3)) c.close();
        const deadline = Date.now() + 5000;
        let closed = 0;
        while (Date.now() < deadline) {
          const text = await (await fetch(`${metrics.url}/`)).text();
          const s = parsePrometheus(text).samples;
          closed = CLOSED_REASONS.reduce(
            (n, reason) => n + (value(s, 'c10k_connections_closed_total', { worker: 'all', reason }) ?? 0),
            0,
          );
          if (closed === 3) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(closed, 3);
        assert.equal((await getStatus(`${status.url}/status`)).totals.active, 5);
        assert.equal((await fetch(`${status.url}/nope`)).status, 404);
      } finally {
        for (const c of clients) c.close();
        await status.close();
        await metrics.close();
        await server.close();
      }
    });
  });
}

const CLOSED_REASONS = ['peer-closed', 'peer-reset'];

/** A server with its --status and --metrics endpoints; `body` gets them and a list of clients it opens,
 * and everything is closed after it, whatever it threw. */
async function withEndpoints(
  options: Parameters<typeof serve>[0],
  body: (s: {
    server: ServerHandle;
    statusUrl: string;
    metricsUrl: string;
    clients: TestClient[];
  }) => Promise<void>,
): Promise<void> {
  const server = await serve({ port: 0, logger: memoryLogger(), ...options });
  const status = await startStatusEndpoint(server, '127.0.0.1:0');
  const metrics = await startMetricsEndpoint(server, '127.0.0.1:0');
  const clients: TestClient[] = [];
  try {
    await body({ server, statusUrl: `${status.url}/status`, metricsUrl: `${metrics.url}/`, clients });
  } finally {
    for (const c of clients) c.close();
    await status.close();
    await metrics.close();
    await server.close();
  }
}

test(
  'thread-pool: each thread is a worker (pid/thread), its counts add up to the total',
  {
    timeout: 60_000,
  },
  () =>
    withEndpoints(
      { app: 'line-echo', model: 'thread-pool', workers: 3 },
      async ({ server, statusUrl, metricsUrl, clients }) => {
        // Three clients at once: the pool serves one per thread.
        clients.push(...(await traffic(server.port, 3)));
        const doc = await getStatus(statusUrl);
        assert.equal(doc.workers.length, 3);
        assert.ok(doc.workers.every((w) => w.pid === process.pid));
        assert.equal(new Set(doc.workers.map((w) => w.thread)).size, 3, 'three distinct threads');
        assert.deepEqual(
          doc.workers.map((w) => w.stats.active),
          [1, 1, 1],
        );
        assert.equal(
          doc.workers.reduce((n, w) => n + w.stats.messagesIn, 0),
          doc.totals.messagesIn,
        );
        assert.equal(doc.totals.messagesIn, 9);
        const s = parsePrometheus(await (await fetch(metricsUrl)).text()).samples;
        for (const w of doc.workers)
          assert.equal(value(s, 'c10k_connections_active', { worker: `${w.pid}/${w.thread}` }), 1);
      },
    ),
);

test(
  'process-per-connection: each live child is a worker serving its one client',
  {
    timeout: 60_000,
  },
  () =>
    withEndpoints(
      { app: 'line-echo', model: 'process-per-connection' },
      async ({ server, statusUrl, metricsUrl, clients }) => {
        clients.push(...(await traffic(server.port, 3)));
        const doc = await getStatus(statusUrl);
        assert.equal(doc.workers.length, 3, 'one worker per connected client');
        const pids = doc.workers.map((w) => w.pid);
        assert.equal(new Set(pids).size, 3, 'three distinct processes');
        for (const pid of pids) assert.ok(pid !== process.pid && server.pids().includes(pid), `child ${pid}`);
        assert.deepEqual(
          doc.workers.map((w) => [w.stats.active, w.stats.messagesIn]),
          [
            [1, 3],
            [1, 3],
            [1, 3],
          ],
        );
        const s = parsePrometheus(await (await fetch(metricsUrl)).text()).samples;
        assert.equal(value(s, 'c10k_workers', {}), 3);
        // A client leaves: its child exits and is no longer listed; the total keeps its counts.
        clients.pop()!.close();
        let after = doc;
        await eventually(
          async () => (after = await getStatus(statusUrl)).workers.length === 2,
          5000,
          'the leaving child unlisted',
        );
        assert.equal(after.totals.messagesIn, 9);
      },
    ),
);
