// c10k load: open many connections to an echo server, drive traffic, check every echoed byte, and
// report connection outcomes, throughput and latency percentiles. The work is in src/load/; this file
// only turns arguments into LoadOptions (with the automatic sources/processes), shows progress, prints,
// and decides the exit status (verdict()).
import { readdirSync, readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { defaultEngine } from '../load/engine.ts';
import { PROTOCOLS } from '../load/pattern.ts';
import { progressLine, reportJSON, reportText } from '../load/report.ts';
import { type LoadResult, runLoad } from '../load/run.ts';
import { DEFAULT_TIMEOUT_MS, ENGINES, failedTotal, type LoadOptions } from '../load/stats.ts';
import {
  badValue,
  bytes,
  duration,
  Failure,
  hostAddress,
  integer,
  oneOf,
  parse,
  required,
  UsageError,
} from './args.ts';

/**
 * Connections per source address before another one is added. One source has ~28K ephemeral ports, but
 * connect() slows to a crawl as that space fills (the kernel probes it port by port) and ports in
 * TIME_WAIT from earlier runs stay taken for a minute: keep each source's space at most a third used.
 */
export const CONNECTIONS_PER_SOURCE = 10_000;
/** Connections per process before another one is forked, whatever the open-files limit allows. */
export const CONNECTIONS_PER_PROCESS = 18_000;
/** Descriptors a load process keeps for itself besides its connections (stdio, IPC, epoll, Node's own). */
const FD_RESERVE = 64;
const MAX_CONNECTING = 500;
/** Connections that failed or got no answer, past which the run exits 1 (--max-errors). */
const MAX_ERRORS = '1%';

/** The soft open-files limit of this process (which its load workers inherit), from /proc/self/limits. */
export function openFilesLimit(): number | null {
  try {
    const line = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!line) return null;
    return line[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(line[1]);
  } catch {
    return null;
  }
}

/** Connections one load process can hold under the open-files limit `limit` (null: unknown). */
export function connectionsPerProcess(limit = openFilesLimit()): number {
  if (limit === null) return CONNECTIONS_PER_PROCESS;
  let open = 32;
  try {
    open = readdirSync('/proc/self/fd').length;
  } catch {
    // keep the estimate
  }
  return Math.max(1, Math.min(CONNECTIONS_PER_PROCESS, limit - open - FD_RESERVE));
}

export const HELP = `usage: c10k load --port N [options]

Open --connections to an echo server at HOST:PORT, then send --size-byte messages for --duration
(measured once every connection is up) and check every echoed byte. Closed loop by default (each
connection sends a message, waits for all of it to come back, repeats); --rate makes it open loop,
with latency measured from each message's intended send time (coordinated-omission corrected).

  --host ADDR            server address or name (default 127.0.0.1)
  -p, --port N           server port (required)
  -c, --connections N    connections in total (default 100)
  -d, --duration T       measured time, e.g. 10s, 500ms, 2m; a bare number is seconds (default 10s)
                         (wrk's -d; redis-benchmark's -d, the data size, is --size here)
  -t, --processes N      load processes, each with its own event loop and a share of the connections,
                         as wrk's -t threads (default: as many as the open-files limit needs, below)
  -R, --rate M           open loop: M messages/s in total, spread over the connections (as wrk2's -R)
  --connect-rate R       open R connections per second (default: as fast as possible, at most
                         ${MAX_CONNECTING} connects in flight per process)
  --max-connecting N     connects in flight at once per process (default ${MAX_CONNECTING})
  --connect-timeout T    a connect taking longer fails as 'timeout' (default 5s)
  --timeout T            a connection still waiting for an echo at the end of the run, for T or since
                         the run began, counts as unanswered (as wrk's timeouts) (default ${DEFAULT_TIMEOUT_MS / 1000}s)
  --max-errors N|P%      exit 1 when more than N connections (or P% of those attempted) failed to
                         connect or went unanswered (default ${MAX_ERRORS}; 100% turns this check off)
  --size B               message size in bytes, e.g. 64, 4k (default 64)
  --protocol P           ${PROTOCOLS.join(', ')}: framing for the echo, line-echo or a length-prefixed
                         echo app (line: printable bytes ending in '\\n'; length: 4-byte big-endian
                         length, then the payload; websocket: each connection upgrades first, then
                         sends masked text frames of printable ASCII for ws-echo) (default raw)
  --hold                 open the connections and keep them idle for --duration (no messages)
  --sources N            spread connections over source addresses 127.0.0.2 .. 127.0.0.(N+1)
                         (default: 1 per ${CONNECTIONS_PER_SOURCE.toLocaleString('en-US')} connections above ${CONNECTIONS_PER_SOURCE.toLocaleString('en-US')}, else the kernel's choice)
  --engine E             ${ENGINES.join(', ')}: sys = one epoll loop over FFI system calls (default on
                         Linux), node = node:net
  --tls                  speak TLS (node engine; every connection's handshake is part of connecting);
                         certificates are not checked unless --tls-ca is given
  --tls-ca FILE          check the server's certificate against this CA (PEM)
  --tls-servername NAME  the SNI name sent (default: --host when it is a name)
  --json                 print the report as JSON (histograms included, for merging)
  -h, --help             this text

Processes: each holds as many connections as the open-files limit (ulimit -n, read from
/proc/self/limits) leaves once its own descriptors and ${FD_RESERVE} spare are counted, at most ${CONNECTIONS_PER_PROCESS.toLocaleString('en-US')};
a --processes too few for that is refused.

Exit status: 0 a clean run; 1 when an echoed byte was wrong, no connection could be made, nothing was
echoed at all (a --protocol that does not match the app), or more connections failed or went
unanswered than --max-errors allows (the report is printed first, the reason on stderr); 2 a usage
error; 130 interrupted by Ctrl-C (the partial report, marked INTERRUPTED). A second Ctrl-C stops at
once, without a report.
`;

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  connections: { type: 'string', short: 'c' },
  'connect-rate': { type: 'string' },
  'max-connecting': { type: 'string' },
  'connect-timeout': { type: 'string' },
  timeout: { type: 'string' },
  'max-errors': { type: 'string' },
  duration: { type: 'string', short: 'd' },
  size: { type: 'string' },
  rate: { type: 'string', short: 'R' },
  protocol: { type: 'string' },
  hold: { type: 'boolean' },
  sources: { type: 'string' },
  processes: { type: 'string', short: 't' },
  engine: { type: 'string' },
  tls: { type: 'boolean' },
  'tls-ca': { type: 'string' },
  'tls-servername': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What the command line adds to LoadOptions: the --max-errors threshold. */
export interface CliLoadOptions extends LoadOptions {
  maxErrors: { count: number } | { percent: number };
}

/** "N" connections or "P%" of those attempted. */
function maxErrors(value: string): CliLoadOptions['maxErrors'] {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(value);
  if (m && Number(m[1]) <= 100) return { percent: Number(m[1]) };
  if (m || !/^\d+$/.test(value)) throw badValue('max-errors', 'a count or a percentage like 10 or 1%', value);
  return { count: Number(value) };
}

/** Arguments -> LoadOptions, with the automatic defaults resolved. */
export async function parseLoadArgs(argv: string[]): Promise<CliLoadOptions | 'help'> {
  const { values: v } = parse(argv, OPTIONS);
  if (v.help) return 'help';
  const port = required('port', integer('port', v.port, 1, 65535), '7000');
  const connections = integer('connections', v.connections, 1, 10_000_000) ?? 100;
  const size = bytes('size', v.size) ?? 64;
  if (size < 1 || size > 64 << 20) throw badValue('size', 'a size from 1 byte to 64m', v.size!);
  if (v.hold && v.rate !== undefined) throw new UsageError('--hold sends no messages: drop --rate');
  const host = await hostAddress('host', v.host ?? '127.0.0.1');
  const loopbackV4 = isIPv4(host) && host.startsWith('127.');
  let nSources = integer('sources', v.sources, 0, 254);
  if (nSources !== undefined && nSources > 0 && !loopbackV4) {
    throw new UsageError(
      `--sources picks addresses in 127.0.0.0/8, so --host must be one too, got '${host}'`,
    );
  }
  nSources ??=
    loopbackV4 && connections > CONNECTIONS_PER_SOURCE ? Math.ceil(connections / CONNECTIONS_PER_SOURCE) : 0;
  if (nSources > 254) throw new UsageError(`${connections} connections need more than 254 source addresses`);
  const perProcess = connectionsPerProcess();
  const needed = Math.ceil(connections / perProcess);
  const given = integer('processes', v.processes, 1, 256);
  if (given !== undefined && given < needed) {
    throw badValue(
      'processes',
      `at least ${needed} for ${connections} connections: the open-files limit (${openFilesLimit()}, ulimit -n) lets a process hold ${perProcess}`,
      v.processes!,
    );
  }
  if (given === undefined && needed > 256) {
    throw new UsageError(
      `${connections} connections need ${needed} processes under the open-files limit (${openFilesLimit()}, ulimit -n); raise it`,
    );
  }
  const processes = Math.min(connections, given ?? needed);
  const tls = v.tls ?? false;
  if (!tls && (v['tls-ca'] !== undefined || v['tls-servername'] !== undefined))
    throw new UsageError('--tls-ca and --tls-servername need --tls');
  if (tls && v.engine === 'sys') throw new UsageError('--tls runs on the node engine: drop --engine sys');
  let tlsCa: string | undefined;
  if (v['tls-ca'] !== undefined) {
    try {
      tlsCa = readFileSync(v['tls-ca'], 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read --tls-ca ${v['tls-ca']}: ${(error as NodeJS.ErrnoException).code}`);
    }
  }
  const engine = tls ? 'node' : (oneOf('engine', v.engine, ENGINES) ?? (await defaultEngine()));
  if (engine === 'sys' && (await defaultEngine()) !== 'sys') {
    throw new UsageError('--engine sys needs Linux and the koffi bindings; use --engine node');
  }
  return {
    host,
    port,
    connections,
    connectRate: integer('connect-rate', v['connect-rate'], 1) ?? 0,
    maxConnecting: integer('max-connecting', v['max-connecting'], 1, 100_000) ?? MAX_CONNECTING,
    connectTimeout: duration('connect-timeout', v['connect-timeout'], 1) ?? 5000,
    duration: duration('duration', v.duration, 1) ?? 10_000,
    timeout: duration('timeout', v.timeout, 1) ?? DEFAULT_TIMEOUT_MS,
    maxErrors: maxErrors(v['max-errors'] ?? MAX_ERRORS),
    size,
    rate: integer('rate', v.rate, 1) ?? 0,
    protocol: oneOf('protocol', v.protocol, PROTOCOLS) ?? 'raw',
    sources: Array.from({ length: nSources }, (_, i) => `127.0.0.${i + 2}`),
    processes,
    hold: v.hold ?? false,
    engine,
    tls,
    tlsCa,
    tlsServername: v['tls-servername'],
  };
}

/** Why a finished run failed (exit 1), or null for a clean one. The report says the figures. */
export function verdict(o: CliLoadOptions, s: LoadResult['stats']): string | null {
  if (s.established === 0) return `no connection could be made to ${o.host}:${o.port}`;
  if (s.mismatches > 0) return `${s.mismatches} echoed message(s) differed from what was sent`;
  if (!o.hold && s.messages === 0) {
    const hint =
      o.protocol === 'raw'
        ? 'a line-echo app needs --protocol line, a length-prefixed one --protocol length'
        : `the app may not frame messages as --protocol ${o.protocol} does (raw for echo, line for line-echo)`;
    return `nothing was echoed in the whole run: is the server an echo app? (${hint})`;
  }
  const errors = failedTotal(s) + s.unanswered;
  const allowed = 'count' in o.maxErrors ? o.maxErrors.count : (s.attempted * o.maxErrors.percent) / 100;
  if (errors > allowed) {
    const limit = 'count' in o.maxErrors ? `${o.maxErrors.count}` : `${o.maxErrors.percent}%`;
    return (
      `${errors} of ${s.attempted} connections failed (${failedTotal(s)}) or got no answer (${s.unanswered}): ` +
      `more than --max-errors ${limit}`
    );
  }
  return null;
}

export async function run(argv: string[]): Promise<number> {
  const options = await parseLoadArgs(argv);
  if (options === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const json = argv.includes('--json');
  const live = !json && process.stderr.isTTY === true;
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  let lastMsgs = 0;
  let lastAt = performance.now();
  try {
    const result = await runLoad(options, {
      signal: abort.signal,
      onProgress: live
        ? (c, phase) => {
            const now = performance.now();
            const rate = ((c.messages - lastMsgs) * 1000) / (now - lastAt);
            lastMsgs = c.messages;
            lastAt = now;
            process.stderr.write(`\r${progressLine(c, phase, rate)}\x1b[K`);
          }
        : undefined,
    });
    if (live) process.stderr.write('\r\x1b[K');
    process.stdout.write(json ? JSON.stringify(reportJSON(result), null, 2) + '\n' : reportText(result));
    if (result.interrupted) return 130;
    const why = verdict(options, result.stats);
    if (why !== null) throw new Failure(why);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
