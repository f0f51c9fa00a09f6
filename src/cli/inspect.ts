// `c10k inspect`: print what the kernel sees for a port or a process tree, once or every interval.
// All the reading is in src/inspect/; this file only parses arguments and renders a compact table
// (or JSON, one object per refresh with --watch). Exit codes: 0 ok, 1 runtime failure, 2 bad arguments.
import { parseArgs } from 'node:util';
import { counterDelta, type TcpCounters } from '../inspect/proc-netstat.ts';
import { formatBytes, inspect, type Snapshot } from '../inspect/snapshot.ts';

const USAGE = `usage: c10k inspect --port P | --pid N [--sockets] [--watch] [--json] [--interval ms]

  --port P        the listening port to inspect (its listener, queues, connections, owner processes)
  --pid N         a server process (and its children) to inspect
  --sockets       list every connected socket (4-tuple, state, queues, owner pid/fd)
  --watch         refresh every interval until Ctrl-C
  --json          machine-readable output (one JSON object per refresh)
  --interval ms   refresh interval for --watch (default 1000)
  --help          this text`;

const SOCKET_ROWS = 50;

function fail(msg: string): number {
  process.stderr.write(`c10k inspect: ${msg}\n`);
  return 2;
}

function posInt(s: string | undefined, max: number): number | null {
  if (s === undefined || !/^\d+$/.test(s)) return null;
  const n = Number(s);
  return n >= 1 && n <= max ? n : null;
}

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
export function render(s: Snapshot, prev?: TcpCounters): string {
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
        p.comm,
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
  for (const m of s.missing) out.push(`missing: ${m}`);
  return out.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        pid: { type: 'string' },
        sockets: { type: 'boolean' },
        watch: { type: 'boolean' },
        json: { type: 'boolean' },
        interval: { type: 'string' },
        web: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return fail((err as Error).message.split('\n')[0]);
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (values.web) return fail('--web is not yet available');
  if (values.port === undefined && values.pid === undefined) return fail('give --port or --pid');
  const port = values.port === undefined ? undefined : posInt(values.port as string, 65535);
  if (port === null) return fail(`--port must be an integer 1-65535, got "${values.port}"`);
  const pid = values.pid === undefined ? undefined : posInt(values.pid as string, 2 ** 31);
  if (pid === null) return fail(`--pid must be a positive integer, got "${values.pid}"`);
  const interval = values.interval === undefined ? 1000 : posInt(values.interval as string, 3_600_000);
  if (interval === null || interval < 100) return fail(`--interval must be an integer >= 100 (ms)`);
  const opts = { port, pid, sockets: values.sockets === true };
  const json = values.json === true;

  let refresh = 0;
  const once = async (prev?: TcpCounters): Promise<Snapshot> => {
    // every 10th refresh rescans all processes for owners; in between, known owners and their children
    const snap = await inspect({ ...opts, fullScan: refresh++ % 10 === 0 });
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
    process.stderr.write(`c10k inspect: ${(err as Error).message}\n`);
    return 1;
  }
}
