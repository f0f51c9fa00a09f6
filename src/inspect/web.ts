// `c10k inspect --web HOST:PORT`: the inspector as a live page. One sampling loop (every interval, never
// overlapping) takes a snapshot, joins the server's own counters when a status URL is given, turns them
// into a small Frame and pushes it to every page over server-sent events. History is a fixed ring (300
// frames = 5 minutes at 1 s) sent whole to a page when it connects; the number of SSE clients is capped.
// The page itself (web-page.ts) is one self-contained HTML document: no CDN, no build step.
import type http from 'node:http';
import {
  type Endpoint,
  type EndpointAddress,
  sendJson,
  sendText,
  startEndpoint,
} from '../admin/http-endpoint.ts';
import type { JoinedSnapshot } from './join.ts';
import type { TcpState } from './proc-net-tcp.ts';
import { commandLabel } from './proc-process.ts';
import { type SampleOptions, sample } from './sample.ts';
import { PAGE } from './web-page.ts';

export { type SampleOptions, sample } from './sample.ts';

export interface Frame {
  t: number;
  target: string;
  source: string;
  elapsedMs: number;
  listeners: {
    address: string;
    port: number;
    acceptQueue: number;
    backlog: number | null;
    drops: number | null;
    owners: string;
  }[];
  acceptQueue: number;
  backlog: number | null;
  synRecv: number;
  connections: number;
  states: Partial<Record<TcpState, number>>;
  overflows: number;
  drops: number;
  processes: {
    pid: number;
    role: string;
    comm: string;
    fds: number | null;
    fdLimit: number | null;
    rss: number | null;
    connections: number;
    memPerConn: number | null;
  }[];
  /** RSS of the processes holding connections / connections (null without connections). */
  memPerConn: number | null;
  kernelMemPerConn: number | null;
  /** From the status URL's counters (null without one, or on the first frame). */
  messagesPerSec: number | null;
  /** From the kernel's per-socket counters (tcp_info bytes_received + bytes_acked), when sock_diag has them. */
  bytesPerSec: number | null;
  server: {
    model: string;
    backend: string;
    active: number;
    accepted: number;
    rejected: number;
    messagesIn: number;
    messagesOut: number;
    bytesIn: number;
    bytesOut: number;
    closed: Record<string, number>;
    workers: {
      pid: number;
      thread?: number;
      active: number;
      accepted: number;
      kernelConnections: number | null;
    }[];
  } | null;
  serverError: string | null;
  explain: string[];
  missing: string[];
}

interface Previous {
  t: number;
  messages: number | null;
  bytes: number | null;
}

export function frameOf(snap: JoinedSnapshot, prev: Previous | null): { frame: Frame; next: Previous } {
  const t = Date.parse(snap.time);
  const sv = snap.server;
  const messages = sv ? sv.totals.messagesIn + sv.totals.messagesOut : null;
  const bytes = snap.kernelBytes ?? null;
  const rate = (now: number | null, before: number | null | undefined) =>
    prev && now !== null && before !== null && before !== undefined && t > prev.t
      ? Math.max(0, ((now - before) * 1000) / (t - prev.t))
      : null;
  const holders = snap.processes.filter((p) => p.connections > 0);
  const conns = holders.reduce((n, p) => n + p.connections, 0);
  const rss = holders.reduce((n, p) => n + (p.rss ?? 0), 0);
  const kmem = holders.reduce((n, p) => n + p.kernelSocketMemory.bytes, 0);
  const frame: Frame = {
    t,
    target: snap.port !== undefined ? `port ${snap.port}` : `pid ${snap.pid}`,
    source: snap.source,
    elapsedMs: Math.round(snap.elapsedMs),
    listeners: snap.listeners.map((l) => ({
      address: l.address,
      port: l.port,
      acceptQueue: l.acceptQueue,
      backlog: l.backlog,
      drops: l.drops,
      owners: l.owners.map((o) => `${o.pid}/${o.fd}`).join(' '),
    })),
    acceptQueue: snap.listeners.reduce((n, l) => n + l.acceptQueue, 0),
    backlog:
      snap.listeners.length && snap.listeners.every((l) => l.backlog !== null)
        ? snap.listeners.reduce((n, l) => n + (l.backlog ?? 0), 0)
        : null,
    synRecv: snap.synRecv,
    connections: snap.connections,
    states: snap.states,
    overflows: snap.counters.ListenOverflows,
    drops: snap.counters.ListenDrops,
    processes: snap.processes.map((p) => ({
      pid: p.pid,
      role: p.role,
      comm: commandLabel(p.comm, p.cmdline),
      fds: p.fds,
      fdLimit: p.fdLimit?.soft ?? null,
      rss: p.rss,
      connections: p.connections,
      memPerConn: p.processMemoryPerConnection,
    })),
    memPerConn: conns > 0 ? rss / conns : null,
    kernelMemPerConn: conns > 0 ? kmem / conns : null,
    messagesPerSec: rate(messages, prev?.messages),
    bytesPerSec: rate(bytes, prev?.bytes),
    server: sv
      ? {
          model: sv.model,
          backend: sv.backend,
          active: sv.totals.active,
          accepted: sv.totals.accepted,
          rejected: sv.totals.rejected,
          messagesIn: sv.totals.messagesIn,
          messagesOut: sv.totals.messagesOut,
          bytesIn: sv.totals.bytesIn,
          bytesOut: sv.totals.bytesOut,
          closed: sv.totals.closed,
          workers: sv.workers.map((w) => ({
            pid: w.pid,
            thread: w.thread,
            active: w.stats.active,
            accepted: w.stats.accepted,
            kernelConnections: w.kernel?.connections ?? null,
          })),
        }
      : null,
    serverError: snap.serverError ?? null,
    explain: [...snap.listeners.flatMap((l) => l.explain), ...(sv?.explain ?? []), ...snap.explain],
    missing: snap.missing,
  };
  return { frame, next: { t, messages, bytes } };
}

export interface WebOptions extends SampleOptions {
  address: string | EndpointAddress;
  token?: string;
  intervalMs?: number;
  historySize?: number;
  maxClients?: number;
}

export interface WebInspector {
  readonly url: string;
  readonly endpoint: Endpoint;
  latest(): Frame | null;
  close(): Promise<void>;
}

export async function startWebInspector(opts: WebOptions): Promise<WebInspector> {
  const interval = opts.intervalMs ?? 1000;
  const historySize = opts.historySize ?? 300;
  const maxClients = opts.maxClients ?? 16;
  const history: Frame[] = [];
  const clients = new Set<http.ServerResponse>();
  let prev: Previous | null = null;
  let refresh = 0;
  let stopped = false;
  let busy = false;

  const send = (res: http.ServerResponse, event: string, data: unknown) =>
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

  const tick = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      // every 10th refresh rescans all processes for owners; in between, known owners and their children
      const snap = await sample({ ...opts, kernelBytes: !opts.statusUrl }, refresh++ % 10 === 0);
      const { frame, next } = frameOf(snap, prev);
      prev = next;
      history.push(frame);
      if (history.length > historySize) history.splice(0, history.length - historySize);
      for (const res of clients) send(res, 'frame', frame);
    } catch (error) {
      for (const res of clients) send(res, 'failure', { message: (error as Error).message });
    } finally {
      busy = false;
    }
  };

  const endpoint = await startEndpoint({
    flag: '--web',
    address: opts.address,
    token: opts.token,
    handler: (req, res, url) => {
      if (url.pathname === '/') {
        return sendText(res, 200, PAGE, 'text/html');
      }
      if (url.pathname === '/frame.json') return sendJson(res, 200, history.at(-1) ?? null);
      if (url.pathname !== '/events') return sendText(res, 404, 'not found\n');
      if (clients.size >= maxClients) return sendText(res, 503, `at most ${maxClients} live pages\n`);
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write(`retry: ${interval * 2}\n\n`);
      send(res, 'history', { intervalMs: interval, historySize, frames: history });
      clients.add(res);
      req.socket.setTimeout(0); // the stream writes every interval; the endpoint's idle timeout is for requests
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      res.on('close', () => {
        clearInterval(keepAlive);
        clients.delete(res);
      });
    },
  });
  await tick();
  const timer = setInterval(tick, interval);
  return {
    url: endpoint.url,
    endpoint,
    latest: () => history.at(-1) ?? null,
    close: async () => {
      stopped = true;
      clearInterval(timer);
      for (const res of clients) res.end();
      await endpoint.close();
    },
  };
}
