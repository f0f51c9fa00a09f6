// The ladder's sizing and its kernel check, as pure functions of the limits read from /proc: how many
// server workers, load processes and source addresses a rung of N connections needs, and which kernel
// settings would stop the climb before N (each named with the sysctl or limit to raise; never set here).
import { readFileSync } from 'node:fs';

/** Descriptors a process keeps for itself besides its connections (stdio, IPC, epoll, Node's own). */
const FD_RESERVE = 256;
/** A server worker is filled to this share of its descriptors: SO_REUSEPORT hashes the 4-tuple, so the
 * workers' shares differ by a few hundred; the rest is headroom so none hits EMFILE. */
const SERVER_FILL = 0.85;
/** Connections per load process at most (the load's own cap). */
const LOAD_PER_PROCESS = 18_000;
/** Connections per source address at most: connect() slows as a source's port space fills. */
export const PER_SOURCE_MAX = 10_000;
/** Kernel memory per loopback connection (both sockets, slab), measured here: yardstick c1m. */
export const KERNEL_BYTES_PER_CONN = 8_100;
/** Resident memory of one idle Node process (server worker or load process), bytes. */
export const PROCESS_BYTES = 60 * 2 ** 20;
/** Memory each side spends per connection besides the kernel (server ~1 KB, load ~1 KB), bytes. */
export const USER_BYTES_PER_CONN = 2_500;

export interface Limits {
  /** Soft RLIMIT_NOFILE of this process (inherited by the server and the load). */
  nofile: number;
  nrOpen: number;
  fileMax: number;
  /** Descriptors open system-wide now (first field of fs.file-nr). */
  filesOpen: number;
  portRange: [number, number];
  somaxconn: number;
  /** net.ipv4.tcp_mem: [low, pressure, high] in pages. */
  tcpMem: [number, number, number];
  memAvailableBytes: number;
}

export interface Plan {
  connections: number;
  workers: number;
  loadProcesses: number;
  sources: number;
  perSource: number;
}

export interface Blocker {
  /** What would stop the climb: the setting's name. */
  setting: string;
  /** The errno or limit the climb would hit. */
  reason: 'EMFILE' | 'ENFILE' | 'ENOMEM' | 'ports' | 'accept queue' | 'tcp memory';
  have: string;
  need: string;
  /** The command that would raise it (the ladder never runs it). */
  fix: string;
}

export function portsPerSource(l: Limits): number {
  return l.portRange[1] - l.portRange[0] + 1;
}

export function planRung(connections: number, l: Limits): Plan {
  const perWorker = Math.max(1, Math.floor((l.nofile - FD_RESERVE) * SERVER_FILL));
  const perLoad = Math.max(1, Math.min(LOAD_PER_PROCESS, l.nofile - FD_RESERVE));
  const perSource = Math.max(1, Math.min(PER_SOURCE_MAX, Math.floor(portsPerSource(l) / 3)));
  return {
    connections,
    workers: Math.ceil(connections / perWorker),
    loadProcesses: Math.ceil(connections / perLoad),
    sources: Math.ceil(connections / perSource),
    perSource,
  };
}

/** Each setting that would stop `connections` (both ends on this box), with what it is and needs. */
export function kernelBlockers(connections: number, l: Limits, maxConnecting = 500): Blocker[] {
  const out: Blocker[] = [];
  const plan = planRung(connections, l);
  const fds = 2 * connections + 1000 * (plan.workers + plan.loadProcesses);
  if (l.fileMax - l.filesOpen < fds)
    out.push({
      setting: 'fs.file-max',
      reason: 'ENFILE',
      have: `${l.fileMax} (${l.filesOpen} open)`,
      need: `${l.filesOpen + fds}`,
      fix: `sysctl -w fs.file-max=${l.filesOpen + fds}`,
    });
  if (l.nofile > l.nrOpen)
    out.push({
      setting: 'fs.nr_open',
      reason: 'EMFILE',
      have: `${l.nrOpen}`,
      need: `${l.nofile}`,
      fix: `sysctl -w fs.nr_open=${l.nofile}`,
    });
  // the load takes at most 256 processes and the server 1024 workers: past that, more files per process
  if (plan.loadProcesses > 256 || plan.workers > 1024) {
    const need = Math.ceil(connections / 256) + FD_RESERVE;
    out.push({
      setting: 'ulimit -n (RLIMIT_NOFILE)',
      reason: 'EMFILE',
      have: `${l.nofile}`,
      need: `${need}`,
      fix: `ulimit -n ${need}${need > l.nrOpen ? ` (after sysctl -w fs.nr_open=${need})` : ''}`,
    });
  }
  // 127.0.0.2 .. 127.0.0.254 as sources
  if (plan.sources > 253) {
    const ports = Math.ceil((connections / 253) * 3);
    out.push({
      setting: 'net.ipv4.ip_local_port_range',
      reason: 'ports',
      have: `${l.portRange[0]}-${l.portRange[1]} (${portsPerSource(l)} ports per source address)`,
      need: `${ports} ports per source`,
      fix: `sysctl -w net.ipv4.ip_local_port_range="${Math.max(1024, 65535 - ports)} 65535"`,
    });
  }
  // connects in flight land in the workers' accept queues (each capped by somaxconn)
  const inFlight = plan.loadProcesses * maxConnecting;
  if (l.somaxconn * plan.workers < inFlight || l.somaxconn < 128)
    out.push({
      setting: 'net.core.somaxconn',
      reason: 'accept queue',
      have: `${l.somaxconn}`,
      need: `${Math.max(128, Math.ceil(inFlight / plan.workers))}`,
      fix: `sysctl -w net.core.somaxconn=${Math.max(128, Math.ceil(inFlight / plan.workers))}`,
    });
  // an echo charges at least one page per socket with data queued; a quarter of the sockets at once
  const pages = Math.ceil(connections / 2);
  if (l.tcpMem[2] < pages)
    out.push({
      setting: 'net.ipv4.tcp_mem',
      reason: 'tcp memory',
      have: l.tcpMem.join(' '),
      need: `high >= ${pages} pages`,
      fix: `sysctl -w net.ipv4.tcp_mem="${pages >> 1} ${(pages * 3) >> 2} ${pages}"`,
    });
  const bytes =
    connections * (KERNEL_BYTES_PER_CONN + USER_BYTES_PER_CONN) +
    (plan.workers + plan.loadProcesses) * PROCESS_BYTES;
  if (l.memAvailableBytes < bytes)
    out.push({
      setting: 'memory (MemAvailable)',
      reason: 'ENOMEM',
      have: `${(l.memAvailableBytes / 2 ** 30).toFixed(1)} GiB`,
      need: `${(bytes / 2 ** 30).toFixed(1)} GiB`,
      fix: 'free memory or stop at a lower rung',
    });
  return out;
}

const num = (path: string) => readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);

/** The limits of this process and this kernel, from /proc. */
export function readLimits(): Limits {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const m = /^Max open files\s+(\S+)/m.exec(limits);
  const nofile = !m || m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const avail = /^MemAvailable:\s+(\d+)/m.exec(meminfo);
  const range = num('/proc/sys/net/ipv4/ip_local_port_range');
  const mem = num('/proc/sys/net/ipv4/tcp_mem');
  return {
    nofile,
    nrOpen: num('/proc/sys/fs/nr_open')[0],
    fileMax: num('/proc/sys/fs/file-max')[0],
    filesOpen: num('/proc/sys/fs/file-nr')[0],
    portRange: [range[0], range[1]],
    somaxconn: num('/proc/sys/net/core/somaxconn')[0],
    tcpMem: [mem[0], mem[1], mem[2]],
    memAvailableBytes: avail ? Number(avail[1]) * 1024 : 0,
  };
}

export interface KernelMemory {
  slabBytes: number;
  memAvailableBytes: number;
  /** Bytes in the slab caches a TCP connection uses (from /proc/slabinfo; null when unreadable). */
  tcpSlabBytes: number | null;
}

const TCP_CACHES =
  /^(TCP|tcp_bind_bucket|tcp_bind2_bucket|sock_inode_cache|filp|dentry|eventpoll_epi|eventpoll_pwq|skbuff_head_cache|kmalloc-\S+)$/;

export function readKernelMemory(): KernelMemory {
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0) * 1024;
  let tcpSlabBytes: number | null = null;
  try {
    tcpSlabBytes = 0;
    for (const line of readFileSync('/proc/slabinfo', 'utf8').split('\n').slice(2)) {
      const f = line.split(/\s+/);
      if (TCP_CACHES.test(f[0])) tcpSlabBytes += Number(f[2]) * Number(f[3]);
    }
  } catch {
    tcpSlabBytes = null;
  }
  return { slabBytes: kb('Slab'), memAvailableBytes: kb('MemAvailable'), tcpSlabBytes };
}
