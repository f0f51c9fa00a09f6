// `c10k serve --metrics HOST:PORT`: Prometheus text exposition of the server's counters through
// prom-client (the maintained standard client), on a registry of our own whose metrics read the handle
// at scrape time (collect()), so nothing is counted twice and an idle server costs nothing. Each metric
// has a `worker` label: a worker's pid, or "all" for the server total, which also counts workers that
// have exited (so sum by worker != "all" may be lower after a restart or reload). The event-loop delay
// is the serving process's own (perf_hooks monitorEventLoopDelay): the supervisor's for worker models.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Registry } from 'prom-client';
import { CLOSE_REASONS } from '../net/connection-api.ts';
import { type ServerHandle, workerLabel } from '../net/server-contract.ts';
import type { ServerStats } from '../net/server-core.ts';
import { type Endpoint, type EndpointAddress, sendText, startEndpoint } from './http-endpoint.ts';
import { type StatusDoc, sharedStatus } from './status.ts';

type Numeric = Exclude<keyof ServerStats, 'closed' | 'startedAt'>;

const COUNTERS: [string, Numeric, string][] = [
  ['c10k_connections_accepted_total', 'accepted', 'Connections accepted.'],
  [
    'c10k_connections_rejected_total',
    'rejected',
    'Connections refused at accept (max connections, fd reserve).',
  ],
  ['c10k_received_bytes_total', 'bytesIn', 'Bytes read from clients.'],
  ['c10k_sent_bytes_total', 'bytesOut', 'Bytes written to clients.'],
  ['c10k_messages_received_total', 'messagesIn', 'Messages decoded from clients.'],
  ['c10k_messages_sent_total', 'messagesOut', 'Messages encoded to clients.'],
  ['c10k_tls_handshakes_total', 'tlsHandshakes', 'TLS handshakes completed (resumed ones included).'],
  ['c10k_tls_resumed_total', 'tlsResumed', 'TLS handshakes that resumed a session (a ticket).'],
];

const ALL = 'all';
const WORKER_NOTE = ' worker="all" is the server total, workers that exited included.';

/** Each worker's stats and the total, with their `worker` label values. */
function series(doc: StatusDoc): [string, ServerStats][] {
  return [[ALL, doc.totals], ...doc.workers.map((w): [string, ServerStats] => [workerLabel(w), w.stats])];
}

export interface MetricsRegistry {
  registry: Registry;
  /** Stop the event-loop delay monitor. */
  stop(): void;
}

export function metricsRegistry(handle: ServerHandle, status = sharedStatus(handle)): MetricsRegistry {
  const registry = new Registry();
  const registers = [registry];
  for (const [name, key, help] of COUNTERS) {
    new Counter({
      name,
      help: help + WORKER_NOTE,
      labelNames: ['worker'],
      registers,
      async collect() {
        const doc = await status();
        this.reset();
        for (const [worker, s] of series(doc)) this.inc({ worker }, s[key]);
      },
    });
  }
  new Gauge({
    name: 'c10k_connections_active',
    help: 'Connections open now.' + WORKER_NOTE,
    labelNames: ['worker'],
    registers,
    async collect() {
      const doc = await status();
      this.reset();
      for (const [worker, s] of series(doc)) this.set({ worker }, s.active);
    },
  });
  new Counter({
    name: 'c10k_connections_closed_total',
    help: 'Connections closed, by reason.' + WORKER_NOTE,
    labelNames: ['worker', 'reason'],
    registers,
    async collect() {
      const doc = await status();
      this.reset();
      for (const [worker, s] of series(doc))
        for (const reason of CLOSE_REASONS) this.inc({ worker, reason }, s.closed[reason] ?? 0);
    },
  });
  new Gauge({
    name: 'c10k_server_info',
    help: 'The model and backend serving, as labels (value 1).',
    labelNames: ['model', 'backend', 'port'],
    registers,
    collect() {
      this.reset();
      this.set({ model: handle.model, backend: handle.backend, port: String(handle.port) }, 1);
    },
  });
  new Gauge({
    name: 'c10k_workers',
    help: 'Worker processes (or threads, or the process itself) reporting.',
    registers,
    async collect() {
      this.set((await status()).workers.length);
    },
  });
  new Gauge({
    name: 'c10k_uptime_seconds',
    help: 'Seconds since the server started.',
    registers,
    async collect() {
      this.set((await status()).uptimeMs / 1000);
    },
  });

  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const last: Record<string, number> = {};
  new Gauge({
    name: 'c10k_event_loop_delay_seconds',
    help: 'Event-loop delay of the serving process since the previous scrape (perf_hooks), by quantile.',
    labelNames: ['quantile'],
    registers,
    collect() {
      // No sample since the last scrape (scrapes closer together than the resolution): keep the last
      // figures rather than drop the series.
      if (loop.count === 0) {
        for (const q of ['0.5', '0.9', '0.99', '1']) if (!(q in last)) last[q] = 0;
      } else {
        const sec = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
        for (const q of [0.5, 0.9, 0.99]) last[String(q)] = sec(loop.percentile(q * 100));
        last['1'] = sec(loop.max);
        loop.reset();
      }
      for (const [quantile, value] of Object.entries(last)) this.set({ quantile }, value);
    },
  });
  new Gauge({
    name: 'c10k_process_resident_memory_bytes',
    help: 'Resident memory of the serving process (not its workers).',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  return { registry, stop: () => loop.disable() };
}

export async function startMetricsEndpoint(
  handle: ServerHandle,
  address: string | EndpointAddress,
  token?: string,
  status = sharedStatus(handle),
): Promise<Endpoint> {
  const { registry, stop } = metricsRegistry(handle, status);
  const endpoint = await startEndpoint({
    flag: '--metrics',
    address,
    token,
    handler: async (_req, res, url) => {
      if (url.pathname !== '/' && url.pathname !== '/metrics')
        return sendText(res, 404, 'try GET /metrics\n');
      const body = await registry.metrics();
      res.writeHead(200, {
        'content-type': registry.contentType,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
      });
      res.end(body);
    },
  }).catch((error) => {
    stop();
    throw error;
  });
  return {
    ...endpoint,
    close: async () => {
      stop();
      await endpoint.close();
    },
  };
}
