// inspect(): one consistent picture of a port or a process tree, joined from the kernel readers.
// Sockets come from sock_diag when it works (kernel-side port filter, listener backlog, socket memory)
// and from /proc/net/tcp otherwise; owners come from /proc/*/fd (socket inodes), because a server is
// whoever holds the listening socket: ours or not, one process or a tree of workers. Reading fd links is
// most of a refresh (docs/performance.md): owners.ts picks whose fd tables to read, owner-scan.ts reads them on a
// worker thread while this thread dumps the sockets.
import { fastFdScanAvailable } from './fd-scan.ts';
import type { DiagSocket, SkMemInfo } from './inet-diag.ts';
import { sockDiagDump } from './netlink-socket.ts';
import { type OwnerScan, startOwnerScan } from './owner-scan.ts';
import {
  completeOwners,
  type Owner,
  type OwnerCandidates,
  ownerCandidates,
  rememberOwners,
  servedBy,
} from './owners.ts';
import { readProcNetTcp, type TcpState } from './proc-net-tcp.ts';
import { readTcpCounters, type TcpCounters } from './proc-netstat.ts';
import { descendantsOf, type FdLimit, readProcessStats } from './proc-process.ts';

export interface InspectOptions {
  port?: number;
  pid?: number;
  /** Include the list of every connected socket. */
  sockets?: boolean;
  /** Use sock_diag (default true); false forces the /proc-only path. */
  netlink?: boolean;
  /** Scan every process for owners even when the last refresh's owners still hold the listeners. */
  fullScan?: boolean;
  /** Sum the kernel's byte counters (tcp_info) of the connected sockets into `kernelBytes`. */
  kernelBytes?: boolean;
}

export { OWNER_SCAN_GIVE_UP, type Owner } from './owners.ts';

export interface ListenerInfo {
  family: 4 | 6;
  address: string;
  port: number;
  inode: number;
  /** Connections that finished the handshake and wait for accept(). */
  acceptQueue: number;
  /** Max accept queue (listen backlog, capped by somaxconn); null without sock_diag. */
  backlog: number | null;
  /** Drops at this listener since it was opened (sk_drops); null without sock_diag. */
  drops: number | null;
  owners: Owner[];
  explain: string[];
}

export interface SocketEntry {
  family: 4 | 6;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: TcpState;
  sendQ: number;
  recvQ: number;
  inode: number;
  owner: Owner | null;
  /** Kernel buffer memory charged to this socket (skmeminfo), when known. */
  kernelMemory?: number;
}

export interface ProcessEntry {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
  role: 'listener' | 'child' | 'other';
  fds: number | null;
  fdLimit: FdLimit | null;
  rss: number | null;
  listeners: number;
  connections: number;
  /** "process memory": RSS / connections held (includes the runtime's baseline). */
  processMemoryPerConnection: number | null;
  /** Kernel socket memory estimate for the connections held, with its source. */
  kernelSocketMemory: { bytes: number; source: 'skmeminfo' | 'queue sizes' };
  explain: string[];
}

export interface Snapshot {
  time: string;
  port?: number;
  pid?: number;
  source: 'sock_diag' | 'procfs';
  /** Figures that could not be read, and why. */
  missing: string[];
  listeners: ListenerInfo[];
  /** Half-open handshakes (SYN received, SYN-ACK sent) on the port(s). */
  synRecv: number;
  /** Connected (non-LISTEN) sockets by state. */
  states: Partial<Record<TcpState, number>>;
  connections: number;
  sockets?: SocketEntry[];
  processes: ProcessEntry[];
  /** Machine-wide (network namespace) counters since boot. */
  counters: TcpCounters;
  explain: string[];
  /** With opts.kernelBytes: bytes received + acked by the connected sockets (tcp_info); null if unknown. */
  kernelBytes?: number | null;
  elapsedMs: number;
}

type Row = Pick<
  DiagSocket,
  | 'family'
  | 'state'
  | 'localAddress'
  | 'localPort'
  | 'remoteAddress'
  | 'remotePort'
  | 'rxQueue'
  | 'txQueue'
  | 'inode'
  | 'skmem'
  | 'tcpInfo'
>;

export function skmemBytes(m: SkMemInfo): number {
  return m.rmemAlloc + m.wmemQueued + m.fwdAlloc;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function explainListener(l: ListenerInfo): string[] {
  const q = l.acceptQueue;
  const wait = `${q} client${q === 1 ? '' : 's'} finished the handshake and wait${q === 1 ? 's' : ''} for accept()`;
  const out = [
    l.backlog === null
      ? `accept queue ${q} (backlog unknown without sock_diag): ${wait}`
      : `accept queue ${q}/${l.backlog}: ${wait}`,
  ];
  if (l.backlog !== null && q > l.backlog) {
    out.push('the accept queue is full: further handshakes are dropped and counted as ListenOverflows');
  }
  if (l.drops) out.push(`drops ${l.drops}: connection attempts this listener dropped since it was opened`);
  if (l.owners.length === 0) out.push('owner unknown: no readable process holds this socket');
  return out;
}

/** Take one snapshot. Never throws for missing kernel features: see `missing`. */
export async function inspect(opts: InspectOptions): Promise<Snapshot> {
  const t0 = performance.now();
  if (opts.port === undefined && opts.pid === undefined) throw new Error('inspect: give port or pid');
  const missing: string[] = [];
  const counters = readTcpCounters();

  // 1. the listeners first (a LISTEN-only dump: a handful of sockets), to know whose fd tables to read;
  // a worker thread starts reading them (owner-scan.ts) while this thread dumps every socket of the port.
  await fastFdScanAvailable();
  let candidates: OwnerCandidates | undefined;
  let reading: OwnerScan | undefined;
  if (opts.pid !== undefined) {
    candidates = { pids: [opts.pid, ...descendantsOf([opts.pid])], givenUp: [] };
    reading = startOwnerScan(candidates.pids);
  } else if (opts.netlink !== false) {
    const listening = await sockDiagDump(
      [4, 6].map((family) => ({ family: family as 4 | 6, port: opts.port, states: ['LISTEN'], info: false })),
    );
    if (listening.ok) {
      candidates = ownerCandidates(listening.sockets, opts.fullScan);
      reading = startOwnerScan(candidates.pids);
    }
  }

  // 2. sockets
  let rows: Row[];
  let source: Snapshot['source'] = 'sock_diag';
  const diag =
    opts.netlink === false
      ? { ok: false as const, reason: 'disabled' }
      : await sockDiagDump([
          { family: 4, port: opts.port, tcpInfo: opts.kernelBytes === true },
          { family: 6, port: opts.port, tcpInfo: opts.kernelBytes === true },
        ]);
  if (diag.ok) rows = diag.sockets;
  else {
    source = 'procfs';
    rows = readProcNetTcp({ port: opts.port }).rows;
    missing.push(
      `sock_diag unavailable (${diag.reason}): no listener backlog, no per-listener drops, ` +
        'kernel socket memory estimated from queue sizes',
    );
  }

  // 3. owners: which processes hold which socket inodes. With a port, only sockets a listener serves
  // are looked for (a local client whose ephemeral port equals the server's is not).
  const relevant = new Set<number>();
  if (opts.pid !== undefined) {
    for (const r of rows) if (r.inode) relevant.add(r.inode);
  } else {
    const served = servedBy(rows.filter((r) => r.state === 'LISTEN'));
    for (const r of rows) if (r.inode && (r.state === 'LISTEN' || served(r))) relevant.add(r.inode);
  }
  if (!candidates || !reading) {
    candidates = ownerCandidates(
      rows.filter((r) => r.state === 'LISTEN' && relevant.has(r.inode)),
      opts.fullScan,
    );
    reading = startOwnerScan(candidates.pids);
  }
  const scans = await reading.finish(relevant);
  const owned = new Set<number>();
  for (const sc of scans.values()) for (const inode of sc.held.keys()) owned.add(inode);
  completeOwners(scans, candidates.givenUp, rows, relevant, owned);
  const held = new Map<number, Map<number, number>>(); // pid -> inode -> fd (only relevant inodes)
  for (const [pid, sc] of scans) if (sc.held.size > 0) held.set(pid, sc.held);
  if (opts.pid !== undefined) {
    // keep only the process tree's sockets, plus inode-less ones (SYN_RECV, TIME_WAIT) on its ports
    const ports = new Set(
      rows.filter((r) => r.state === 'LISTEN' && owned.has(r.inode)).map((r) => r.localPort),
    );
    rows = rows.filter((r) => (r.inode ? owned.has(r.inode) : ports.has(r.localPort)));
  }
  // Every holder of a listener (a prefork socket has several); one owner per connected socket, and
  // only when they are listed (building 100,000 owner objects for nothing is a good part of a refresh).
  const ownersOf = (inode: number): Owner[] => {
    const list: Owner[] = [];
    for (const [pid, m] of held) {
      const fd = m.get(inode);
      if (fd !== undefined) list.push({ pid, fd });
    }
    return list;
  };
  for (const r of rows)
    if (r.state === 'LISTEN' && owned.has(r.inode)) rememberOwners(r.inode, ownersOf(r.inode));

  // 4. listeners, handshakes, connections. A client socket may have the server's port as its own
  // ephemeral port (on another address): keep connected sockets only where a listener matches.
  const served = servedBy(rows.filter((r) => r.state === 'LISTEN'));
  const listeners: ListenerInfo[] = [];
  const states: Partial<Record<TcpState, number>> = {};
  let synRecv = 0;
  let connections = 0;
  let kernelBytes: number | null | undefined;
  const conns: Row[] = [];
  for (const r of rows) {
    if (r.state !== 'LISTEN' && !served(r)) continue;
    if (r.state === 'LISTEN') {
      const l: ListenerInfo = {
        family: r.family,
        address: r.localAddress,
        port: r.localPort,
        inode: r.inode,
        acceptQueue: r.rxQueue,
        backlog: source === 'sock_diag' ? r.txQueue : null,
        drops: r.skmem ? r.skmem.drops : null,
        owners: owned.has(r.inode) ? ownersOf(r.inode) : [],
        explain: [],
      };
      l.explain = explainListener(l);
      listeners.push(l);
      continue;
    }
    states[r.state] = (states[r.state] ?? 0) + 1;
    if (r.state === 'SYN_RECV' || r.state === 'NEW_SYN_RECV') synRecv++;
    else {
      connections++;
      conns.push(r);
    }
  }

  if (opts.kernelBytes) {
    let sum = 0;
    let known = source === 'sock_diag';
    for (const r of conns) {
      const info = r.tcpInfo;
      if (!info || info.bytesReceived === undefined || info.bytesAcked === undefined) {
        known = false;
        break;
      }
      sum += info.bytesReceived + info.bytesAcked;
    }
    kernelBytes = known ? sum : null;
  }

  // 5. processes
  const listenerInodes = new Set(listeners.map((l) => l.inode));
  const listenerPids = new Set<number>();
  for (const l of listeners) for (const o of l.owners) listenerPids.add(o.pid);
  const childPids = new Set(descendantsOf([...listenerPids]));
  const byInode = new Map<number, Row>();
  for (const r of conns) if (r.inode) byInode.set(r.inode, r);
  const processes: ProcessEntry[] = [];
  for (const [pid, m] of held) {
    const st = readProcessStats(pid, scans.get(pid)?.fdCount);
    if (!st) continue;
    let nl = 0;
    let nc = 0;
    let kmem = 0;
    let fromSkmem = true;
    for (const inode of m.keys()) {
      if (listenerInodes.has(inode)) {
        nl++;
        continue;
      }
      const r = byInode.get(inode);
      if (!r) continue;
      nc++;
      if (r.skmem) kmem += skmemBytes(r.skmem);
      else {
        fromSkmem = false;
        kmem += r.rxQueue + r.txQueue;
      }
    }
    if (nl === 0 && nc === 0) continue; // e.g. a local client whose ephemeral port equals the server's
    const role = listenerPids.has(pid) ? 'listener' : childPids.has(pid) ? 'child' : 'other';
    const p: ProcessEntry = {
      ...st,
      role,
      listeners: nl,
      connections: nc,
      processMemoryPerConnection: st.rss !== null && nc > 0 ? st.rss / nc : null,
      kernelSocketMemory: { bytes: kmem, source: fromSkmem ? 'skmeminfo' : 'queue sizes' },
      explain: [],
    };
    const soft = st.fdLimit?.soft;
    if (st.fds !== null) {
      p.explain.push(
        soft
          ? `fds ${st.fds}/${soft}: ${Math.round((100 * st.fds) / soft)}% of the open-files limit (each connection costs one)`
          : `fds ${st.fds}: open file descriptors (no open-files limit)`,
      );
    }
    if (p.processMemoryPerConnection !== null) {
      p.explain.push(
        `process memory ${formatBytes(p.processMemoryPerConnection)}/connection: RSS ${formatBytes(st.rss!)} / ` +
          `${nc} connections (includes the runtime's baseline)`,
      );
    }
    if (nc > 0) {
      p.explain.push(
        `kernel socket memory ${formatBytes(kmem)} (${p.kernelSocketMemory.source}), ${formatBytes(kmem / nc)}/connection: ` +
          'buffered data only, not the kernel socket structures themselves',
      );
    }
    processes.push(p);
  }
  processes.sort((a, b) =>
    a.role === b.role ? a.pid - b.pid : a.role === 'listener' ? -1 : b.role === 'listener' ? 1 : 0,
  );

  // 6. summary explanations
  const explain: string[] = [];
  if (listeners.length === 0)
    explain.push('no listening socket found' + (opts.port ? ` on port ${opts.port}` : ''));
  explain.push(
    `SYN_RECV ${synRecv}: handshakes half done (SYN received, SYN-ACK sent, waiting for the client's ACK)`,
  );
  explain.push(`connections ${connections}: accepted or queued sockets past the handshake, by state`);
  explain.push(
    `ListenOverflows ${counters.ListenOverflows}, ListenDrops ${counters.ListenDrops} (machine-wide, since boot): ` +
      'handshakes dropped because an accept queue was full / any drop at a listener',
  );
  if (counters.SyncookiesSent) {
    explain.push(
      `SyncookiesSent ${counters.SyncookiesSent}: SYN queue overflowed, answered with SYN cookies`,
    );
  }
  let unowned = 0;
  for (const r of conns) if (r.inode && !owned.has(r.inode)) unowned++;
  if (unowned > 0) missing.push(`owner pid/fd unknown for ${unowned} sockets (processes not readable)`);

  const snap: Snapshot = {
    time: new Date().toISOString(),
    port: opts.port,
    pid: opts.pid,
    source,
    missing,
    listeners,
    synRecv,
    states,
    connections,
    processes,
    counters,
    explain,
    elapsedMs: 0,
  };
  if (kernelBytes !== undefined) snap.kernelBytes = kernelBytes;
  if (opts.sockets) {
    const owner = new Map<number, Owner>();
    for (const [pid, m] of held)
      for (const [inode, fd] of m) if (!owner.has(inode)) owner.set(inode, { pid, fd });
    snap.sockets = conns
      .map((r) => {
        const e: SocketEntry = {
          family: r.family,
          localAddress: r.localAddress,
          localPort: r.localPort,
          remoteAddress: r.remoteAddress,
          remotePort: r.remotePort,
          state: r.state,
          sendQ: r.txQueue,
          recvQ: r.rxQueue,
          inode: r.inode,
          owner: owner.get(r.inode) ?? null,
        };
        if (r.skmem) e.kernelMemory = skmemBytes(r.skmem);
        return e;
      })
      .sort((a, b) => b.sendQ + b.recvQ - (a.sendQ + a.recvQ));
  }
  snap.elapsedMs = performance.now() - t0;
  return snap;
}
