// inspect(): one consistent picture of a port or a process tree, joined from the kernel readers.
// Sockets come from sock_diag when it works (kernel-side port filter, listener backlog, socket memory)
// and from /proc/net/tcp otherwise; owners come from /proc/*/fd (socket inodes), because a server is
// whoever holds the listening socket: ours or not, one process or a tree of workers. Reading fd links is
// most of a refresh (docs/performance.md): owners.ts picks whose fd tables to read, owner-scan.ts reads them on a
// worker thread while this thread dumps the sockets.
import { type FdTable, fastFdScanAvailable, scanSocketTable } from './fd-scan.ts';
import type { SkMemInfo } from './inet-diag.ts';
import { InodeIndex } from './inode-index.ts';
import { type DumpStats, sockDiagDump, sockDiagTable } from './netlink-socket.ts';
import { type OwnerScan, ownerScanStarted, prestartOwnerScan, startOwnerScan } from './owner-scan.ts';
import {
  completeOwners,
  type Owner,
  type OwnerCandidates,
  ownerCandidates,
  rememberOwners,
} from './owners.ts';
import { readProcNetTcp, TCP_LISTEN, TCP_STATES, TCP_SYN_RECV, type TcpState } from './proc-net-tcp.ts';
import { readTcpCounters, type TcpCounters } from './proc-netstat.ts';
import { descendantsOf, type FdLimit, readProcessStats } from './proc-process.ts';
import { SocketTable, TCP_SOCKET_STATES } from './socket-table.ts';

const TCP_NEW_SYN_RECV = TCP_STATES.indexOf('NEW_SYN_RECV');

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
  /** Of those, the ones a process was found holding (the rest are in `missing`, or have no inode). */
  connectionsOwned: number;
  sockets?: SocketEntry[];
  processes: ProcessEntry[];
  /** Machine-wide (network namespace) counters since boot. */
  counters: TcpCounters;
  explain: string[];
  /** With opts.kernelBytes: bytes received + acked by the connected sockets (tcp_info); null if unknown. */
  kernelBytes?: number | null;
  elapsedMs: number;
  /** Where the time went, ms: listeners (LISTEN dump + finding their holders), dump (every socket of
   * the port), owners (fd tables: the rest of the scan after the dump, and completing), join (the
   * figures), processes (per-process stats). */
  phasesMs: Record<'listeners' | 'dump' | 'owners' | 'join' | 'processes', number>;
  /** CPU time this process (both of its threads) spent on the snapshot, ms: elapsed time well above
   * (user + system) / 2 means the two cores were busy with something else too. */
  cpuMs: { user: number; system: number };
  /** With sock_diag: the dump of the port's sockets as the kernel delivered it (datagrams, bytes). */
  dumpStats?: DumpStats;
}

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

/** Does a listener among these rows serve row i (not LISTEN)? A wildcard listener serves its family
 * and port, another its address and port; with none, every row. */
function servedByRows(t: SocketTable, listenerRows: number[]): (i: number) => boolean {
  if (listenerRows.length === 0) return () => true;
  const wild = new Set<number>(); // family << 16 | port
  const exact = new Map<number, Set<number>>(); // port -> address indexes
  for (const i of listenerRows) {
    const a = t.addresses[t.localAddress[i]];
    if (a === '0.0.0.0' || a === '::') wild.add((t.family[i] << 16) | t.localPort[i]);
    else {
      let set = exact.get(t.localPort[i]);
      if (!set) exact.set(t.localPort[i], (set = new Set()));
      set.add(t.localAddress[i]);
    }
  }
  return (i) =>
    wild.has((t.family[i] << 16) | t.localPort[i]) ||
    exact.get(t.localPort[i])?.has(t.localAddress[i]) === true;
}

/** Take one snapshot. Never throws for missing kernel features: see `missing`. */
export async function inspect(opts: InspectOptions): Promise<Snapshot> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  if (opts.port === undefined && opts.pid === undefined) throw new Error('inspect: give port or pid');
  const phasesMs: Snapshot['phasesMs'] = { listeners: 0, dump: 0, owners: 0, join: 0, processes: 0 };
  let mark = t0;
  const lap = (k: keyof Snapshot['phasesMs']) => {
    const now = performance.now();
    phasesMs[k] += Math.round(now - mark);
    mark = now;
  };
  const missing: string[] = [];
  const counters = readTcpCounters();

  // 1. the listeners first (a LISTEN-only dump: a handful of sockets), to know whose fd tables to read;
  // a worker thread starts reading them (owner-scan.ts) while this thread dumps every socket of the port.
  prestartOwnerScan();
  await fastFdScanAvailable();
  let candidates: OwnerCandidates | undefined;
  let reading: OwnerScan | undefined;
  // Families to dump: each dump walks the kernel's whole table of connected sockets (both families'; two
  // million at a million connections), and with a port's listeners known, a family none of them listens
  // in has no socket they serve (see servedByRows); with none known, both.
  let families: (4 | 6)[] = [4, 6];
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
      if (listening.sockets.length > 0)
        families = families.filter((f) => listening.sockets.some((l) => l.family === f));
    }
  }

  lap('listeners');

  // 2. sockets, as columns (socket-table.ts): no object per socket. Every TCP state but the kernel's
  // "bound, inactive" (a walk of every bound socket on the machine, none of them a connection).
  let t: SocketTable;
  let source: Snapshot['source'] = 'sock_diag';
  const diag =
    opts.netlink === false
      ? { ok: false as const, reason: 'disabled' }
      : await sockDiagTable(
          families.map((family) => ({
            family,
            port: opts.port,
            states: TCP_SOCKET_STATES,
            tcpInfo: opts.kernelBytes === true,
          })),
        );
  let dumpStats: DumpStats | undefined;
  if (diag.ok) {
    t = diag.table;
    dumpStats = diag.stats;
  } else {
    source = 'procfs';
    t = new SocketTable();
    for (const r of readProcNetTcp({ port: opts.port }).rows) t.push(r);
    missing.push(
      `sock_diag unavailable (${diag.reason}): no listener backlog, no per-listener drops, ` +
        'kernel socket memory estimated from queue sizes',
    );
  }

  lap('dump');

  // 3. owners: which processes hold which socket inodes. With a port, only sockets a listener serves
  // are looked for (a local client whose ephemeral port equals the server's is not). Rows are joined
  // to fd-table entries by row number (InodeIndex, typed arrays): at a million sockets, a Map or Set
  // per step is most of a refresh.
  const n = t.length;
  const relevant = new Uint8Array(n);
  const listenRow = new Uint8Array(n);
  const inodes = t.inode;
  const listenRows: number[] = [];
  for (let i = 0; i < n; i++) {
    if (t.state[i] === TCP_LISTEN) {
      listenRow[i] = 1;
      listenRows.push(i);
    }
  }
  const servedByListener = opts.pid !== undefined ? null : servedByRows(t, listenRows);
  for (let i = 0; i < n; i++) {
    if (inodes[i] && (servedByListener === null || listenRow[i] === 1 || servedByListener(i)))
      relevant[i] = 1;
  }
  if (!candidates || !reading) {
    candidates = ownerCandidates(
      listenRows.filter((i) => relevant[i] === 1).map((i) => t.row(i)),
      opts.fullScan,
    );
    reading = startOwnerScan(candidates.pids);
  }
  const tables = await reading.finishTables();
  const index = new InodeIndex(inodes, (i) => relevant[i] === 1);
  // ownerPid/ownerFd: the first process (in reading order) holding each row, 0 = none; holds: per
  // process, the rows it holds and with which fd (a socket dup'd within a process counts once)
  const ownerPid = new Int32Array(n);
  const ownerFd = new Int32Array(n);
  const lastHolder = new Int32Array(n);
  const holds = new Map<number, { rows: Int32Array; fdCount: number | null }>();
  const listenerOwners = new Map<number, Owner[]>(); // row -> every holder
  const absorb = (ft: FdTable): { listeners: number; sockets: number } => {
    const got = { listeners: 0, sockets: 0 };
    const held = new Int32Array(ft.inodes.length);
    let m = 0;
    for (let k = 0; k < ft.inodes.length; k++) {
      const i = index.get(ft.inodes[k]);
      if (i < 0 || lastHolder[i] === ft.pid) continue;
      lastHolder[i] = ft.pid;
      held[m++] = i;
      const listening = listenRow[i] === 1;
      if (listening) {
        let list = listenerOwners.get(i);
        if (!list) listenerOwners.set(i, (list = []));
        list.push({ pid: ft.pid, fd: ft.fds[k] });
      }
      if (ownerPid[i] === 0) {
        ownerPid[i] = ft.pid;
        ownerFd[i] = ft.fds[k];
        if (listening) got.listeners++;
        else got.sockets++;
      }
    }
    if (m > 0) holds.set(ft.pid, { rows: held.subarray(0, m), fdCount: ft.fdCount });
    return got;
  };
  for (const ft of tables.values()) absorb(ft);
  const unowned = { listeners: 0, sockets: 0, connected: 0 };
  for (let i = 0; i < n; i++) {
    if (!relevant[i]) continue;
    const listening = listenRow[i] === 1;
    if (!listening) unowned.connected++;
    if (ownerPid[i] !== 0) continue;
    if (listening) unowned.listeners++;
    else unowned.sockets++;
  }
  completeOwners(candidates.givenUp, unowned, (pid) => absorb(scanSocketTable(pid)));
  // with a pid: only the process tree's sockets, plus inode-less ones (SYN_RECV, TIME_WAIT) on its ports
  const keep = new Uint8Array(n).fill(1);
  if (opts.pid !== undefined) {
    const ports = new Set<number>();
    for (const i of listenRows) if (ownerPid[i] !== 0) ports.add(t.localPort[i]);
    for (let i = 0; i < n; i++)
      keep[i] = inodes[i] ? (ownerPid[i] !== 0 ? 1 : 0) : ports.has(t.localPort[i]) ? 1 : 0;
  }
  for (const [i, list] of listenerOwners) if (keep[i]) rememberOwners(inodes[i], list);

  lap('owners');

  // 4. listeners, handshakes, connections. A client socket may have the server's port as its own
  // ephemeral port (on another address): keep connected sockets only where a listener matches.
  const served = servedByRows(
    t,
    listenRows.filter((i) => keep[i] === 1),
  );
  const listeners: ListenerInfo[] = [];
  const listenerRow = new Uint8Array(n);
  const connRow = new Uint8Array(n);
  // per connected row: its kernel memory (skmeminfo; -1 - queue sizes where the dump had none)
  const rowKernelMemory = new Float64Array(n);
  const stateCounts = new Float64Array(TCP_STATES.length);
  let synRecv = 0;
  let connections = 0;
  let kernelBytes: number | null | undefined;
  const connList = new Int32Array(n); // row numbers of the connections
  let connCount = 0;
  for (let i = 0; i < n; i++) {
    const st = t.state[i];
    if (!keep[i]) continue;
    if (st === TCP_LISTEN) {
      const l: ListenerInfo = {
        family: t.family[i] as 4 | 6,
        address: t.addresses[t.localAddress[i]],
        port: t.localPort[i],
        inode: inodes[i],
        acceptQueue: t.rxQueue[i],
        backlog: source === 'sock_diag' ? t.txQueue[i] : null,
        drops: t.drops[i] >= 0 ? t.drops[i] : null,
        owners: listenerOwners.get(i) ?? [],
        explain: [],
      };
      l.explain = explainListener(l);
      listeners.push(l);
      listenerRow[i] = 1;
      continue;
    }
    if (!served(i)) continue;
    stateCounts[st]++;
    if (st === TCP_SYN_RECV || st === TCP_NEW_SYN_RECV) synRecv++;
    else {
      connections++;
      connList[connCount++] = i;
      if (inodes[i]) {
        connRow[i] = 1;
        const m = t.kernelMemory[i];
        rowKernelMemory[i] = m >= 0 ? m : -1 - (t.rxQueue[i] + t.txQueue[i]);
      }
    }
  }
  const states: Partial<Record<TcpState, number>> = {};
  for (let st = 0; st < stateCounts.length; st++)
    if (stateCounts[st] > 0) states[TCP_STATES[st]] = stateCounts[st];

  const conns = connList.subarray(0, connCount);
  if (opts.kernelBytes) {
    let sum = 0;
    let known = source === 'sock_diag';
    for (const i of conns) {
      const b = t.kernelBytes[i];
      if (b < 0) {
        known = false;
        break;
      }
      sum += b;
    }
    kernelBytes = known ? sum : null;
  }

  lap('join');

  // 5. processes
  const listenerPids = new Set<number>();
  for (const l of listeners) for (const o of l.owners) listenerPids.add(o.pid);
  const childPids = new Set(descendantsOf([...listenerPids]));
  const processes: ProcessEntry[] = [];
  for (const [pid, h] of holds) {
    const st = readProcessStats(pid, h.fdCount);
    if (!st) continue;
    let nl = 0;
    let nc = 0;
    let kmem = 0;
    let fromSkmem = true;
    for (const i of h.rows) {
      if (listenerRow[i]) {
        nl++;
        continue;
      }
      if (!connRow[i]) continue;
      nc++;
      const m = rowKernelMemory[i];
      if (m >= 0) kmem += m;
      else {
        fromSkmem = false;
        kmem += -1 - m;
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

  lap('processes');

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
  let ownerless = 0;
  let owned = 0;
  for (const i of conns) {
    if (ownerPid[i] !== 0) owned++;
    else if (inodes[i]) ownerless++;
  }
  if (ownerless > 0) missing.push(`owner pid/fd unknown for ${ownerless} sockets (processes not readable)`);

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
    connectionsOwned: owned,
    processes,
    counters,
    explain,
    elapsedMs: 0,
    phasesMs,
    cpuMs: { user: 0, system: 0 },
  };
  if (kernelBytes !== undefined) snap.kernelBytes = kernelBytes;
  if (dumpStats) snap.dumpStats = dumpStats;
  if (opts.sockets) {
    snap.sockets = Array.from(conns, (i) => {
      const e: SocketEntry = {
        family: t.family[i] as 4 | 6,
        localAddress: t.addresses[t.localAddress[i]],
        localPort: t.localPort[i],
        remoteAddress: t.addresses[t.remoteAddress[i]],
        remotePort: t.remotePort[i],
        state: t.stateName(i),
        sendQ: t.txQueue[i],
        recvQ: t.rxQueue[i],
        inode: inodes[i],
        owner: inodes[i] && ownerPid[i] !== 0 ? { pid: ownerPid[i], fd: ownerFd[i] } : null,
      };
      if (t.kernelMemory[i] >= 0) e.kernelMemory = t.kernelMemory[i];
      return e;
    }).sort((a, b) => b.sendQ + b.recvQ - (a.sendQ + a.recvQ));
  }
  await ownerScanStarted(); // at once but in a refresh that outran the worker's start-up
  snap.elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  snap.cpuMs = { user: Math.round(cpu.user / 1000), system: Math.round(cpu.system / 1000) };
  return snap;
}
