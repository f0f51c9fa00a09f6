// The server contract: what a server is started with (resolved options, where to listen) and what it
// hands back (a handle that knows where it listens, how it is doing and how to stop gracefully). It sits
// below the backends so they, the apps and the admin endpoint use it without knowing how models assemble
// servers; src/models/types.ts re-exports it for the models and the public API.
import type { App } from '../app.ts';
import type { Logger } from '../log.ts';
import type { ConnectionLimits } from './limits.ts';
import type { ServerStats } from './server-core.ts';
import type { ResolvedTls } from './tls/config.ts';

export type Backend = 'node' | 'syscall';
export const BACKENDS: readonly Backend[] = ['syscall', 'node'];

export interface ServerHandle {
  readonly model: string;
  readonly backend: Backend;
  readonly host: string;
  readonly port: number;
  /** Every connection speaks TLS. */
  tls?: boolean;
  /** Every process serving connections, the current one included (for the inspector and the bench). */
  pids(): number[];
  /** Counters summed over every worker. */
  stats(): Promise<ServerStats>;
  /** Multi-worker models: each live worker's own counters (for --status and --metrics). */
  workerStats?(): Promise<WorkerStats[]>;
  /** Stop accepting, let connections finish (see drainTimeout), close the rest; resolves when all are gone. */
  close(): Promise<void>;
  /** Multi-process models: replace every worker, new ones accepting before old ones drain (SIGHUP). */
  reload?(): Promise<void>;
  /** TLS: serving threads of this process that hold contexts of their own take the re-read PEM text. */
  reloadTls?(tls: ResolvedTls): void;
}

export interface WorkerStats {
  pid: number;
  /** Set for the threads of one process (thread-pool): worker_threads' threadId. */
  thread?: number;
  stats: ServerStats;
}

/** A worker's name in reports: its pid, or pid/thread for a thread. */
export function workerLabel(w: { pid: number; thread?: number }): string {
  return w.thread === undefined ? String(w.pid) : `${w.pid}/${w.thread}`;
}

export interface ResolvedServeOptions {
  /** The app itself (in-process models) and, for worker-based models, how a worker loads it. */
  app: App;
  appSpec: string | undefined;
  model: string;
  backend: Backend;
  host: string;
  port: number;
  backlog: number;
  /**
   * At most this many connections at once: per process for single-process models; for multi-process
   * models the supervisor splits it among the workers (see workerShare()).
   */
  maxConnections: number;
  /** At most this many connections at once from one client address, per serving process (Infinity: off). */
  maxConnectionsPerIp: number;
  limits: ConnectionLimits;
  drainTimeout: number;
  /** How long a worker or child may take to exit once it has finished (or past the drain), in ms. */
  exitGrace: number;
  /** The first delay before a crashed worker or thread is replaced, in ms; doubled per crash in a row. */
  restartDelay: number;
  /** The longest that delay grows to, in ms. */
  restartDelayMax: number;
  logger: Logger;
  workers: number;
  maxChildren: number;
  multiplexer: 'select' | 'poll' | 'epoll';
  trigger: 'level' | 'edge';
  /** Syscall reactor: ready sockets read before their messages are handled and the replies sent. */
  readBatch: number;
  balance: 'reuseport' | 'shared';
  /** Expect a PROXY protocol v1/v2 header from trusted peers (a TCP load balancer in front). */
  proxyProtocol: boolean;
  /** Comma-separated CIDR ranges whose PROXY headers are believed. */
  trustedProxies: string;
  /** The app bus across servers (`redis://HOST:PORT`); undefined: the bus stays within this server. */
  bus?: string;
  /** Keep V8's young generation small (src/models/heap-policy.ts); undefined: the default of the process
   * kind (on in worker processes, off in-process). */
  smallYoungGeneration?: boolean;
  /** TLS on every connection (undefined: plain TCP). */
  tls?: ResolvedTls;
}

/** How a reactor gets its listening socket: its own (optionally SO_REUSEPORT) or an inherited one. */
export interface ListenSpec {
  /** Set SO_REUSEPORT so several processes can each listen on the port (the kernel spreads connections). */
  reusePort?: boolean;
  /** Serve an already listening descriptor (inherited from a supervisor) instead of opening one. */
  fd?: number;
}

/** An error with a one-line message meant for the person at the command line. */
export class ServeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServeError';
  }
}

/** A ServeError caused by an option the caller gave (unknown model, a bad combination): the command line's
 * usage error (exit 2), where a plain ServeError is a runtime failure (exit 1). Its name stays
 * 'ServeError' (what callers matched on before); tell the two apart with instanceof. */
export class ServeOptionError extends ServeError {}

/** The model cannot run on this machine at all (the proactor without io_uring): the command line's
 * choice was wrong for here, so `c10k serve` exits 2 as for a bad argument. */
export class ModelUnavailableError extends ServeOptionError {
  constructor(message: string) {
    super(message);
    this.name = 'ModelUnavailableError';
  }
}
