// c10k load: open many connections to an echo server, drive traffic, check every echoed byte, and
// report connection outcomes, throughput and latency percentiles. The work is in src/load/; this file
// only turns arguments into LoadOptions (with the automatic sources/processes), shows progress, prints.
import { isIPv4 } from 'node:net';
import { defaultEngine } from '../load/engine.ts';
import { PROTOCOLS } from '../load/pattern.ts';
import { progressLine, reportJSON, reportText } from '../load/report.ts';
import { runLoad } from '../load/run.ts';
import { ENGINES, type LoadOptions } from '../load/stats.ts';
import { connectionFdCap } from '../net/fd-cap.ts';
import { bytes, duration, integer, oneOf, parse, UsageError } from './args.ts';

/**
 * Connections per source address before another one is added. One source has ~28K ephemeral ports, but
 * connect() slows to a crawl as that space fills (the kernel probes it port by port) and ports in
 * TIME_WAIT from earlier runs stay taken for a minute: keep each source's space at most a third used.
 */
export const CONNECTIONS_PER_SOURCE = 10_000;
/** Connections per process before another one is forked (open-files limit: 20,000). */
export const CONNECTIONS_PER_PROCESS = 18_000;
const MAX_CONNECTING = 500;

export const HELP = `usage: c10k load --port N [options]

Open --connections to an echo server at HOST:PORT, then send --size-byte messages for --duration
(measured once every connection is up) and check every echoed byte. Closed loop by default (each
connection sends a message, waits for all of it to come back, repeats); --rate makes it open loop,
with latency measured from each message's intended send time (coordinated-omission corrected).
Exits 1 when an echoed byte was wrong or no connection could be made.

  --host ADDR            server address (default 127.0.0.1)
  --port N               server port (required)
  --connections N        connections in total (default 100)
  --connect-rate R       open R connections per second (default: as fast as possible, at most
                         ${MAX_CONNECTING} connects in flight per process)
  --max-connecting N     connects in flight at once per process (default ${MAX_CONNECTING})
  --connect-timeout T    a connect taking longer fails as 'timeout' (default 5s)
  --duration T           measured time, e.g. 10s, 500ms, 2m (default 10s)
  --size B               message size in bytes, e.g. 64, 4k (default 64)
  --rate M               open loop: M messages/s in total, spread over the connections
  --protocol P           ${PROTOCOLS.join(', ')}: framing for the echo, line-echo or a length-prefixed
                         echo app (line: printable bytes ending in '\\n'; length: 4-byte big-endian
                         length, then the payload) (default raw)
  --hold                 open the connections and keep them idle for --duration (no messages)
  --sources N            spread connections over source addresses 127.0.0.2 .. 127.0.0.(N+1)
                         (default: 1 per ${CONNECTIONS_PER_SOURCE.toLocaleString('en-US')} connections above ${CONNECTIONS_PER_SOURCE.toLocaleString('en-US')}, else the kernel's choice)
  --processes N          worker processes (default: 1 per ${CONNECTIONS_PER_PROCESS.toLocaleString('en-US')} connections, to stay below
                         the open-files limit)
  --engine E             ${ENGINES.join(', ')}: sys = one epoll loop over FFI system calls (default on
                         Linux), node = node:net
  --json                 print the report as JSON (histograms included, for merging)
  -h, --help             this text
`;

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  connections: { type: 'string' },
  'connect-rate': { type: 'string' },
  'max-connecting': { type: 'string' },
  'connect-timeout': { type: 'string' },
  duration: { type: 'string' },
  size: { type: 'string' },
  rate: { type: 'string' },
  protocol: { type: 'string' },
  hold: { type: 'boolean' },
  sources: { type: 'string' },
  processes: { type: 'string' },
  engine: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Arguments -> LoadOptions, with the automatic defaults resolved. */
export async function parseLoadArgs(argv: string[]): Promise<LoadOptions | 'help'> {
  const { values: v } = parse(argv, OPTIONS);
  if (v.help) return 'help';
  const port = integer('port', v.port, 1, 65535);
  if (port === undefined) throw new UsageError('--port is required (e.g. --port 7000)');
  const host = v.host ?? '127.0.0.1';
  const connections = integer('connections', v.connections, 1, 10_000_000) ?? 100;
  const size = bytes('size', v.size) ?? 64;
  if (size < 1 || size > 64 << 20) throw new UsageError(`--size must be from 1 byte to 64m, got ${size}`);
  if (v.hold && v.rate !== undefined) throw new UsageError('--hold sends no messages: drop --rate');
  const loopbackV4 = isIPv4(host) && host.startsWith('127.');
  let nSources = integer('sources', v.sources, 0, 254);
  if (nSources !== undefined && nSources > 0 && !loopbackV4) {
    throw new UsageError(`--sources picks addresses in 127.0.0.0/8, so --host must be one too, got ${host}`);
  }
  nSources ??=
    loopbackV4 && connections > CONNECTIONS_PER_SOURCE ? Math.ceil(connections / CONNECTIONS_PER_SOURCE) : 0;
  if (nSources > 254) throw new UsageError(`${connections} connections need more than 254 source addresses`);
  const processes = Math.min(
    connections,
    integer('processes', v.processes, 1, 256) ??
      // Each worker inherits this process's open-files limit: under a lowered one, more of them.
      Math.ceil(connections / Math.min(CONNECTIONS_PER_PROCESS, connectionFdCap())),
  );
  const engine = oneOf('engine', v.engine, ENGINES) ?? (await defaultEngine());
  if (engine === 'sys' && (await defaultEngine()) !== 'sys') {
    throw new UsageError('--engine sys needs Linux and the koffi bindings; use --engine node');
  }
  return {
    host,
    port,
    connections,
    connectRate: integer('connect-rate', v['connect-rate'], 1) ?? 0,
    maxConnecting: integer('max-connecting', v['max-connecting'], 1, 100_000) ?? MAX_CONNECTING,
    connectTimeout: duration('connect-timeout', v['connect-timeout']) ?? 5000,
    duration: duration('duration', v.duration) ?? 10_000,
    size,
    rate: integer('rate', v.rate, 1) ?? 0,
    protocol: oneOf('protocol', v.protocol, PROTOCOLS) ?? 'raw',
    sources: Array.from({ length: nSources }, (_, i) => `127.0.0.${i + 2}`),
    processes,
    hold: v.hold ?? false,
    engine,
  };
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
    const s = result.stats;
    return s.mismatches > 0 || s.established === 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
