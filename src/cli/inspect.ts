// `c10k inspect`: print what the kernel sees for a port or a process tree, once or every interval.
// All the reading is in src/inspect/; this file only parses arguments and renders a compact table
// (or JSON, one object per refresh with --watch). Exit codes: 0 ok, 1 runtime failure or nothing there
// to inspect, 2 bad arguments.
import { existsSync } from 'node:fs';
import { resolveToken, TOKEN_ENV } from '../admin/token.ts';
import type { JoinedSnapshot } from '../inspect/join.ts';
import { counterDelta, type TcpCounters } from '../inspect/proc-netstat.ts';
import { commandLabel } from '../inspect/proc-process.ts';
import { sample } from '../inspect/sample.ts';
import { formatBytes } from '../inspect/snapshot.ts';
import { workerLabel } from '../models/types.ts';
import { badValue, duration, Failure, integer, parse, UsageError } from './args.ts';

export const HELP = `usage: c10k inspect --port P | --pid N [--sockets] [--watch] [--json] [--interval T]
                    [--status-url URL] [--web HOST:PORT] [--token T]

  -p, --port P      the listening port to inspect (its listener, queues, connections, owner processes)
  --pid N           a server process (and its children) to inspect
  --sockets         list every connected socket (4-tuple, state, queues, owner pid/fd)
  --watch           refresh every interval until Ctrl-C
  --json            machine-readable output (one JSON object per refresh)
  --interval T      refresh interval for --watch and --web, e.g. 500ms, 2s (default 1s; at least 100ms)
  --status-url URL  a server's own counters (c10k serve --status), joined to the kernel's view
  --web HOST:PORT   serve a live page (server-sent events) until Ctrl-C; loopback unless --token
  --token T         required on every --web request (Authorization: Bearer T or ?token=T), and sent
                    to --status-url as a bearer token (default: $${TOKEN_ENV})
  -h, --help        this text

Exits 1 when nothing listens on the port and no socket uses it, or no process has the pid.
`;

const SOCKET_ROWS = 50;

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) for (let i = 0; i < r.length; i++) widths[i] = Math.max(widths[i] ?? 0, r[i].length);
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  '))
    .join('\n');
}

function hostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** Render a snapshot as text; `prev` adds counter deltas since the previous refresh. */
export function render(s: JoinedSnapshot, prev?: TcpCounters): string {
  const out: string[] = [];
  const what = s.port !== undefined ? `port ${s.port}` : `pid ${s.pid}`;
  out.push(`c10k inspect ${what}  ${s.time}  (source: ${s.source}, ${s.elapsedMs.toFixed(0)} ms)`);
  out.push('');
  if (s.listeners.length > 0) {
    const rows = [['LISTEN', 'ACCEPT-Q', 'BACKLOG', 'DROPS', 'OWNER pid/fd']];
    for (const l of s.listeners) {
      rows.push([
        hostPort(l.address, l.port),
        String(l.acceptQueue),
        l.backlog === null ? '?' : String(l.backlog),
        l.drops === null ? '?' : String(l.drops),
        l.owners.map((o) => `${o.pid}/${o.fd}`).join(' ') || '?',
      ]);
    }
    out.push(table(rows));
    for (const l of s.listeners) for (const e of l.explain) out.push(`  - ${e}`);
    out.push('');
  }
  const st = Object.entries(s.states)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  out.push(`connections ${s.connections}   SYN_RECV ${s.synRecv}${st ? `   by state: ${st}` : ''}`);
  const c = s.counters;
  const d = prev ? counterDelta(prev, c) : undefined;
  const delta = (k: keyof TcpCounters) => (d?.[k] ? ` (+${d[k]})` : '');
  out.push(
    `machine: ListenOverflows ${c.ListenOverflows}${delta('ListenOverflows')}  ListenDrops ${c.ListenDrops}${delta('ListenDrops')}` +
      `  SyncookiesSent ${c.SyncookiesSent}${delta('SyncookiesSent')}  TCPBacklogDrop ${c.TCPBacklogDrop}${delta('TCPBacklogDrop')}` +
      `  CurrEstab ${c.CurrEstab}`,
  );
  for (const e of s.explain) out.push(`  - ${e}`);
  out.push('');
  if (s.processes.length > 0) {
    const rows = [['PID', 'ROLE', 'COMMAND', 'FDS/LIMIT', 'RSS', 'CONNS', 'MEM/CONN', 'KERNEL-MEM']];
    for (const p of s.processes) {
      rows.push([
        String(p.pid),
        p.role,
        commandLabel(p.comm, p.cmdline),
        `${p.fds ?? '?'}/${p.fdLimit?.soft ?? 'unlimited'}`,
        p.rss === null ? '?' : formatBytes(p.rss),
        String(p.connections),
        p.processMemoryPerConnection === null ? '-' : formatBytes(p.processMemoryPerConnection),
        `${formatBytes(p.kernelSocketMemory.bytes)} (${p.kernelSocketMemory.source})`,
      ]);
    }
    out.push(table(rows));
    for (const p of s.processes) for (const e of p.explain) out.push(`  - ${p.pid}: ${e}`);
    out.push('');
  } else out.push('no readable process holds these sockets', '');
  if (s.sockets && s.sockets.length === 0) out.push('no connected sockets', '');
  else if (s.sockets) {
    const rows = [['LOCAL', 'REMOTE', 'STATE', 'SEND-Q', 'RECV-Q', 'OWNER pid/fd']];
    for (const k of s.sockets.slice(0, SOCKET_ROWS)) {
      rows.push([
        hostPort(k.localAddress, k.localPort),
        hostPort(k.remoteAddress, k.remotePort),
        k.state,
        String(k.sendQ),
        String(k.recvQ),
        k.owner ? `${k.owner.pid}/${k.owner.fd}` : '-',
      ]);
    }
    out.push(table(rows));
    if (s.sockets.length > SOCKET_ROWS) {
      out.push(`... ${s.sockets.length - SOCKET_ROWS} more (largest queues first; --json lists all)`);
    }
    out.push('');
  }
  if (s.server) out.push(renderServer(s), '');
  if (s.serverError) out.push(`server counters unavailable: ${s.serverError}`, '');
  for (const m of s.missing) out.push(`missing: ${m}`);
  return out.join('\n');
}

function renderServer(s: JoinedSnapshot): string {
  const v = s.server!;
  const t = v.totals;
  const out = [
    `server (${v.url}): ${v.model} (${v.backend}${v.tls ? ', TLS' : ''}), up ${Math.round(v.uptimeMs / 1000)} s: ` +
      `active ${t.active}, accepted ${t.accepted}, rejected ${t.rejected}, messages in/out ${t.messagesIn}/${t.messagesOut}, ` +
      `bytes in/out ${formatBytes(t.bytesIn)}/${formatBytes(t.bytesOut)}`,
  ];
  const rows = [['WORKER', 'ACTIVE', 'KERNEL-CONNS', 'ACCEPTED', 'MSGS-IN', 'BYTES-IN']];
  for (const w of v.workers) {
    rows.push([
      workerLabel(w),
      String(w.stats.active),
      w.kernel ? String(w.kernel.connections) : '-',
      String(w.stats.accepted),
      String(w.stats.messagesIn),
      formatBytes(w.stats.bytesIn),
    ]);
  }
  out.push(table(rows));
  for (const e of v.explain) out.push(`  - ${e}`);
  return out.join('\n');
}

const OPTIONS = {
  port: { type: 'string', short: 'p' },
  pid: { type: 'string' },
  sockets: { type: 'boolean' },
  watch: { type: 'boolean' },
  json: { type: 'boolean' },
  interval: { type: 'string' },
  web: { type: 'string' },
  'status-url': { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Why there is nothing to show for this port or pid, or null when there is something. */
function nothingThere(s: JoinedSnapshot): string | null {
  if (s.pid !== undefined) return existsSync(`/proc/${s.pid}`) ? null : `no process with pid ${s.pid}`;
  if (s.listeners.length > 0 || s.connections > 0 || s.synRecv > 0) return null;
  return `nothing listens on port ${s.port} and no socket uses it`;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, OPTIONS);
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.port === undefined && values.pid === undefined)
    throw new UsageError('--port or --pid is required (e.g. --port 7000)');
  const port = integer('port', values.port, 1, 65535);
  const pid = integer('pid', values.pid, 1, 2 ** 31);
  const interval = duration('interval', values.interval, 100, 3_600_000) ?? 1000;
  const opts = { port, pid, sockets: values.sockets === true };
  const json = values.json === true;
  const token = resolveToken(values.token);
  const statusUrl = values['status-url'];
  if (statusUrl !== undefined && !/^https?:\/\/./.test(statusUrl))
    throw badValue('status-url', 'an http:// URL', statusUrl);
  const sampleOpts = { port, pid, statusUrl, statusToken: token };
  if (values.web !== undefined) {
    if (values.watch || json || values.sockets)
      throw new UsageError('--web runs alone (no --watch, --json or --sockets)');
    return web(values.web, token, sampleOpts, interval);
  }

  let refresh = 0;
  const once = async (prev?: TcpCounters): Promise<JoinedSnapshot> => {
    // every 10th refresh rescans all processes for owners; in between, known owners and their children
    const snap = await sample({ ...sampleOpts, sockets: opts.sockets }, refresh++ % 10 === 0);
    const none = refresh === 1 ? nothingThere(snap) : null;
    if (none !== null) throw new NothingThere(none);
    if (json) process.stdout.write(JSON.stringify(snap) + '\n');
    else process.stdout.write((values.watch ? '\x1b[H\x1b[2J' : '') + render(snap, prev) + '\n');
    return snap;
  };
  try {
    if (!values.watch) {
      await once();
      return 0;
    }
    let prev = (await once()).counters;
    return await new Promise<number>((resolve) => {
      let busy = false;
      const timer = setInterval(async () => {
        if (busy) return;
        busy = true;
        try {
          prev = (await once(prev)).counters;
        } catch (err) {
          clearInterval(timer);
          process.off('SIGINT', stop);
          process.stderr.write(`c10k inspect: ${(err as Error).message}\n`);
          resolve(1);
        }
        busy = false;
      }, interval);
      const stop = () => {
        clearInterval(timer);
        process.off('SIGINT', stop);
        resolve(0);
      };
      process.on('SIGINT', stop);
    });
  } catch (err) {
    if (err instanceof NothingThere) throw new Failure(err.message);
    process.stderr.write(`c10k inspect: ${(err as Error).message}\n`);
    return 1;
  }
}

class NothingThere extends Error {}

/** --web: serve the live page until SIGINT/SIGTERM. */
async function web(
  address: string,
  token: string | undefined,
  opts: Parameters<typeof sample>[0],
  intervalMs: number,
): Promise<number> {
  // node:http and the page are loaded only for --web.
  const [{ startWebInspector }, { accessDecision, parseHostPort }] = await Promise.all([
    import('../inspect/web.ts'),
    import('../admin/http-endpoint.ts'),
  ]);
  // A malformed or refused address is a usage error (2); one that cannot be bound, a runtime one (1).
  let decision: ReturnType<typeof accessDecision>;
  try {
    decision = accessDecision(parseHostPort(address, '--web'), token, '--web');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (!decision.ok) throw new UsageError(decision.reason);
  let server: Awaited<ReturnType<typeof startWebInspector>>;
  try {
    server = await startWebInspector({ ...opts, address, token, intervalMs });
  } catch (err) {
    throw new Failure((err as Error).message);
  }
  process.stderr.write(
    `c10k inspect: live page on ${server.url}/${token ? '?token=...' : ''} (Ctrl-C stops)\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
