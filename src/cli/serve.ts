// c10k serve: run an app under one I/O model until SIGINT/SIGTERM, then stop gracefully and exit 0.
import { availableParallelism } from 'node:os';
import { TOKEN_ENV } from '../admin/token.ts';
import { createLogger, LOG_LEVELS } from '../log.ts';
import { MODELS } from '../models/index.ts';
import { BACKENDS } from '../models/types.ts';
import { DEFAULT_LIMITS } from '../net/limits.ts';
import { DEFAULT_BACKEND, serve } from '../serve.ts';
import { bytes, duration, integer, oneOf, parse, UsageError } from './args.ts';
import { parseAdminArgs, startAdmin } from './serve-admin.ts';

export const HELP = `usage: c10k serve --app APP [options]

Serve APP (a built-in app or a module whose default export is defineApp(...)) under one I/O model.
Stops on SIGINT/SIGTERM: stops accepting, lets connections finish (--drain-timeout), exits 0.
SIGHUP reloads the workers of multi-process models (new workers accept before old ones drain).

  --app NAME|PATH          echo, line-echo, kv, http, chat, ws-echo, ws-chat, or a module path
                           (required)
  --model NAME             ${Object.keys(MODELS).join(', ')} (default reactor)
  --backend NAME           ${BACKENDS.join(', ')} (default ${DEFAULT_BACKEND})
  --host ADDR              address to listen on (default 127.0.0.1)
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
  --idle-timeout T         close connections silent for T (e.g. 30s; default: never)
  --partial-timeout T      close connections holding an incomplete message for T (default: never)
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
  --max-children N         process-per-connection: concurrent children (default 256)
  --multiplexer NAME       syscall reactor: select, poll, epoll (default epoll)
  --trigger level|edge     epoll trigger mode (default edge, as nginx: a ready socket is reported once
                           and read until drained; level re-polls it on every wait)
  --read-batch N           syscall reactor: read up to N ready sockets, then hand their messages to the
                           app, then send its replies (default 32, as Redis answers before it waits
                           again; 1: each read is handled and answered before the next)
  --balance reuseport|shared  multi-reactor port sharing (default reuseport)
  --proxy-protocol         expect a PROXY protocol v1/v2 header from trusted proxies; the client it
                           names becomes the connection's remote address
  --trusted-proxies CIDRS  who may send that header (default 127.0.0.0/8,::1/128); a header from
                           anyone else closes the connection
  --status HOST:PORT       serve the server's own counters as JSON (GET /status): totals, per worker
  --metrics HOST:PORT      serve them in Prometheus text format (GET /metrics), with event-loop delay
  --token T                required on every --status/--metrics request (Authorization: Bearer T or
                           ?token=T); needed to bind them anywhere but loopback (default: $${TOKEN_ENV})
  --ws-ping T              WebSocket apps (ws-echo, ws-chat, any app on the websocket codec): ping
                           each open WebSocket every T; one that has not answered by the next ping
                           is closed (default: never)
  --ws-max-message B       largest WebSocket message, all fragments together (default 1m): a larger
                           one is refused with close code 1009
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
  balance: { type: 'string' },
  'proxy-protocol': { type: 'boolean' },
  'trusted-proxies': { type: 'string' },
  bus: { type: 'string' },
  'ws-ping': { type: 'string' },
  'ws-max-message': { type: 'string' },
  status: { type: 'string' },
  metrics: { type: 'string' },
  token: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, OPTIONS);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (v.app === undefined) throw new UsageError('--app is required (e.g. --app echo)');
  const logger = createLogger({
    level: oneOf('log-level', v['log-level'], LOG_LEVELS) ?? 'info',
    format: oneOf('log-format', v['log-format'], ['text', 'json'] as const) ?? 'text',
  });
  // Read by every websocket() codec made without its own values, in this process and in every worker
  // (child processes and threads inherit the environment), so they are set before the app loads.
  const wsPing = duration('ws-ping', v['ws-ping']);
  const wsMax = bytes('ws-max-message', v['ws-max-message']);
  if (wsPing !== undefined) process.env.C10K_WS_PING = String(wsPing);
  if (wsMax !== undefined) {
    if (wsMax < 1) throw new UsageError('--ws-max-message must be at least 1 byte');
    process.env.C10K_WS_MAX_MESSAGE = String(wsMax);
  }
  const adminArgs = parseAdminArgs({ status: v.status, metrics: v.metrics, token: v.token });
  const server = await serve({
    app: v.app,
    model: v.model,
    backend: oneOf('backend', v.backend, BACKENDS),
    host: v.host,
    port: integer('port', v.port, 0, 65535) ?? 7000,
    backlog: integer('backlog', v.backlog, 1),
    maxConnections: integer('max-connections', v['max-connections'], 1),
    maxConnectionsPerIp: integer('max-connections-per-ip', v['max-connections-per-ip'], 1),
    idleTimeout: duration('idle-timeout', v['idle-timeout']),
    partialTimeout: duration('partial-timeout', v['partial-timeout']),
    highWaterMark: bytes('high-water-mark', v['high-water-mark']),
    lowWaterMark: bytes('low-water-mark', v['low-water-mark']),
    maxWriteBuffer: bytes('max-write-buffer', v['max-write-buffer']),
    drainTimeout: duration('drain-timeout', v['drain-timeout']),
    exitGrace: duration('exit-grace', v['exit-grace']),
    restartDelay: duration('restart-delay', v['restart-delay']),
    restartDelayMax: duration('restart-delay-max', v['restart-delay-max']),
    workers: v.workers === 'auto' ? undefined : integer('workers', v.workers, 1, 1024),
    maxChildren: integer('max-children', v['max-children'], 1),
    multiplexer: oneOf('multiplexer', v.multiplexer, ['select', 'poll', 'epoll'] as const),
    trigger: oneOf('trigger', v.trigger, ['level', 'edge'] as const),
    readBatch: integer('read-batch', v['read-batch'], 1, 1024),
    balance: oneOf('balance', v.balance, ['reuseport', 'shared'] as const),
    proxyProtocol: v['proxy-protocol'],
    trustedProxies: v['trusted-proxies'],
    bus: v.bus,
    logger,
  });
  // SIGHUP: a rolling reload of the workers, for the models that have them.
  const reload = () => {
    if (!server.reload) {
      logger.warn(`SIGHUP: model ${server.model} has no workers to reload`);
      return;
    }
    logger.info('SIGHUP: reloading workers');
    server.reload().catch((error: Error) => logger.error(`reload failed: ${error.message}`));
  };
  process.on('SIGHUP', reload);
  // Handlers before the 'serving' line: whoever starts us may signal as soon as they read it.
  let stopped!: () => void;
  const stopping = new Promise<void>((resolve) => (stopped = resolve));
  const stop = (signal: string) => {
    logger.info(`${signal}: stopping; connections get up to the drain timeout to finish`);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('SIGHUP', reload);
    stopped();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  logger.info(`${server.model} (${server.backend}) serving ${v.app} on ${server.host}:${server.port}`, {
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
