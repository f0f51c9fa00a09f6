// One step of the bench: start `c10k serve` for one model, put one load on it with `c10k load` (a separate
// process, so the bench measures the server alone), sample the server's process tree and its listening
// socket while the load runs, stop the server, and return the figures. A model that fails to start,
// collapses or hangs is a result too: the step always ends, with a status saying what happened.
import { spawn } from 'node:child_process';
import { sockDiagDump } from '../inspect/netlink-socket.ts';
import { readProcNetTcp } from '../inspect/proc-net-tcp.ts';
import { siblingModulePath } from '../module-path.ts';
import type { BenchModel } from './models.ts';
import { treeUsage } from './process-tree.ts';
import { exited, freePort, startServer, stopGroup } from './server-process.ts';

const BIN = siblingModulePath('../../bin/c10k.ts', import.meta.url);

export interface StepOptions {
  connections: number;
  durationMs: number;
  connectTimeoutMs: number;
  size: number;
}

export interface StepResult {
  model: string;
  connections: number;
  /** 'ok', or what went wrong ('server did not start: ...', 'load failed: ...'). */
  status: string;
  established: number;
  failed: number;
  failedBy: Record<string, number>;
  closedByServer: number;
  messages: number;
  msgsPerSec: number;
  mismatches: number;
  latencyUs: { p50: number; p90: number; p99: number; p999: number; max: number } | null;
  /** Server CPU (all its processes) over the whole step, per echoed message. */
  serverCpuUsPerMsg: number | null;
  serverCpuMs: number;
  /** Peak resident memory of the server's processes, and growth over its idle baseline per connection. */
  serverPeakRssBytes: number;
  serverMemPerConnBytes: number | null;
  serverProcesses: number;
  /** The listening socket at its fullest: clients the kernel completed that nobody accepted yet. */
  acceptQueuePeak: number;
  backlog: number;
  loadCpuUsPerMsg: number | null;
  wallMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The port's listening sockets: accept-queue length and backlog (sock_diag; /proc has no backlog). */
async function listeningSockets(port: number): Promise<{ queue: number; backlog: number }[]> {
  const diag = await sockDiagDump([
    { family: 4, states: ['LISTEN'], port },
    { family: 6, states: ['LISTEN'], port },
  ]);
  if (diag.ok) return diag.sockets.map((s) => ({ queue: s.rxQueue, backlog: s.txQueue }));
  return readProcNetTcp({ port })
    .rows.filter((r) => r.state === 'LISTEN')
    .map((r) => ({ queue: r.rxQueue, backlog: 0 }));
}

function tail(text: string, lines = 3): string {
  return text.trim().split('\n').slice(-lines).join(' | ').slice(0, 300);
}

export async function runStep(model: BenchModel, o: StepOptions): Promise<StepResult> {
  const started = Date.now();
  const result: StepResult = {
    model: model.id,
    connections: o.connections,
    status: 'ok',
    established: 0,
    failed: 0,
    failedBy: {},
    closedByServer: 0,
    messages: 0,
    msgsPerSec: 0,
    mismatches: 0,
    latencyUs: null,
    serverCpuUsPerMsg: null,
    serverCpuMs: 0,
    serverPeakRssBytes: 0,
    serverMemPerConnBytes: null,
    serverProcesses: 0,
    acceptQueuePeak: 0,
    backlog: 0,
    loadCpuUsPerMsg: null,
    wallMs: 0,
  };
  const port = await freePort();
  const server = await startServer(model.serveArgs, port);
  if (typeof server === 'string') {
    result.status = server;
    result.wallMs = Date.now() - started;
    return result;
  }
  try {
    const before = treeUsage(server.pid!);
    const loadArgs = [
      BIN,
      'load',
      '--port',
      String(port),
      '--connections',
      String(o.connections),
      '--size',
      String(o.size),
      '--duration',
      `${o.durationMs}ms`,
      '--connect-timeout',
      `${o.connectTimeoutMs}ms`,
      '--json',
      // Many connects in flight, so that the clients a bounded model never accepts time out together; from
      // several source addresses, so that earlier steps' TIME_WAIT ports never run the client out of ports.
      '--max-connecting',
      '2000',
      ...(o.connections >= 2000 ? ['--sources', '8'] : []),
    ];
    const load = spawn(process.execPath, loadArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    load.stdout!.on('data', (d) => (out += d));
    load.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
    const loadDone = exited(load);
    let finished = false;
    void loadDone.then(() => (finished = true));
    const limit = Date.now() + o.connectTimeoutMs + o.durationMs + 30_000;
    while (!finished && Date.now() < limit) {
      const usage = treeUsage(server.pid!);
      result.serverPeakRssBytes = Math.max(result.serverPeakRssBytes, usage.rssBytes);
      result.serverProcesses = Math.max(result.serverProcesses, usage.processes);
      const listeners = await listeningSockets(port);
      for (const l of listeners) {
        result.acceptQueuePeak = Math.max(result.acceptQueuePeak, l.queue);
        result.backlog = Math.max(result.backlog, l.backlog);
      }
      await Promise.race([loadDone, sleep(250)]);
    }
    if (!finished) {
      load.kill('SIGKILL');
      result.status = 'load did not finish in time';
    }
    const after = treeUsage(server.pid!);
    result.serverCpuMs = after.cpuMs - before.cpuMs;
    const code = await loadDone;
    let report: LoadJSON;
    try {
      report = JSON.parse(out);
    } catch {
      result.status = `load failed (exit ${code}): ${tail(err) || 'no output'}`;
      return result;
    }
    fill(result, report, before.rssBytes);
    if (server.exitCode !== null)
      result.status = `server exited during the run: ${server.errorTail() || `code ${server.exitCode}`}`;
    return result;
  } finally {
    await stopGroup(server, 3000);
    result.wallMs = Date.now() - started;
  }
}

interface LoadJSON {
  connections: {
    established: number;
    failed: Record<string, number> & { total: number };
    closedByServer: number;
  };
  messages: number;
  msgsPerSec: number;
  mismatches: number;
  cpuUsPerMsg: number | null;
  latencyUs: { count: number; p50: number; p90: number; p99: number; p999: number; max: number };
}

function fill(r: StepResult, j: LoadJSON, baselineRss: number): void {
  r.established = j.connections.established;
  r.failed = j.connections.failed.total;
  for (const [k, v] of Object.entries(j.connections.failed)) if (k !== 'total' && v > 0) r.failedBy[k] = v;
  r.closedByServer = j.connections.closedByServer;
  r.messages = j.messages;
  r.msgsPerSec = j.msgsPerSec;
  r.mismatches = j.mismatches;
  r.loadCpuUsPerMsg = j.cpuUsPerMsg;
  if (j.latencyUs.count > 0) {
    const { p50, p90, p99, p999, max } = j.latencyUs;
    r.latencyUs = { p50, p90, p99, p999, max };
  }
  r.serverCpuUsPerMsg = j.messages > 0 ? (r.serverCpuMs * 1000) / j.messages : null;
  if (r.established > 0)
    r.serverMemPerConnBytes = Math.max(0, r.serverPeakRssBytes - baselineRss) / r.established;
}
