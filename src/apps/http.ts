// A tiny HTTP app: a fixed greeting, a health check and Prometheus metrics of this process's own counts.
// The fixed responses are built once (per keep-alive mode), so the wrk hot path is a Map lookup and a send.
// The app cannot see server-wide stats yet, so /metrics reports what it counts itself.
import { type App, defineApp } from '../app.ts';
import type { Connection } from '../net/connection-api.ts';
import { type HttpOptions, type HttpRequest, httpCodec, response } from '../protocols/http.ts';

export interface HttpAppOptions {
  protocol?: HttpOptions;
}

interface Counters {
  requests: number;
  byStatus: Map<number, number>;
  connectionsOpened: number;
  connectionsOpen: number;
  bytesIn: number;
}

const TEXT = { 'content-type': 'text/plain; charset=utf-8' };
const HELLO = 'hello from c10k\n';

/** A response prebuilt for both keep-alive modes, and for HEAD. */
function fixed(status: number, body: string, headers: Record<string, string> = TEXT) {
  const make = (keepAlive: boolean, head: boolean) => response(status, headers, body, keepAlive, head);
  return {
    status,
    get: [make(false, false), make(true, false)],
    head: [make(false, true), make(true, true)],
  };
}

const ROOT = fixed(200, HELLO);
const HEALTH = fixed(200, 'ok\n');
const NOT_FOUND = fixed(404, 'not found\n');

function metrics(c: Counters): string {
  const lines = [
    '# HELP c10k_http_requests_total HTTP requests answered by this process.',
    '# TYPE c10k_http_requests_total counter',
  ];
  for (const [status, count] of [...c.byStatus].sort((a, b) => a[0] - b[0])) {
    lines.push(`c10k_http_requests_total{code="${status}"} ${count}`);
  }
  lines.push(
    '# HELP c10k_http_connections_opened_total Connections this app has seen opened.',
    '# TYPE c10k_http_connections_opened_total counter',
    `c10k_http_connections_opened_total ${c.connectionsOpened}`,
    '# HELP c10k_http_connections_open Connections open now.',
    '# TYPE c10k_http_connections_open gauge',
    `c10k_http_connections_open ${c.connectionsOpen}`,
    '# HELP c10k_http_request_body_bytes_total Request body bytes received.',
    '# TYPE c10k_http_request_body_bytes_total counter',
    `c10k_http_request_body_bytes_total ${c.bytesIn}`,
    '# HELP process_resident_memory_bytes Resident memory size in bytes.',
    '# TYPE process_resident_memory_bytes gauge',
    `process_resident_memory_bytes ${process.memoryUsage.rss()}`,
    '# HELP process_start_time_seconds Start time of the process since the epoch, in seconds.',
    '# TYPE process_start_time_seconds gauge',
    `process_start_time_seconds ${Math.round(Date.now() / 1000 - process.uptime())}`,
  );
  return lines.join('\n') + '\n';
}

function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

/** An HTTP app and its counters. The module's default export is one such app. */
export function createHttpApp(options: HttpAppOptions = {}): {
  app: App<HttpRequest, Buffer | string>;
  counters: Counters;
} {
  const counters: Counters = {
    requests: 0,
    byStatus: new Map(),
    connectionsOpened: 0,
    connectionsOpen: 0,
    bytesIn: 0,
  };
  const count = (status: number) => {
    counters.requests++;
    counters.byStatus.set(status, (counters.byStatus.get(status) ?? 0) + 1);
  };
  const app = defineApp<HttpRequest, Buffer | string>({
    protocol: httpCodec(options.protocol),
    // nginx's defaults: client_header_timeout 60s, keepalive_timeout 75s (README: "Defaults and timeouts")
    timeouts: { partialTimeout: 60_000, idleTimeout: 75_000 },
    open() {
      counters.connectionsOpened++;
      counters.connectionsOpen++;
    },
    close() {
      counters.connectionsOpen--;
    },
    message(conn, req) {
      counters.bytesIn += req.body.length;
      // HTTP/1.0 clients that asked for keep-alive must be told it is granted.
      const keep = req.keepAlive ? 1 : 0;
      const head = req.method === 'HEAD';
      const path = pathOf(req.target);
      let known = path === '/' ? ROOT : path === '/healthz' ? HEALTH : path === '/metrics' ? null : undefined;
      let out: Buffer;
      if (known === undefined) {
        known = NOT_FOUND;
        out = (head ? NOT_FOUND.head : NOT_FOUND.get)[keep];
      } else if (req.method !== 'GET' && !head) {
        count(405);
        out = response(405, { ...TEXT, allow: 'GET, HEAD' }, 'method not allowed\n', req.keepAlive);
        return finish(conn, out, req);
      } else if (known === null) {
        count(200);
        out = response(
          200,
          { 'content-type': 'text/plain; version=0.0.4' },
          metrics(counters),
          req.keepAlive,
          head,
        );
        return finish(conn, out, req);
      } else out = (head ? known.head : known.get)[keep];
      count(known.status);
      finish(conn, out, req);
    },
  });
  return { app, counters };
}

function finish(conn: Connection<Buffer | string>, out: Buffer, req: HttpRequest): void {
  if (req.keepAlive && req.version === '1.0') {
    // Rare: splice the keep-alive header in rather than prebuilding a third set.
    const at = out.indexOf('\r\n') + 2;
    conn.send(Buffer.concat([out.subarray(0, at), KEEP_ALIVE, out.subarray(at)]));
  } else conn.send(out);
  if (!req.keepAlive) conn.end();
}

const KEEP_ALIVE = Buffer.from('connection: keep-alive\r\n');

export default createHttpApp().app;
