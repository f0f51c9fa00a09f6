// inspect(): one consistent picture of a port or a process tree, joined from the kernel readers.
// Sockets come from sock_diag when it works (kernel-side port filter, listener backlog, socket memory)
// and from /proc/net/tcp otherwise; owners come from /proc/*/fd (socket inodes), because a server is
// whoever holds the listening socket: ours or not, one process or a tree of workers. Reading fd links
// is most of a refresh (~2-4 us each), so a port's first refresh gives up on a process after its first
// OWNER_SCAN_GIVE_UP fds if none is one of the port's sockets (a load generator's 20,000 client sockets
// are not read) and reads those processes fully only if sockets are left without an owner; later
// refreshes read only the last owners and their descendants.
import { readlinkSync } from 'node:fs';
import { fastFdScanAvailable, scanSocketFds } from './fd-scan.ts';
import type { DiagSocket, SkMemInfo } from './inet-diag.ts';
import { sockDiagDump } from './netlink-socket.ts';
import { readProcNetTcp, type TcpState } from './proc-net-tcp.ts';
import { readTcpCounters, type TcpCounters } from './proc-netstat.ts';
import { descendantsOf, type FdLimit, type FdScan, listPids, readProcessStats } from './proc-process.ts';

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

/** A process whose first this-many fds hold none of the port's sockets is not read further (at first). */
export const OWNER_SCAN_GIVE_UP = 256;

export interface Owner {
  pid: number;
  fd: number;
}

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

const ownerCache = new Map<number, Owner[]>(); // listener inode -> owners seen at the last refresh

/** Owner pids of these listener inodes if every one is cached and still held, else null. */
function cachedOwners(inodes: number[]): number[] | null {
  if (inodes.length === 0) return null;
  const pids = new Set<number>();
  for (const inode of inodes) {
    const list = ownerCache.get(inode);
    if (!list) return null;
    for (const o of list) {
      try {
        if (readlinkSync(`/proc/${o.pid}/fd/${o.fd}`) !== `socket:[${inode}]`) return null;
      } catch {
        return null;
      }
      pids.add(o.pid);
    }
  }
  return [...pids];
}

/** Does a listener among `bound` serve this (non-LISTEN) socket? (Everything does when none listens.) */
function servedBy(bound: Row[]): (r: Row) => boolean {
  if (bound.length === 0) return () => true;
  const wild = new Set<number>(); // family << 16 | port of wildcard listeners
  const exact = new Map<number, Set<string>>(); // port -> addresses
  for (const l of bound) {
    if (l.localAddress === '0.0.0.0' || l.localAddress === '::') wild.add((l.family << 16) | l.localPort);
    else {
      let set = exact.get(l.localPort);
      if (!set) exact.set(l.localPort, (set = new Set()));
      set.add(l.localAddress);
    }
  }
  return (r) =>
    wild.has((r.family << 16) | r.localPort) || exact.get(r.localPort)?.has(r.localAddress) === true;
}

/** Unowned sockets tolerated after the quick pass (closed meanwhile) before given-up processes are read. */
const UNOWNED_SLACK = (connected: number) => Math.max(16, Math.ceil(connected / 100));

/**
 * After a quick pass: if a listener has no owner, or more connected sockets than churn explains have none,
 * read the processes that were given up on, one by one, until every listener and socket is owned.
 */
function finishScans(scans: Map<number, FdScan>, rows: Row[], relevant: Set<number>): void {
  const pending = [...scans.values()].filter((sc) => !sc.complete);
  if (pending.length === 0) return;
  const owned = new Set<number>();
  for (const sc of scans.values()) for (const inode of sc.held.keys()) owned.add(inode);
  const listeners = new Set<number>();
  const connected = new Set<number>();
  for (const r of rows)
    if (relevant.has(r.inode)) (r.state === 'LISTEN' ? listeners : connected).add(r.inode);
  let unownedListeners = 0;
  let unownedSockets = 0;
  for (const inode of listeners) if (!owned.has(inode)) unownedListeners++;
  for (const inode of connected) if (!owned.has(inode)) unownedSockets++;
  const slack = UNOWNED_SLACK(connected.size);
  for (const sc of pending) {
    if (unownedListeners === 0 && unownedSockets <= slack) return;
    sc.finish();
    for (const inode of sc.held.keys()) {
      if (owned.has(inode)) continue;
      owned.add(inode);
      if (listeners.has(inode)) unownedListeners--;
      else if (connected.has(inode)) unownedSockets--;
    }
  }
}

/** Take one snapshot. Never throws for missing kernel features: see `missing`. */
export async function inspect(opts: InspectOptions): Promise<Snapshot> {
  const t0 = performance.now();
  if (opts.port === undefined && opts.pid === undefined) throw new Error('inspect: give port or pid');
  const missing: string[] = [];
  const counters = readTcpCounters();

  // 1. sockets
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

  // 2. owners: which processes hold which socket inodes. With a port, only sockets a listener serves
  // are looked for (a local client whose ephemeral port equals the server's is not).
  const relevant = new Set<number>();
  if (opts.pid !== undefined) {
    for (const r of rows) if (r.inode) relevant.add(r.inode);
  } else {
    const served = servedBy(rows.filter((r) => r.state === 'LISTEN'));
    for (const r of rows) if (r.inode && (r.state === 'LISTEN' || served(r))) relevant.add(r.inode);
  }
  await fastFdScanAvailable();
  const scans = new Map<number, FdScan>();
  const candidates = (pids: number[], giveUp: number) => {
    for (const pid of pids) if (!scans.has(pid)) scans.set(pid, scanSocketFds(pid, relevant, giveUp));
  };
  if (opts.pid !== undefined) candidates([opts.pid, ...descendantsOf([opts.pid])], Infinity);
  else {
    // When the listeners' owners from the last refresh still hold them, read only those and their
    // descendants; else every process, giving up early on those without the port's sockets.
    const known = cachedOwners(rows.filter((r) => r.state === 'LISTEN').map((r) => r.inode));
    if (known && !opts.fullScan) candidates([...known, ...descendantsOf(known)], Infinity);
    else {
      candidates(listPids(), OWNER_SCAN_GIVE_UP);
      finishScans(scans, rows, relevant);
    }
  }
  const held = new Map<number, Map<number, number>>(); // pid -> inode -> fd (only relevant inodes)
  for (const [pid, sc] of scans) if (sc.held.size > 0) held.set(pid, sc.held);
  if (opts.pid !== undefined) {
    // keep only the process tree's sockets, plus inode-less ones (SYN_RECV, TIME_WAIT) on its ports
    const mine = new Set<number>();
    for (const m of held.values()) for (const inode of m.keys()) mine.add(inode);
    const ports = new Set(
      rows.filter((r) => r.state === 'LISTEN' && mine.has(r.inode)).map((r) => r.localPort),
    );
    rows = rows.filter((r) => (r.inode ? mine.has(r.inode) : ports.has(r.localPort)));
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
  const owned = new Set<number>();
  for (const m of held.values()) for (const inode of m.keys()) owned.add(inode);
  for (const r of rows)
    if (r.state === 'LISTEN' && owned.has(r.inode)) ownerCache.set(r.inode, ownersOf(r.inode));

  // 3. listeners, handshakes, connections. A client socket may have the server's port as its own
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

  // 4. processes
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

  // 5. summary explanations
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
