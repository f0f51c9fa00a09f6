// A served model reports itself: `c10k serve --status HOST:PORT` answers GET / (or /status) with the
// server's own counters as JSON, in total and per worker, so the inspector can join them to what the
// kernel sees. Per-worker figures come from handle.workerStats() where a model has workers (the
// supervisor asks each over IPC); a single-process model is one worker: this process.
import type { ServerHandle, WorkerStats } from '../net/server-contract.ts';
import type { ServerStats } from '../net/server-core.ts';
import { type Endpoint, type EndpointAddress, sendJson, sendText, startEndpoint } from './http-endpoint.ts';

export interface StatusDoc {
  model: string;
  backend: string;
  host: string;
  port: number;
  pids: number[];
  startedAt: number;
  uptimeMs: number;
  /** Every connection on the port speaks TLS. */
  tls: boolean;
  totals: ServerStats;
  workers: WorkerStats[];
}

export async function workerStatsOf(handle: ServerHandle): Promise<WorkerStats[]> {
  if (handle.workerStats) return handle.workerStats();
  return [{ pid: process.pid, stats: await handle.stats() }];
}

/** One status document; `totals` may exceed the workers' sum (workers that have exited count there). */
export async function statusOf(handle: ServerHandle): Promise<StatusDoc> {
  const [totals, workers] = await Promise.all([handle.stats(), workerStatsOf(handle)]);
  const now = Date.now();
  return {
    model: handle.model,
    backend: handle.backend,
    host: handle.host,
    port: handle.port,
    pids: handle.pids(),
    startedAt: totals.startedAt,
    uptimeMs: now - totals.startedAt,
    tls: handle.tls === true,
    totals,
    workers,
  };
}

/**
 * Share one collection between callers that arrive while it is under way (a Prometheus scrape asks every
 * metric at once; a status request and a scrape may coincide): workers are asked once, not once per
 * metric. A caller after it finished gets a fresh one.
 */
export function sharedStatus(handle: ServerHandle): () => Promise<StatusDoc> {
  let pending: Promise<StatusDoc> | null = null;
  return () => {
    if (pending) return pending;
    const doc = statusOf(handle);
    pending = doc;
    const clear = () => {
      if (pending === doc) pending = null;
    };
    doc.then(clear, clear);
    return doc;
  };
}

export function startStatusEndpoint(
  handle: ServerHandle,
  address: string | EndpointAddress,
  token?: string,
  status = sharedStatus(handle),
): Promise<Endpoint> {
  return startEndpoint({
    flag: '--status',
    address,
    token,
    handler: async (_req, res, url) => {
      if (url.pathname !== '/' && url.pathname !== '/status') return sendText(res, 404, 'try GET /status\n');
      sendJson(res, 200, await status());
    },
  });
}

/** Fetch a status document (the inspector's side); rejects with a one-line reason. */
export async function fetchStatus(url: string, token?: string, timeoutMs = 2000): Promise<StatusDoc> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    throw new Error(`status ${url}: ${e.cause?.code ?? e.message}`);
  }
  if (!res.ok) throw new Error(`status ${url}: HTTP ${res.status}`);
  const doc = (await res.json()) as StatusDoc;
  if (typeof doc !== 'object' || doc === null || !doc.totals || !Array.isArray(doc.workers))
    throw new Error(`status ${url}: not a c10k status document`);
  return doc;
}
