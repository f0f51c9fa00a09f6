// serve(): options in, a running server out. Resolves defaults once, loads the app, picks the model's
// start function for the backend, and turns every refusal into a one-line ServeError.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { type App, isApp } from './app.ts';
import { loadApp } from './apps/index.ts';
import { parseBusUrl } from './bus/redis.ts';
import { startAppRuntime } from './bus/runtime.ts';
import { createLogger, type Logger } from './log.ts';
import {
  CHILD_BYTES,
  CHILD_CEILING,
  CHILD_MEMORY_SHARE,
  type ChildCap,
  defaultChildCap,
} from './models/child-cap.ts';
import { MODELS } from './models/index.ts';
import {
  BACKENDS,
  type Backend,
  type ResolvedServeOptions,
  ServeError,
  ServeOptionError,
  type ServerHandle,
} from './models/types.ts';
import { type ConnectionLimits, resolveLimits } from './net/limits.ts';
import { DEFAULT_TRUSTED_PROXIES } from './net/server-core.ts';
import { type ResolvedTls, rereadTls, resolveTls, type TlsOptions } from './net/tls/config.ts';
import { reloadTlsContexts } from './net/tls/context.ts';
import { parseCidrList } from './protocols/cidr.ts';
import { syscallBackendAvailable } from './sys/index.ts';

export interface ServeOptions extends Partial<ConnectionLimits> {
  /** An app made with defineApp(), a built-in app name ('echo', ...) or a module path. */
  app: App | string;
  model?: string;
  backend?: Backend;
  host?: string;
  /** 0 picks a free port (see handle.port). */
  port?: number;
  backlog?: number;
  /** At most this many connections at once, over every worker (multi-process models split it). */
  maxConnections?: number;
  /** At most this many connections at once from one client address, per serving process. */
  maxConnectionsPerIp?: number;
  /** How long a graceful stop waits for connections to finish, in ms (default 10 s). */
  drainTimeout?: number;
  /** Worker-based models: how long a finished worker or connection child may take to exit before it
   * is killed, in ms (default 2 s); during a stop, counted from the end of the drain timeout. */
  exitGrace?: number;
  /** Worker-based models: the delay before a crashed worker is replaced, in ms (default 100), doubled
   * for each crash in a row up to restartDelayMax (default 5 s); a run of twice that resets it. */
  restartDelay?: number;
  restartDelayMax?: number;
  logger?: Logger;
  workers?: number;
  maxChildren?: number;
  multiplexer?: 'select' | 'poll' | 'epoll';
  trigger?: 'level' | 'edge';
  /** Syscall reactor: how many ready sockets are read before their messages are handled and the replies
   * sent (default 32; 1: each read is handled and answered before the next). */
  readBatch?: number;
  balance?: 'reuseport' | 'shared';
  /** Read a PROXY protocol header (v1 or v2) first on connections from trusted proxies. */
  proxyProtocol?: boolean;
  /** CIDR ranges trusted to send PROXY headers (default loopback: 127.0.0.0/8,::1/128). */
  trustedProxies?: string | string[];
  /** Share the app's bus with every server on this Redis: `redis://HOST:PORT` (pub/sub). */
  bus?: string;
  /** Event-loop models (reactor, proactor, the workers of multi-reactor/multi-proactor): keep V8's young
   * generation small (process-wide V8 flags and one full GC, once per process: src/models/heap-policy.ts),
   * so a burst of accepts leaves no young-generation memory per idle connection. Default: on in worker
   * processes, off for a reactor or proactor in this process (the process is the caller's). */
  smallYoungGeneration?: boolean;
  /** Serve TLS on every connection: PEM certificate and key (or files), optional client CA, ALPN. */
  tls?: TlsOptions;
}

/** The syscall backend where it runs (Linux with koffi), node:net elsewhere. */
export const DEFAULT_BACKEND: Backend = syscallBackendAvailable() ? 'syscall' : 'node';

export async function resolveServeOptions(options: ServeOptions): Promise<ResolvedServeOptions> {
  const model = options.model ?? 'reactor';
  if (!Object.hasOwn(MODELS, model)) {
    throw new ServeOptionError(`unknown model '${model}' (models: ${Object.keys(MODELS).join(', ')})`);
  }
  const backend = options.backend ?? DEFAULT_BACKEND;
  if (!BACKENDS.includes(backend))
    throw new ServeOptionError(`unknown backend '${backend}' (backends: ${BACKENDS.join(', ')})`);
  const int = (name: string, value: number | undefined, fallback: number, min: number, max: number) => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < min || v > max)
      throw new ServeOptionError(`${name} must be an integer from ${min} to ${max}, got ${v}`);
    return v;
  };
  const app = isApp(options.app) ? options.app : await loadApp(String(options.app));
  let limits: ConnectionLimits;
  try {
    // the server's own setting, else the app's default (e.g. http: nginx's timeouts), else DEFAULT_LIMITS
    limits = resolveLimits({
      ...options,
      idleTimeout: options.idleTimeout ?? app.timeouts.idleTimeout,
      partialTimeout: options.partialTimeout ?? app.timeouts.partialTimeout,
    });
  } catch (error) {
    throw new ServeOptionError((error as Error).message);
  }
  const childCap =
    options.maxChildren === undefined && model === 'process-per-connection' ? defaultChildCap() : null;
  const restartDelay = int('restartDelay', options.restartDelay, 100, 1, 3_600_000);
  const restartDelayMax = int(
    'restartDelayMax',
    options.restartDelayMax,
    Math.max(5000, restartDelay),
    1,
    3_600_000,
  );
  if (restartDelayMax < restartDelay)
    throw new ServeOptionError(
      `restartDelayMax (${restartDelayMax}) is below restartDelay (${restartDelay})`,
    );
  const resolved: ResolvedServeOptions = {
    app,
    appSpec: typeof options.app === 'string' ? options.app : undefined,
    model,
    backend,
    host: await listenAddress(options.host ?? '127.0.0.1'),
    port: int('port', options.port, 0, 0, 65535),
    backlog: int('backlog', options.backlog, 4096, 1, 1 << 20),
    maxConnections:
      options.maxConnections === undefined
        ? Infinity
        : int('maxConnections', options.maxConnections, 0, 1, 1e9),
    maxConnectionsPerIp:
      options.maxConnectionsPerIp === undefined
        ? Infinity
        : int('maxConnectionsPerIp', options.maxConnectionsPerIp, 0, 1, 1e9),
    limits,
    drainTimeout: int('drainTimeout', options.drainTimeout, 10_000, 0, 3_600_000),
    exitGrace: int('exitGrace', options.exitGrace, 2000, 0, 3_600_000),
    restartDelay,
    restartDelayMax,
    logger: options.logger ?? createLogger(),
    workers: int('workers', options.workers, availableParallelism(), 1, 1024),
    maxChildren: int('maxChildren', options.maxChildren, childCap?.cap ?? CHILD_CEILING, 1, 100_000),
    multiplexer: options.multiplexer ?? 'epoll',
    trigger: options.trigger ?? 'edge',
    readBatch: int('readBatch', options.readBatch, 32, 1, 1024),
    balance: options.balance ?? 'reuseport',
    proxyProtocol: options.proxyProtocol ?? false,
    trustedProxies: trustedProxies(options.trustedProxies),
    bus: busUrl(options.bus),
    tls: tlsSettings(options.tls),
    ...(options.smallYoungGeneration !== undefined
      ? { smallYoungGeneration: options.smallYoungGeneration }
      : {}),
  };
  startupNotes.set(resolved, defaultsNote(options, resolved, childCap));
  return resolved;
}

const startupNotes = new WeakMap<ResolvedServeOptions, string>();

/** One line for the log at startup: each default limit that applies, and where its value comes from. */
function defaultsNote(options: ServeOptions, r: ResolvedServeOptions, childCap: ChildCap | null): string {
  const ms = (v: number) => (v === 0 ? 'off' : v % 1000 === 0 ? `${v / 1000}s` : `${v}ms`);
  const origin = (key: 'idleTimeout' | 'partialTimeout') =>
    options[key] !== undefined ? 'set' : r.app.timeouts[key] !== undefined ? "the app's default" : 'default';
  const parts = [
    `idle-timeout ${ms(r.limits.idleTimeout)} (${origin('idleTimeout')})`,
    `partial-timeout ${ms(r.limits.partialTimeout)} (${origin('partialTimeout')})`,
    `max-write-buffer ${r.limits.maxWriteBuffer} bytes`,
    `max-connections ${Number.isFinite(r.maxConnections) ? r.maxConnections : 'none (accepting stops 64 descriptors short of the open-files limit)'}`,
  ];
  if (r.model === 'process-per-connection') {
    const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
    parts.push(
      childCap === null
        ? `max-children ${r.maxChildren} (set)`
        : `max-children ${r.maxChildren} (= max(1, min(${CHILD_CEILING}, ${childCap.source} ${gib(childCap.available)} x ${CHILD_MEMORY_SHARE} / ${CHILD_BYTES / 1024 ** 2} MiB a child)))`,
    );
  }
  return `limits: ${parts.join(', ')}`;
}

/** A host name becomes the address it resolves to (as node:net's listen() does), so that the syscall
 * backend, which binds addresses, takes names too. */
async function listenAddress(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host)).address;
  } catch (error) {
    throw new ServeOptionError(`host '${host}' does not resolve (${(error as NodeJS.ErrnoException).code})`);
  }
}

function tlsSettings(options: TlsOptions | undefined): ResolvedTls | undefined {
  if (options === undefined) return undefined;
  try {
    return resolveTls(options);
  } catch (error) {
    throw new ServeError((error as Error).message);
  }
}

/**
 * A TLS server's reload (SIGHUP): read the certificate and key files again, then this process's
 * contexts take them for new connections; worker models also replace their workers, which start with
 * the new text; process-per-connection's next children get it. Open connections keep theirs.
 */
function withTlsReload(handle: ServerHandle, tls: ResolvedTls, logger: Logger): ServerHandle {
  handle.tls = true;
  const workers = handle.reload?.bind(handle);
  handle.reload = async () => {
    try {
      if (rereadTls(tls)) logger.info('TLS certificate and key read again');
    } catch (error) {
      logger.error(`TLS reload failed, keeping the previous certificate: ${(error as Error).message}`);
      return;
    }
    reloadTlsContexts();
    handle.reloadTls?.(tls);
    if (workers) await workers();
  };
  return handle;
}

function busUrl(url: string | undefined): string | undefined {
  if (url === undefined || url === '') return undefined;
  try {
    parseBusUrl(url);
  } catch (error) {
    throw new ServeOptionError((error as Error).message);
  }
  return url;
}

/** Models whose app runs in this process: serve() runs its setup(); the others do it in their workers. */
const APP_IN_THIS_PROCESS = new Set(['reactor', 'proactor', 'iterative']);

function trustedProxies(list: string | string[] | undefined): string {
  const text = Array.isArray(list) ? list.join(',') : (list ?? DEFAULT_TRUSTED_PROXIES);
  try {
    parseCidrList(text);
  } catch (error) {
    throw new ServeOptionError(`trusted proxies: ${(error as Error).message}`);
  }
  return text;
}

/** The models whose accept path checks maxConnectionsPerIp (the bounded models serve few at a time). */
const PER_IP_MODELS = new Set(['reactor', 'multi-reactor', 'proactor', 'multi-proactor']);
/** What becomes of messages between clients under the models whose workers serve one client at a time. */
const ONE_CLIENT_PER_WORKER: Record<string, string> = {
  iterative: 'it serves one client at a time, so there is no other client to pass them to',
  prefork:
    'each worker serves one client at a time: as many clients as --workers take part, the rest wait in the accept queue',
  'thread-pool':
    'each thread serves one client at a time: as many clients as --workers take part, the rest wait in the queue',
};

export async function serve(options: ServeOptions): Promise<ServerHandle> {
  const resolved = await resolveServeOptions(options);
  const handle = await serveResolved(resolved);
  return resolved.tls ? withTlsReload(handle, resolved.tls, resolved.logger) : handle;
}

async function serveResolved(resolved: ResolvedServeOptions): Promise<ServerHandle> {
  const startModel = MODELS[resolved.model].backends[resolved.backend];
  if (typeof startModel !== 'function') {
    throw new ServeOptionError(
      startModel ?? `model '${resolved.model}' does not run on the ${resolved.backend} backend`,
    );
  }
  if (Number.isFinite(resolved.maxConnectionsPerIp) && !PER_IP_MODELS.has(resolved.model)) {
    throw new ServeOptionError(
      `--max-connections-per-ip is enforced by the reactor and multi-reactor models (and the proactor ones), not '${resolved.model}'`,
    );
  }
  // The limits in force, once the server is listening (a failed start says only why it failed).
  const start = (r: ResolvedServeOptions) =>
    startModel(r).then((handle) => {
      r.logger.info(startupNotes.get(r)!);
      return handle;
    });
  const fate = ONE_CLIENT_PER_WORKER[resolved.model];
  if (resolved.app.crossClient && fate !== undefined) {
    resolved.logger.warn(
      `app '${resolved.appSpec ?? 'custom'}' passes messages between clients; under ${resolved.model} ${fate} (run it under reactor or multi-reactor)`,
    );
  }
  if (!APP_IN_THIS_PROCESS.has(resolved.model) || resolved.app.setup === undefined) return start(resolved);
  let runtime: Awaited<ReturnType<typeof startAppRuntime>>;
  try {
    runtime = await startAppRuntime(resolved.app, {
      logger: resolved.logger,
      where: 'local',
      url: resolved.bus,
    });
  } catch (error) {
    throw new ServeError((error as Error).message);
  }
  let handle: ServerHandle;
  try {
    handle = await start(resolved);
  } catch (error) {
    await runtime.close();
    throw error;
  }
  // The app's teardown runs once the last connection is gone.
  const closeServer = handle.close.bind(handle);
  let closing: Promise<void> | null = null;
  handle.close = () => (closing ??= closeServer().finally(() => runtime.close()));
  return handle;
}
