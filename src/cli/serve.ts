// c10k serve: run an app under one I/O model until SIGINT/SIGTERM, then stop gracefully and exit 0.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { TOKEN_ENV } from '../admin/token.ts';
import { BUILTIN_APPS } from '../apps/index.ts';
import { createLogger, LOG_LEVELS } from '../log.ts';
import { MODELS } from '../models/index.ts';
import { BACKENDS, ModelUnavailableError } from '../models/types.ts';
import { DEFAULT_LIMITS } from '../net/limits.ts';
import type { TlsOptions } from '../net/tls/config.ts';
import { DEFAULT_BACKEND, serve } from '../serve.ts';
import {
  badValue,
  bytes,
  duration,
  hostAddress,
  integer,
  oneOf,
  parse,
  required,
  UsageError,
} from './args.ts';
import { parseAdminArgs, startAdmin } from './serve-admin.ts';

export const HELP = `usage: c10k serve --app APP [options]

Serve APP (a built-in app or a module whose default export is defineApp(...)) under one I/O model.
Stops on SIGINT/SIGTERM: stops accepting, lets connections finish (--drain-timeout), exits 0; a second
SIGINT/SIGTERM stops at once (workers killed, connections dropped) and exits 130/143. SIGQUIT (Ctrl-\\)
is not handled: its default action ends the process at once, with a core dump where ulimit -c allows.
SIGHUP reloads the workers of multi-process models (new workers accept before old ones drain).

  --app NAME|PATH          echo, line-echo, kv, http, chat, ws-echo, ws-chat, or a module path
                           (required)
  --model NAME             ${Object.keys(MODELS).join(', ')} (default reactor)
  --backend NAME           ${BACKENDS.join(', ')} (default ${DEFAULT_BACKEND})
  --host ADDR              address or name to listen on (default 127.0.0.1; a name is resolved first)
  --port N                 port (default 7000; 0 picks a free one)
  --backlog N              accept-queue length asked of listen() (default 4096; the kernel caps it
                           at net.core.somaxconn)
  --max-connections N      refuse connections beyond N at once, over the whole server (default: no
                           cap). Multi-process models split N evenly among the workers and each
                           refuses past its share, so refusals can begin a little before N in total
                           when connections spread unevenly (and, during a reload, an old and a new
                           worker each hold their slot's share). N must be >= --workers there
  --max-connections-per-ip N  refuse connections beyond N at once from one client address (default: no
                           cap); counted per serving process, i.e. per worker under multi-reactor
                           (reactor and multi-reactor models; with --proxy-protocol, per real client)
  Open files: each serving process stops accepting 64 descriptors short of its open-files limit
  (ulimit -n) and resumes below it; the syscall backend leaves new clients in the accept queue
  meanwhile (another worker sharing the socket takes them), the node backend closes them ('fd-limit').
  --idle-timeout T         close connections silent for T (e.g. 30s; 0: never; default: the app's,
                           http 75s, others never)
  --partial-timeout T      close connections holding an incomplete message for T (0: never;
                           default: the app's, http, kv and chat 60s, others never)
  --max-message-bytes B    most bytes held for one unfinished message: a line, a length frame, a RESP
                           command, an HTTP body (default: each codec's own, see the README)
  --max-message-parts N    most parts of one message: RESP arguments, HTTP header fields (default: each
                           codec's own)
  --high-water-mark B      send() reports back-pressure past B queued bytes (default ${DEFAULT_LIMITS.highWaterMark})
  --low-water-mark B       drain() once the queue falls to B (default ${DEFAULT_LIMITS.lowWaterMark})
  --max-write-buffer B     close slow consumers past B queued bytes (default ${DEFAULT_LIMITS.maxWriteBuffer})
  --drain-timeout T        graceful stop waits at most T (default 10s)
  --exit-grace T           worker-based models: a worker or child that has finished (or is still
                           there when the drain timeout ends) is killed if it has not exited T later
                           (default 2s)
  --restart-delay T        a crashed worker or thread is replaced after T (default 100ms), doubled for
                           each crash in a row up to --restart-delay-max (default 5s); a worker that ran
                           twice that long starts the count again
  --restart-delay-max T
  --workers N|auto         worker processes/threads for multi-worker models (default auto = ${availableParallelism()})
  --max-children N         process-per-connection: concurrent children (default: half the memory
                           available / 32 MiB a child, at most 256)
  --multiplexer NAME       syscall reactor: select, poll, epoll (default epoll)
  --trigger level|edge     epoll trigger mode (default edge, as nginx: a ready socket is reported once
                           and read until drained; level re-polls it on every wait)
  --read-batch N           syscall reactor: read up to N ready sockets, then hand their messages to the
                           app, then send its replies (default 32, as Redis answers before it waits
                           again; 1: each read is handled and answered before the next)
  --balance reuseport|shared  multi-reactor port sharing (default reuseport)
  --v8-heap-defaults       proactor and multi-proactor: leave V8's young generation to grow as V8 likes
                           (by default it is kept small, once per process: a burst of accepts would
                           leave memory held per idle connection)
  --proxy-protocol         expect a PROXY protocol v1/v2 header from trusted proxies; the client it
                           names becomes the connection's remote address
  --trusted-proxies CIDRS  who may send that header (default 127.0.0.0/8,::1/128); a header from
                           anyone else closes the connection
  --status HOST:PORT       serve the server's own counters as JSON (GET /status): totals, per worker
  --metrics HOST:PORT      serve them in Prometheus text format (GET /metrics), with event-loop delay;
                           each endpoint: 64 connections, past that a new one closes the oldest one
                           with no request in progress; headers must arrive within 3 s
  --token T                required on every --status/--metrics request (Authorization: Bearer T or
                           ?token=T); needed to bind them anywhere but loopback (default: $${TOKEN_ENV})
  --tls-cert FILE          serve TLS: the certificate chain (PEM); needs --tls-key. SIGHUP reads both
                           files again (open connections keep theirs)
  --tls-key FILE           the certificate's private key (PEM)
  --tls-ca FILE            require client certificates signed by this CA (PEM)
  --alpn LIST              ALPN protocols offered, comma-separated (e.g. http/1.1)
  --tls-handshake-timeout T  close a client whose TLS handshake is not done T after connecting
                           (default 10s)
  --no-tls-session-tickets no session resumption (every handshake a full one)
  --ws-ping T              WebSocket apps (ws-echo, ws-chat, any app on the websocket codec): ping
                           each open WebSocket every T; one that has not answered by the next ping
                           is closed (default: never)
  --ws-max-message B       largest WebSocket message, all fragments together (default 1m): a larger
                           one is refused with close code 1009
  --ws-deflate             offer permessage-deflate to WebSocket clients that ask (default off):
                           up to 32 KiB per connection whose client compresses (see README)
  --bus redis://HOST:PORT  share the app's bus (chat rooms, ...) with every server on this Redis
                           (pub/sub); without it the bus spans this server's workers
  --log-level LEVEL        ${LOG_LEVELS.join(', ')} (default info)
  --log-format text|json   (default text)
  -h, --help               this text
`;

const OPTIONS = {
  app: { type: 'string' },
  model: { type: 'string' },
  backend: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  backlog: { type: 'string' },
  'max-connections': { type: 'string' },
  'max-connections-per-ip': { type: 'string' },
  'idle-timeout': { type: 'string' },
  'partial-timeout': { type: 'string' },
  'max-message-bytes': { type: 'string' },
  'max-message-parts': { type: 'string' },
  'high-water-mark': { type: 'string' },
  'low-water-mark': { type: 'string' },
  'max-write-buffer': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'exit-grace': { type: 'string' },
  'restart-delay': { type: 'string' },
  'restart-delay-max': { type: 'string' },
  workers: { type: 'string' },
  'max-children': { type: 'string' },
  multiplexer: { type: 'string' },
  trigger: { type: 'string' },
  'read-batch': { type: 'string' },
  'v8-heap-defaults': { type: 'boolean' },
  balance: { type: 'string' },
  'proxy-protocol': { type: 'boolean' },
  'trusted-proxies': { type: 'string' },
  bus: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  alpn: { type: 'string' },
  'tls-handshake-timeout': { type: 'string' },
  'no-tls-session-tickets': { type: 'boolean' },
  'ws-ping': { type: 'string' },
  'ws-max-message': { type: 'string' },
  'ws-deflate': { type: 'boolean' },
  status: { type: 'string' },
  metrics: { type: 'string' },
  token: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** --workers auto|N. */
function workers(value: string | undefined): number | undefined {
  if (value === undefined || value === 'auto') return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1024)
    throw badValue('workers', 'auto or a whole number from 1 to 1024', value);
  return Number(value);
}

/** The three write-buffer sizes, checked against each other (and the defaults) in the options' words. */
function waterMarks(high?: string, low?: string, max?: string) {
  const highWaterMark = bytes('high-water-mark', high);
  const lowWaterMark = bytes('low-water-mark', low);
  const maxWriteBuffer = bytes('max-write-buffer', max);
  const h = highWaterMark ?? DEFAULT_LIMITS.highWaterMark;
  const l = lowWaterMark ?? DEFAULT_LIMITS.lowWaterMark;
  const m = maxWriteBuffer ?? DEFAULT_LIMITS.maxWriteBuffer;
  if (l > h && low !== undefined) throw badValue('low-water-mark', `a size <= --high-water-mark (${h})`, low);
  if (l > h) throw badValue('high-water-mark', `a size >= --low-water-mark (${l})`, high!);
  if (m < h && max !== undefined)
    throw badValue('max-write-buffer', `a size >= --high-water-mark (${h})`, max);
  if (m < h) throw badValue('high-water-mark', `a size <= --max-write-buffer (${m})`, high!);
  return { highWaterMark, lowWaterMark, maxWriteBuffer };
}

function tlsArgs(v: {
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
  alpn?: string;
  'tls-handshake-timeout'?: string;
  'no-tls-session-tickets'?: boolean;
}): TlsOptions | undefined {
  const cert = v['tls-cert'];
  const key = v['tls-key'];
  if (cert === undefined && key === undefined) {
    for (const name of ['tls-ca', 'alpn', 'tls-handshake-timeout', 'no-tls-session-tickets'] as const)
      if (v[name] !== undefined) throw new UsageError(`--${name} needs --tls-cert and --tls-key`);
    return undefined;
  }
  if (cert === undefined || key === undefined)
    throw new UsageError('TLS needs both --tls-cert FILE and --tls-key FILE');
  return {
    certFile: cert,
    keyFile: key,
    caFile: v['tls-ca'],
    alpn: v.alpn === undefined ? undefined : v.alpn.split(',').map((p) => p.trim()),
    handshakeTimeout: duration('tls-handshake-timeout', v['tls-handshake-timeout']),
    sessionTickets: v['no-tls-session-tickets'] ? false : undefined,
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, OPTIONS);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const app = required('app', v.app, 'echo');
  // An app that is neither built in nor a file is a usage error (2); one that fails to load is not (1).
  if (!Object.hasOwn(BUILTIN_APPS, app) && !app.startsWith('file:') && !existsSync(resolve(app))) {
    throw badValue('app', `a built-in app (${Object.keys(BUILTIN_APPS).join(', ')}) or a module path`, app);
  }
  const restartDelay = duration('restart-delay', v['restart-delay'], 1, 3_600_000);
  const restartDelayMax = duration('restart-delay-max', v['restart-delay-max'], 1, 3_600_000);
  if (restartDelayMax !== undefined && restartDelayMax < (restartDelay ?? 100)) {
    throw badValue(
      'restart-delay-max',
      `a duration >= --restart-delay (${restartDelay ?? 100}ms)`,
      v['restart-delay-max']!,
    );
  }
  const logger = createLogger({
    level: oneOf('log-level', v['log-level'], LOG_LEVELS) ?? 'info',
    format: oneOf('log-format', v['log-format'], ['text', 'json'] as const) ?? 'text',
  });
  // Read by every websocket() codec made without its own values, in this process and in every worker
  // (child processes and threads inherit the environment), so they are set before the app loads.
  const wsPing = duration('ws-ping', v['ws-ping']);
  const wsMax = bytes('ws-max-message', v['ws-max-message'], 1);
  if (wsPing !== undefined) process.env.C10K_WS_PING = String(wsPing);
  if (wsMax !== undefined) process.env.C10K_WS_MAX_MESSAGE = String(wsMax);
  if (v['ws-deflate']) process.env.C10K_WS_DEFLATE = '1';
  const adminArgs = parseAdminArgs({ status: v.status, metrics: v.metrics, token: v.token });
  const server = await serve({
    app,
    model: oneOf('model', v.model, Object.keys(MODELS)),
    backend: oneOf('backend', v.backend, BACKENDS),
    host: v.host === undefined ? undefined : await hostAddress('host', v.host),
    port: integer('port', v.port, 0, 65535) ?? 7000,
    backlog: integer('backlog', v.backlog, 1, 1 << 20),
    maxConnections: integer('max-connections', v['max-connections'], 1, 1e9),
    maxConnectionsPerIp: integer('max-connections-per-ip', v['max-connections-per-ip'], 1, 1e9),
    idleTimeout: duration('idle-timeout', v['idle-timeout']),
    partialTimeout: duration('partial-timeout', v['partial-timeout']),
    maxMessageBytes: bytes('max-message-bytes', v['max-message-bytes'], 1),
    maxMessageParts: integer('max-message-parts', v['max-message-parts'], 1, 1e9),
    ...waterMarks(v['high-water-mark'], v['low-water-mark'], v['max-write-buffer']),
    drainTimeout: duration('drain-timeout', v['drain-timeout'], 0, 3_600_000),
    exitGrace: duration('exit-grace', v['exit-grace'], 0, 3_600_000),
    restartDelay,
    restartDelayMax,
    workers: workers(v.workers),
    maxChildren: integer('max-children', v['max-children'], 1, 100_000),
    multiplexer: oneOf('multiplexer', v.multiplexer, ['select', 'poll', 'epoll'] as const),
    trigger: oneOf('trigger', v.trigger, ['level', 'edge'] as const),
    readBatch: integer('read-batch', v['read-batch'], 1, 1024),
    // this process is c10k's own; the proactors only: the policy costs the busy syscall reactor CPU
    smallYoungGeneration: !v['v8-heap-defaults'] && (v.model === 'proactor' || v.model === 'multi-proactor'),
    balance: oneOf('balance', v.balance, ['reuseport', 'shared'] as const),
    proxyProtocol: v['proxy-protocol'],
    trustedProxies: v['trusted-proxies'],
    bus: v.bus,
    tls: tlsArgs(v),
    logger,
  }).catch((error: unknown) => {
    // A model this machine cannot run (the proactor without io_uring): a wrong choice here, exit 2.
    throw error instanceof ModelUnavailableError ? new UsageError(error.message) : error;
  });
  // SIGHUP: a rolling reload of the workers, for the models that have them.
  const reload = () => {
    if (!server.reload) {
      logger.warn(`SIGHUP: model ${server.model} has no workers to reload`);
      return;
    }
    logger.info(
      server.model === 'reactor' || server.model === 'iterative'
        ? 'SIGHUP: reloading'
        : 'SIGHUP: reloading workers',
    );
    server.reload().catch((error: Error) => logger.error(`reload failed: ${error.message}`));
  };
  process.on('SIGHUP', reload);
  // Handlers before the 'serving' line: whoever starts us may signal as soon as they read it.
  let stopped!: () => void;
  const stopping = new Promise<void>((resolve) => (stopped = resolve));
  const stop = (signal: string) => {
    logger.info(`${signal}: stopping; connections get up to the drain timeout to finish (again: stop now)`);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('SIGHUP', reload);
    process.once('SIGINT', stopNow);
    process.once('SIGTERM', stopNow);
    stopped();
  };
  // A second Ctrl-C (or SIGTERM) during the drain: every worker and connection child is killed and the
  // server exits at once, 128 + the signal's number as a shell reports a process killed by it.
  const stopNow = (signal: string) => {
    logger.warn(`${signal} again: stopping now; open connections are dropped`);
    for (const pid of server.pids()) {
      if (pid === process.pid) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  logger.info(`${server.model} (${server.backend}) serving ${app} on ${server.host}:${server.port}`, {
    pid: process.pid,
  });
  const admin = await startAdmin(server, adminArgs, logger);
  await stopping;
  await admin.close();
  await server.close();
  const stats = await server.stats();
  logger.info('stopped', {
    accepted: stats.accepted,
    messagesIn: stats.messagesIn,
    messagesOut: stats.messagesOut,
  });
  return 0;
}
