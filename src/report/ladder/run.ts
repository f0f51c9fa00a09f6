// c10k bench --ladder: climb 10K -> 100K -> 1M concurrent connections on one box. Each rung starts a
// multi-reactor server sized from the open-files limit, connects the load over processes and source
// addresses 127.0.0.2.., holds every connection idle, measures memory (server above its workers' idle
// baseline, load processes, kernel slab), times `c10k inspect --json`, then has every connection echo
// a verified message (open loop, paced), closes, and stops. A rung that cannot be reached is recorded
// with its reason, and the climb stops there.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readCounterGroups } from '../../inspect/proc-netstat.ts';
import { runLoad } from '../../load/run.ts';
import { failedTotal, type LoadOptions } from '../../load/stats.ts';
import { siblingModulePath } from '../../module-path.ts';
import { ownCpuMsUnder, treeUsage } from '../process-tree.ts';
import { freePort, startServer, stopGroup } from '../server-process.ts';
import {
  type Blocker,
  kernelBlockers,
  type Limits,
  type Plan,
  planRung,
  readKernelMemory,
  readLimits,
} from './plan.ts';

/** Small young-generation semi-spaces for the ladder's workers: V8 grows them towards 16 MB each under a
 * burst of accepts, a large share of each idle connection's memory (figures: docs/performance.md). */
export const DEFAULT_SERVER_NODE_OPTIONS = '--max-semi-space-size=2';

/**
 * The load's processes run at a lower priority than the server: on two cores shared by ~60 workers and
 * ~56 load processes, an equal share let the load connect faster than the workers accepted, the accept
 * queues (somaxconn) overflowed and each dropped SYN waited 1 s (then 3 s, 7 s) to be resent.
 */
export const DEFAULT_LOAD_NICE = 5;

const BIN = siblingModulePath('../../../bin/c10k.ts', import.meta.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LadderOptions {
  rungs: number[];
  /** Idle hold once every connection is up, ms. */
  holdMs: number;
  /** First echoes a second the box is expected to manage: the echo window is 1.5 x n / echoRate. */
  echoRate: number;
  size: number;
  backend: 'syscall' | 'node';
  /** A rung stops (recorded as ENOMEM) when MemAvailable falls under this. */
  minAvailableBytes: number;
  /** Time `c10k inspect --port P --json` at each rung. */
  inspect: boolean;
  /** Nice value of the load's processes (0 or unset: as this process). */
  loadNice?: number;
  /** NODE_OPTIONS for the server and its workers (default none: V8's defaults). */
  serverNodeOptions?: string;
  onLine?(line: string): void;
}

export interface RungResult {
  connections: number;
  status: 'ok' | 'blocked' | 'partial' | 'failed';
  reason: string;
  plan: Plan;
  blockers: Blocker[];
  established: number;
  failed: Record<string, number>;
  otherCodes: Record<string, number>;
  /** Connections that echoed at least one message, every byte verified. */
  echoed: number;
  mismatches: number;
  connectMs: number;
  connectsPerSec: number;
  echoP50Us: number | null;
  echoP99Us: number | null;
  /** RSS sums of the server's processes (shared pages counted in each process). */
  serverIdleBaselineBytes: number;
  serverHeldBytes: number;
  serverBytesPerConn: number;
  /** Private anonymous memory of the server's processes (JS heap, native allocations, buffers: what the
   * workers allocated, counted once), idle and holding the connections; null where unreadable. */
  serverIdleAnonBytes: number | null;
  serverHeldAnonBytes: number | null;
  serverAnonBytesPerConn: number | null;
  loadBytes: number;
  loadBytesPerConn: number;
  kernelSlabBytesPerConn: number;
  kernelTcpSlabBytesPerConn: number | null;
  memAvailableBeforeBytes: number;
  memAvailableHeldBytes: number;
  inspectMs: number | null;
  inspectSockets: number | null;
  /** Of the connections inspect listed (not LISTEN), how many it found a holding process for. */
  inspectOwned: number | null;
  /** Where inspect's time went (its JSON's phasesMs), and the wall time the CLI took besides. */
  inspectPhasesMs?: Record<string, number>;
  /** While inspect ran: its own CPU time (its JSON's cpuMs, user + system), the CPU time the ladder,
   * its server and its load processes used meanwhile, and the 1-minute load average before it: what
   * else the two cores were doing. */
  inspectCpu?: {
    inspectMs: number | null;
    othersMs: number;
    loadAverage: number;
    /** Its JSON's dumpStats: datagrams and bytes of the sock_diag dump. */
    dump?: { recvs: number; bytes: number };
  };
  totalMs: number;
  /** The echo's own time inside the echo phase (the rest: the load closing its connections and exiting). */
  echoRunMs: number;
  /** NODE_OPTIONS the server ran with ('' for none). */
  serverNodeOptions: string;
  /** Where the rung's time went, ms (see PHASES). */
  phasesMs: Partial<Record<Phase, number>>;
  /** Machine-wide TCP counters that explain slow connects, their growth over the connect phase
   * (ListenOverflows: an accept queue was full; TCPSynRetrans: a SYN resent, 1 s later at first). */
  connectCounters: Record<string, number>;
}

/** The rung's phases in order: server start, its idle baseline, the load's processes starting and
 * connecting (connectMs is the slowest process's own connect phase inside it), the idle hold, the memory
 * reading, inspect --json, the echo, and stopping the server. */
export const PHASES = ['server', 'baseline', 'connect', 'hold', 'memory', 'inspect', 'echo', 'stop'] as const;
export type Phase = (typeof PHASES)[number];

const CONNECT_COUNTERS = [
  'ListenOverflows',
  'ListenDrops',
  'TCPSynRetrans',
  'TCPReqQFullDrop',
  'TCPReqQFullDoCookies',
  'SyncookiesSent',
  'TCPTimeouts',
];

function connectCounters(): Record<string, number> {
  const g = readCounterGroups();
  return Object.fromEntries(CONNECT_COUNTERS.map((k) => [k, g.TcpExt?.[k] ?? 0]));
}

/** "server 1.2 s, baseline 3.0 s, ...": the phases a rung went through. */
export function formatPhases(r: Pick<RungResult, 'phasesMs' | 'connectMs' | 'echoRunMs'>): string {
  const p = r.phasesMs;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return PHASES.filter((k) => p[k] !== undefined)
    .map((k) => {
      if (k === 'connect' && r.connectMs > 0)
        return `connect ${s(p[k]!)} (load processes starting ${s(Math.max(0, p[k]! - r.connectMs))}, connecting ${s(r.connectMs)})`;
      if (k === 'echo' && r.echoRunMs > 0)
        return `echo ${s(p[k]!)} (messages ${s(r.echoRunMs)}, closing and exit ${s(Math.max(0, p[k]! - r.echoRunMs))})`;
      return `${k} ${s(p[k]!)}`;
    })
    .join(', ');
}

/** RSS of the load: its forked processes, or this process's growth since `selfBase` when it runs here. */
function loadRss(serverPid: number, selfBase: number): number {
  const all = treeUsage(process.pid).rssBytes;
  const server = treeUsage(serverPid).rssBytes;
  return Math.max(0, all - server - selfBase);
}

/**
 * The server's idle RSS once every worker runs and the sum has settled (changed under 1% over a
 * second): the port accepts as soon as the first worker listens, and 60 workers take a while to start
 * on a busy 2-core box; a baseline taken before they are all up would charge their start-up to the
 * connections. Gives up waiting after 60 s (the figure is then what it was).
 */
async function idleBaseline(pid: number, processes: number): Promise<number> {
  const until = performance.now() + 60_000;
  let last = treeUsage(pid);
  while (performance.now() < until) {
    await sleep(1000);
    const now = treeUsage(pid);
    if (now.processes >= processes && Math.abs(now.rssBytes - last.rssBytes) < last.rssBytes / 100)
      return now.rssBytes;
    last = now;
  }
  return last.rssBytes;
}

interface InspectTiming {
  ms: number;
  sockets: number | null;
  owned: number | null;
  phasesMs?: Record<string, number>;
  cpu: NonNullable<RungResult['inspectCpu']>;
  error?: string;
}

/** Runs `c10k inspect --port P --json`; its wall time, how many sockets it listed, and what else ran. */
function timeInspect(port: number): Promise<InspectTiming> {
  return new Promise((resolve) => {
    const loadAverage = Number(readFileSync('/proc/loadavg', 'latin1').split(' ')[0]);
    const before = ownCpuMsUnder(process.pid);
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, 'inspect', '--port', String(port), '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-500)));
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(kill);
      const ms = performance.now() - t0;
      // the inspect child is reaped by now: utime + stime of the others only (not cutime)
      let others = 0;
      for (const [pid, ms] of ownCpuMsUnder(process.pid)) others += ms - (before.get(pid) ?? ms);
      const cpu: InspectTiming['cpu'] = { inspectMs: null, othersMs: others, loadAverage };
      let sockets: number | null = null;
      let owned: number | null = null;
      let phasesMs: Record<string, number> | undefined;
      try {
        const j = JSON.parse(out);
        sockets = Array.isArray(j.sockets) ? j.sockets.length : (j.connections ?? null);
        if (typeof j.connectionsOwned === 'number') owned = j.connectionsOwned;
        if (j.phasesMs && typeof j.elapsedMs === 'number')
          phasesMs = { ...j.phasesMs, cli: Math.round(ms - j.elapsedMs) };
        if (j.cpuMs) cpu.inspectMs = j.cpuMs.user + j.cpuMs.system;
        if (j.dumpStats) cpu.dump = j.dumpStats;
      } catch {}
      const why = code === null ? 'killed after 60 s' : err.trim() || `exit ${code}`;
      resolve({
        ms,
        sockets,
        owned,
        cpu,
        ...(phasesMs ? { phasesMs } : {}),
        ...(code === 0 ? {} : { error: why }),
      });
    });
  });
}

function reasonOf(r: RungResult): string {
  const f = r.otherCodes;
  const codes = Object.entries(f)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const parts: string[] = [];
  if (r.failed.addrNotAvailable) parts.push(`ports (EADDRNOTAVAIL ${r.failed.addrNotAvailable})`);
  if (r.failed.timeout) parts.push(`accept queue (connect timeout ${r.failed.timeout})`);
  if (r.failed.refused) parts.push(`refused ${r.failed.refused}`);
  if (r.failed.reset) parts.push(`reset ${r.failed.reset}`);
  if (codes) parts.push(codes);
  if (r.established - r.echoed > 0) parts.push(`${r.established - r.echoed} unanswered`);
  if (r.mismatches) parts.push(`${r.mismatches} mismatches`);
  return parts.join('; ');
}

export async function runRung(
  n: number,
  o: LadderOptions,
  limits: Limits = readLimits(),
): Promise<RungResult> {
  const t0 = performance.now();
  const plan = planRung(n, limits);
  const blockers = kernelBlockers(n, limits);
  const r: RungResult = {
    connections: n,
    status: 'ok',
    reason: '',
    plan,
    blockers,
    established: 0,
    failed: {},
    otherCodes: {},
    echoed: 0,
    mismatches: 0,
    connectMs: 0,
    connectsPerSec: 0,
    echoP50Us: null,
    echoP99Us: null,
    serverIdleBaselineBytes: 0,
    serverHeldBytes: 0,
    serverBytesPerConn: 0,
    serverIdleAnonBytes: null,
    serverHeldAnonBytes: null,
    serverAnonBytesPerConn: null,
    loadBytes: 0,
    loadBytesPerConn: 0,
    kernelSlabBytesPerConn: 0,
    kernelTcpSlabBytesPerConn: null,
    memAvailableBeforeBytes: limits.memAvailableBytes,
    memAvailableHeldBytes: 0,
    inspectMs: null,
    inspectSockets: null,
    inspectOwned: null,
    totalMs: 0,
    phasesMs: {},
    connectCounters: {},
    serverNodeOptions: o.serverNodeOptions ?? '',
    echoRunMs: 0,
  };
  let mark = t0;
  const lap = (k: Phase) => {
    const now = performance.now();
    r.phasesMs[k] = Math.round(now - mark);
    mark = now;
  };
  if (blockers.length > 0) {
    r.status = 'blocked';
    r.reason = blockers
      .map((b) => `${b.setting} (${b.reason}): have ${b.have}, need ${b.need}: ${b.fix}`)
      .join('; ');
    return r;
  }
  const port = await freePort();
  const server = await startServer(
    ['--model', 'multi-reactor', '--workers', String(plan.workers), '--backend', o.backend],
    port,
    o.serverNodeOptions,
  );
  if (typeof server === 'string') {
    r.status = 'failed';
    r.reason = server;
    return r;
  }
  lap('server');
  let guard: NodeJS.Timeout | undefined;
  try {
    const base = await idleBaseline(server.pid!, plan.workers + 1);
    r.serverIdleAnonBytes = treeUsage(server.pid!, { anon: true }).anonBytes ?? null;
    lap('baseline');
    const kernel0 = readKernelMemory();
    r.serverIdleBaselineBytes = base;
    // every connection sends one message at once; the phase ends when each has its echo back, at the
    // latest after 3 x n / echoRate (the deadline: a connection still waiting then is unanswered)
    const durationMs = Math.max(5000, Math.ceil((n / o.echoRate) * 3000));
    const options: LoadOptions = {
      host: '127.0.0.1',
      port,
      connections: n,
      connectRate: 0,
      maxConnecting: 500,
      connectTimeout: 30_000,
      duration: durationMs,
      size: o.size,
      rate: 0,
      protocol: 'raw',
      sources: Array.from({ length: plan.sources }, (_, i) => `127.0.0.${i + 2}`),
      processes: plan.loadProcesses,
      hold: false,
      once: true,
      engine: 'sys',
      timeout: durationMs,
      nice: o.loadNice,
    };
    const selfBase = process.memoryUsage.rss();
    let said = 0;
    // the guard: the rung gives up before the box runs out of memory (other work shares it)
    const abort = new AbortController();
    let lowMemory = '';
    guard = setInterval(() => {
      const avail = readKernelMemory().memAvailableBytes;
      if (avail < o.minAvailableBytes && !abort.signal.aborted) {
        lowMemory = `ENOMEM: MemAvailable ${(avail / 2 ** 30).toFixed(1)} GiB, under the ${(o.minAvailableBytes / 2 ** 30).toFixed(1)} GiB the ladder keeps free`;
        o.onLine?.(`  ${n}: ${lowMemory}; stopping the rung`);
        abort.abort();
      }
    }, 250);
    const counters0 = connectCounters();
    const result = await runLoad(options, {
      signal: abort.signal,
      onProgress: (c, phase) => {
        if (phase !== 'connecting' || r.connectMs > 0 || performance.now() - said < 5000) return;
        said = performance.now();
        o.onLine?.(`  ${n}: ${c.established} established, ${failedTotal(c)} failed so far`);
      },
      onConnected: async (c, connectMs) => {
        lap('connect');
        const counters1 = connectCounters();
        for (const k of CONNECT_COUNTERS) r.connectCounters[k] = counters1[k] - counters0[k];
        r.connectMs = Math.round(connectMs);
        r.established = c.established;
        r.connectsPerSec = Math.round(c.established / (connectMs / 1000));
        o.onLine?.(
          `  ${n}: ${c.established} established in ${(connectMs / 1000).toFixed(1)} s; holding idle`,
        );
        await Promise.race([
          sleep(o.holdMs),
          new Promise((r) => abort.signal.addEventListener('abort', r, { once: true })),
        ]);
        lap('hold');
        const usage = treeUsage(server.pid!, { anon: true });
        const held = usage.rssBytes;
        const kernel1 = readKernelMemory();
        r.serverHeldBytes = held;
        r.serverBytesPerConn = Math.round((held - base) / Math.max(1, c.established));
        r.serverHeldAnonBytes = usage.anonBytes ?? null;
        if (r.serverHeldAnonBytes !== null && r.serverIdleAnonBytes !== null)
          r.serverAnonBytesPerConn = Math.round(
            (r.serverHeldAnonBytes - r.serverIdleAnonBytes) / Math.max(1, c.established),
          );
        r.loadBytes = loadRss(server.pid!, selfBase);
        r.loadBytesPerConn = Math.round(r.loadBytes / Math.max(1, c.established));
        r.kernelSlabBytesPerConn = Math.round(
          (kernel1.slabBytes - kernel0.slabBytes) / Math.max(1, c.established),
        );
        r.kernelTcpSlabBytesPerConn =
          kernel1.tcpSlabBytes === null || kernel0.tcpSlabBytes === null
            ? null
            : Math.round((kernel1.tcpSlabBytes - kernel0.tcpSlabBytes) / Math.max(1, c.established));
        r.memAvailableHeldBytes = kernel1.memAvailableBytes;
        lap('memory');
        if (o.inspect && !abort.signal.aborted) {
          const i = await timeInspect(port);
          r.inspectMs = Math.round(i.ms);
          r.inspectSockets = i.sockets;
          r.inspectOwned = i.owned;
          r.inspectCpu = i.cpu;
          if (i.phasesMs) {
            r.inspectPhasesMs = i.phasesMs;
            const phases = Object.entries(i.phasesMs).map(([k, v]) => `${k} ${v}`);
            o.onLine?.(
              `  inspect ${(i.ms / 1000).toFixed(2)} s (${i.sockets ?? '?'} sockets listed, ${i.owned ?? '?'} connections owned), ms by phase: ${phases.join(', ')}; CPU ms: inspect ${i.cpu.inspectMs ?? '?'}, ` +
                `the ladder's other processes meanwhile ${i.cpu.othersMs} (load average ${i.cpu.loadAverage} before); ` +
                `sock_diag dump: ${i.cpu.dump ? `${i.cpu.dump.recvs} datagrams, ${Math.round(i.cpu.dump.bytes / Math.max(1, i.cpu.dump.recvs))} B each` : '?'}`,
            );
          }
          if (i.error) o.onLine?.(`  inspect: ${i.error}`);
          lap('inspect');
        }
        o.onLine?.(
          `  ${n}: every connection echoes one message (deadline ${(durationMs / 1000).toFixed(0)} s)`,
        );
      },
    });
    clearInterval(guard);
    lap('echo');
    const s = result.stats;
    r.failed = Object.fromEntries(Object.entries(s.failed).filter(([, v]) => v > 0));
    r.otherCodes = s.otherCodes;
    r.established = s.established;
    r.echoed = s.answered;
    r.echoRunMs = Math.round(s.elapsedMs);
    r.mismatches = s.mismatches;
    if (s.latency.count > 0) {
      r.echoP50Us = s.latency.percentile(50);
      r.echoP99Us = s.latency.percentile(99);
    }
    if (r.echoed < n || r.mismatches > 0) {
      r.status = r.echoed > 0 ? 'partial' : 'failed';
      r.reason = [lowMemory, reasonOf(r)].filter(Boolean).join('; ') || 'not every connection echoed';
    }
  } catch (error) {
    r.status = 'failed';
    const msg = (error as Error).message;
    r.reason = /ENOMEM|Cannot allocate/.test(msg) ? `ENOMEM: ${msg}` : msg.split('\n')[0];
  } finally {
    clearInterval(guard);
    mark = performance.now();
    await stopGroup(server, 10_000);
    lap('stop');
  }
  r.totalMs = Math.round(performance.now() - t0);
  return r;
}

/** Climbs the rungs in order; stops at the first that is not reached whole. */
export async function runLadder(o: LadderOptions): Promise<RungResult[]> {
  const out: RungResult[] = [];
  for (const n of o.rungs) {
    o.onLine?.(`rung ${n.toLocaleString('en-US')}: ${JSON.stringify(planRung(n, readLimits()))}`);
    const r = await runRung(n, o);
    out.push(r);
    o.onLine?.(`rung ${n.toLocaleString('en-US')}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
    if (r.totalMs > 0) {
      const counters = Object.entries(r.connectCounters)
        .filter(([, v]) => v !== 0)
        .map(([k, v]) => `${k} +${v}`);
      o.onLine?.(
        `  ${n}: ${(r.totalMs / 1000).toFixed(1)} s: ${formatPhases(r)}; while connecting (load at nice ${o.loadNice ?? 0}): ${counters.join(', ') || 'no accept-queue overflow, no SYN resent'}`,
      );
      if (r.established > 0)
        o.onLine?.(
          `  ${n}: server memory per connection above the idle baseline: ${r.serverAnonBytesPerConn ?? '?'} B private (idle ${((r.serverIdleAnonBytes ?? 0) / 2 ** 20).toFixed(0)} MiB), ${r.serverBytesPerConn} B RSS (idle ${(r.serverIdleBaselineBytes / 2 ** 20).toFixed(0)} MiB); server NODE_OPTIONS: ${r.serverNodeOptions || 'none'}`,
        );
    }
    if (r.status !== 'ok') break;
  }
  return out;
}
