// One small node:http server behind every admin endpoint (serve --status, serve --metrics, inspect --web),
// so that they all follow the same access rule (issue 8 item 7): loopback by default; any other address
// only with a token, and a token, once given, is checked on every request (Authorization: Bearer T or
// ?token=T, compared in constant time). The decision is a pure function (accessDecision) so it can be
// tested without a non-loopback address. A loopback endpoint without a token also checks the Host
// header, so a web page reached through DNS rebinding cannot read it. Everything is bounded: header
// size, no request bodies, concurrent connections, header/request/idle timeouts.
// Scraping cannot be starved (issue 16, finding 7): a connection that has not sent its request headers
// within headersTimeoutMs (3 s) is cut (checked every 500 ms), and at the cap (64 connections) a new
// connection is not refused but closes the oldest one that has no request in progress — silent, sending
// its headers slowly, or idle between keep-alive requests — so a fixed set of idle connections cannot
// hold the slots; only when all 64 are being served (streams, slow handlers) is the new one answered
// 503 and closed. With a token, a request without it is answered 401 at once and its connection is
// then idle, so the first scraper past the cap takes its slot: unauthenticated clients cannot hold them.
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { isIPv4, isIPv6, type Socket } from 'node:net';
import { TOKEN_ENV } from './token.ts';

export { resolveToken, TOKEN_ENV } from './token.ts';

export class EndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointError';
  }
}

export interface EndpointAddress {
  host: string;
  port: number;
  loopback: boolean;
}

/** 127.0.0.0/8, ::1, ::ffff:127.x.x.x and the name localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIPv4(v4) && v4.startsWith('127.');
}

/** "HOST:PORT" with HOST an IPv4 address, [IPv6] or localhost; a bare "PORT" means 127.0.0.1:PORT. */
export function parseHostPort(text: string, flag: string): EndpointAddress {
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6) {
    host = v6[1];
    portText = v6[2];
    if (!isIPv6(host)) throw new EndpointError(`${flag}: '${host}' is not an IPv6 address`);
  } else if (/^\d+$/.test(text)) {
    host = '127.0.0.1';
    portText = text;
  } else {
    const i = text.lastIndexOf(':');
    if (i <= 0) throw new EndpointError(`${flag} needs HOST:PORT (e.g. 127.0.0.1:9100), got '${text}'`);
    host = text.slice(0, i);
    portText = text.slice(i + 1);
    if (host === 'localhost') host = '127.0.0.1';
    else if (!isIPv4(host)) {
      throw new EndpointError(
        `${flag}: host must be an IPv4 address, [IPv6] or localhost, got '${host}'` +
          (isIPv6(host) ? ' (write IPv6 as [addr]:port)' : ''),
      );
    }
  }
  if (!/^\d+$/.test(portText) || Number(portText) > 65535)
    throw new EndpointError(`${flag}: port must be 0-65535, got '${portText}'`);
  return { host, port: Number(portText), loopback: isLoopback(host) };
}

/** May this address be bound? Loopback always; anything else only with a token. */
export function accessDecision(
  address: EndpointAddress,
  token: string | undefined,
  flag: string,
): { ok: true } | { ok: false; reason: string } {
  if (address.loopback || token) return { ok: true };
  return {
    ok: false,
    reason:
      `${flag} ${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port} ` +
      `is not a loopback address: give --token T (or set ${TOKEN_ENV}) to bind it`,
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison (hashing first makes the lengths equal). */
export function tokenMatches(given: string | null | undefined, token: string): boolean {
  return timingSafeEqual(digest(given ?? ''), digest(token));
}

/** The token a request carries: Authorization: Bearer T, else ?token=T. */
export function requestToken(req: http.IncomingMessage, url: URL): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  return url.searchParams.get('token');
}

/** Without a token, a loopback endpoint answers only requests addressed to a loopback name. */
export function hostHeaderAllowed(hostHeader: string | undefined): boolean {
  if (!hostHeader) return true; // HTTP/1.0 clients and curl -H 'Host:' send none
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(hostHeader);
  return m !== null && isLoopback(m[1]);
}

export interface EndpointLimits {
  maxConnections: number;
  maxHeaderBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Idle socket timeout (responses that stream, such as SSE, write often enough to stay alive). */
  idleTimeoutMs: number;
}

export const DEFAULT_ENDPOINT_LIMITS: EndpointLimits = {
  maxConnections: 64,
  maxHeaderBytes: 8192,
  headersTimeoutMs: 3000,
  requestTimeoutMs: 5000,
  keepAliveTimeoutMs: 5000,
  idleTimeoutMs: 10_000,
};

/** How often node:http checks the header and request timeouts (its default, 30 s, let a silent
 * connection live 33 s). */
const TIMEOUT_CHECK_MS = 500;

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => unknown;

export interface EndpointOptions {
  /** Used in error messages: '--status', '--metrics', '--web'. */
  flag: string;
  address: string | EndpointAddress;
  token?: string;
  handler: Handler;
  limits?: Partial<EndpointLimits>;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** The cap on connections at once (see the top comment for what happens past it). */
  readonly maxConnections: number;
  /** Connections closed to admit a newer one at the cap, and new ones refused (all slots serving). */
  readonly evicted: () => number;
  readonly refused: () => number;
  /** http://host:port (no token in it). */
  readonly url: string;
  readonly server: http.Server;
  close(): Promise<void>;
}

export function sendText(res: http.ServerResponse, status: number, body: string, type = 'text/plain'): void {
  res.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  sendText(res, status, JSON.stringify(value, null, 2) + '\n', 'application/json');
}

/** Bind an admin endpoint; rejects with an EndpointError (one line) if the access rule refuses it. */
export async function startEndpoint(options: EndpointOptions): Promise<Endpoint> {
  const address =
    typeof options.address === 'string' ? parseHostPort(options.address, options.flag) : options.address;
  const token = options.token || undefined;
  const decision = accessDecision(address, token, options.flag);
  if (!decision.ok) throw new EndpointError(decision.reason);
  const limits = { ...DEFAULT_ENDPOINT_LIMITS, ...options.limits };

  const server = http.createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, limits.headersTimeoutMs),
      joinDuplicateHeaders: true,
    },
    (req, res) => {
      // in progress from its headers until its response is done (an SSE stream: for its life)
      const slot = slots.get(req.socket);
      if (slot) {
        slot.requests++;
        res.once('close', () => slot.requests--);
      }
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://endpoint');
      } catch {
        return sendText(res, 400, 'bad request\n');
      }
      if (token) {
        if (!tokenMatches(requestToken(req, url), token)) {
          res.setHeader('www-authenticate', 'Bearer');
          return sendText(res, 401, 'token required (Authorization: Bearer T or ?token=T)\n');
        }
      } else if (!hostHeaderAllowed(req.headers.host)) {
        return sendText(res, 403, 'this endpoint answers loopback host names only\n');
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        return sendText(res, 405, 'only GET\n');
      }
      if (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding']) {
        return sendText(res, 413, 'no request body accepted\n');
      }
      Promise.resolve()
        .then(() => options.handler(req, res, url))
        .catch((error: Error) => {
          if (!res.headersSent) sendText(res, 500, `${error.message}\n`);
          else res.destroy();
        });
    },
  );
  // Admission at the cap (see the top comment); Map order is arrival order, so the first idle slot found
  // is the oldest.
  const slots = new Map<Socket, { requests: number }>();
  let evicted = 0;
  let refused = 0;
  server.on('connection', (socket: Socket) => {
    if (slots.size >= limits.maxConnections) {
      let victim: Socket | null = null;
      for (const [s, slot] of slots) {
        if (slot.requests === 0) {
          victim = s;
          break;
        }
      }
      if (victim === null) {
        refused++;
        socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        socket.destroySoon();
        return;
      }
      evicted++;
      slots.delete(victim);
      victim.destroy();
    }
    slots.set(socket, { requests: 0 });
    socket.once('close', () => slots.delete(socket));
  });
  server.headersTimeout = limits.headersTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxRequestsPerSocket = 1000;
  server.setTimeout(limits.idleTimeoutMs, (socket) => socket.destroy());
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    const status =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(
        new EndpointError(`${options.flag} ${address.host}:${address.port}: ${error.code ?? error.message}`),
      );
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  const hostText = address.host.includes(':') ? `[${address.host}]` : address.host;
  let closing: Promise<void> | null = null;
  return {
    host: address.host,
    port,
    url: `http://${hostText}:${port}`,
    server,
    maxConnections: limits.maxConnections,
    evicted: () => evicted,
    refused: () => refused,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // SSE streams never end by themselves
      })),
  };
}
