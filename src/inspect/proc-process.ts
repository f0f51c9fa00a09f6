// Per-process figures from /proc/PID: open fds vs the "Max open files" limit, RSS, and the socket inodes
// each fd refers to (readlink -> "socket:[INODE]"), which is the only unprivileged way to tie a socket
// in /proc/net/tcp or sock_diag to its owner pid/fd. Processes we may not read (other users, exited
// meanwhile) are skipped silently: the inspector reports what it could see.
import { type Dir, opendirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

const PROC = '/proc';

export interface FdLimit {
  /** null = unlimited */
  soft: number | null;
  hard: number | null;
}

export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync(PROC)) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) pids.push(Number(name));
  }
  return pids;
}

/** Number of open fds, or null if the process is gone or not readable. */
export function readFdCount(pid: number): number | null {
  try {
    return readdirSync(`${PROC}/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** Parse /proc/PID/limits text for "Max open files". */
export function parseFdLimit(text: string): FdLimit | null {
  const line = text.split('\n').find((l) => l.startsWith('Max open files'));
  if (!line) return null;
  const [soft, hard] = line.slice('Max open files'.length).trim().split(/\s+/);
  const num = (s: string | undefined) => (s === undefined || s === 'unlimited' ? null : Number(s));
  return { soft: num(soft), hard: num(hard) };
}

export function readFdLimit(pid: number): FdLimit | null {
  try {
    return parseFdLimit(readFileSync(`${PROC}/${pid}/limits`, 'latin1'));
  } catch {
    return null;
  }
}

/** Resident set size in bytes (VmRSS, else statm's resident pages x 4096), or null. */
export function readRss(pid: number): number | null {
  try {
    const status = readFileSync(`${PROC}/${pid}/status`, 'latin1');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    if (m) return Number(m[1]) * 1024;
    const statm = readFileSync(`${PROC}/${pid}/statm`, 'latin1').split(' ');
    return Number(statm[1]) * 4096;
  } catch {
    return null;
  }
}

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
}

/** Parse /proc/PID/stat ("pid (comm) S ppid ..."; comm may hold spaces and parentheses). */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).split(' ');
  return {
    pid: Number(text.slice(0, open)),
    comm: text.slice(open + 1, close),
    state: rest[0],
    ppid: Number(rest[1]),
  };
}

export function readStat(pid: number): ProcStat | null {
  try {
    return parseStat(readFileSync(`${PROC}/${pid}/stat`, 'latin1'));
  } catch {
    return null;
  }
}

const NODE_COMMS = new Set(['node', 'MainThread', 'node-MainThread']);

/**
 * A short name for a process in a table: its comm, unless that names Node or its main thread rather than
 * the program (Node 22 leaves 'node', 24 says 'MainThread', 26 'node-MainThread'), in which case the
 * program and its script from the command line: `c10k serve`, `c10k worker` (a multi-process model's
 * worker), `node server.js`.
 */
export function commandLabel(comm: string, cmdline: string): string {
  if (!NODE_COMMS.has(comm) || cmdline === '') return comm;
  const args = cmdline.split(' ');
  const base = (path: string) => path.slice(path.lastIndexOf('/') + 1);
  const script = args.findIndex((a, i) => i > 0 && !a.startsWith('-'));
  if (script < 0) return base(args[0]);
  const name = base(args[script]);
  const stem = name.replace(/\.[jt]s$/, ''); // .ts in a checkout, .js installed
  if (stem === 'c10k') return `c10k ${args[script + 1] ?? ''}`.trimEnd();
  if (stem === 'worker-main') return 'c10k worker';
  return `${base(args[0])} ${name}`;
}

/** The process's command line, space-joined (empty for kernel threads or when unreadable). */
export function readCmdline(pid: number): string {
  try {
    return readFileSync(`${PROC}/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** "socket:[12345]" -> 12345, anything else -> -1. */
export function socketInodeOfLink(link: string): number {
  if (!link.startsWith('socket:[')) return -1;
  return Number(link.slice(8, -1));
}

/** Socket inode -> fd for every socket fd of `pid` (empty when unreadable). */
export function readSocketInodes(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  const dir = `${PROC}/${pid}/fd/`;
  let fds: string[];
  try {
    fds = readdirSync(dir);
  } catch {
    return out;
  }
  for (const fd of fds) {
    let link: string;
    try {
      link = readlinkSync(dir + fd);
    } catch {
      continue; // closed meanwhile
    }
    const inode = socketInodeOfLink(link);
    if (inode >= 0 && !out.has(inode)) out.set(inode, Number(fd));
  }
  return out;
}

export interface FdScan {
  pid: number;
  /** Relevant socket inode -> the first fd holding it. */
  held: Map<number, number>;
  /** Open fds; null unless the whole table was read. */
  fdCount: number | null;
  /** The whole fd table was read (false: the process is gone or unreadable, or a limit stopped the scan). */
  complete: boolean;
}

export interface ScanLimits {
  /**
   * Stop after this many fds without a relevant socket: a server's listening socket is among its first
   * descriptors, so a load generator holding 20,000 client sockets costs a few hundred readlinks.
   */
  giveUpAfter?: number;
  /** Stop at the first relevant socket (enough to know the process holds one). */
  firstOnly?: boolean;
}

/**
 * Which `relevant` socket inodes (null: every socket) `pid` holds. Reads /proc/PID/fd in fd order
 * (procfs lists fds ascending), within `limits`.
 */
export function scanSocketFds(pid: number, relevant: Set<number> | null, limits: ScanLimits = {}): FdScan {
  const prefix = `${PROC}/${pid}/fd/`;
  const giveUpAfter = limits.giveUpAfter ?? Infinity;
  const scan: FdScan = { pid, held: new Map(), fdCount: null, complete: false };
  let dir: Dir;
  try {
    dir = opendirSync(`${PROC}/${pid}/fd`, { bufferSize: 128 });
  } catch {
    return scan; // gone or not readable
  }
  try {
    let count = 0;
    for (;;) {
      const entry = dir.readSync();
      if (entry === null) break;
      count++;
      let link: string;
      try {
        link = readlinkSync(prefix + entry.name);
      } catch {
        continue; // closed meanwhile
      }
      const inode = socketInodeOfLink(link);
      if (inode >= 0 && (relevant === null || relevant.has(inode)) && !scan.held.has(inode)) {
        scan.held.set(inode, Number(entry.name));
        if (limits.firstOnly) return scan;
      }
      if (scan.held.size === 0 && count >= giveUpAfter) return scan;
    }
    scan.fdCount = count;
    scan.complete = true;
  } catch {
    // the process exited meanwhile: keep what was read
  } finally {
    try {
      dir.closeSync();
    } catch {
      // already gone
    }
  }
  return scan;
}

export interface InodeOwner {
  pid: number;
  fd: number;
}

/**
 * Scan /proc/* /fd for the given socket inodes. Returns inode -> every (pid, fd) holding it (a socket
 * shared by fork, such as a prefork listener, has several). Unreadable processes are skipped.
 */
export function findInodeOwners(inodes: Set<number>, pids: number[] = listPids()): Map<number, InodeOwner[]> {
  const out = new Map<number, InodeOwner[]>();
  if (inodes.size === 0) return out;
  for (const pid of pids) {
    for (const [inode, fd] of readSocketInodes(pid)) {
      if (!inodes.has(inode)) continue;
      let list = out.get(inode);
      if (!list) out.set(inode, (list = []));
      list.push({ pid, fd });
    }
  }
  return out;
}

/** Direct children of `pid`: /proc/PID/task/TID/children when the kernel has it, else a ppid scan. */
export function childrenOf(pid: number): number[] {
  try {
    const tasks = readdirSync(`${PROC}/${pid}/task`);
    const kids: number[] = [];
    for (const t of tasks) {
      const text = readFileSync(`${PROC}/${pid}/task/${t}/children`, 'latin1').trim();
      if (text) for (const k of text.split(' ')) kids.push(Number(k));
    }
    return kids;
  } catch {
    // CONFIG_PROC_CHILDREN off, or the process is gone: fall through to the scan
  }
  return descendantsOf([pid], 1);
}

/** All descendants of the given pids (breadth-first, `depth` levels, one /proc scan). */
export function descendantsOf(roots: number[], depth = Number.POSITIVE_INFINITY): number[] {
  const byParent = new Map<number, number[]>();
  for (const pid of listPids()) {
    const st = readStat(pid);
    if (!st) continue;
    let list = byParent.get(st.ppid);
    if (!list) byParent.set(st.ppid, (list = []));
    list.push(pid);
  }
  const out: number[] = [];
  const seen = new Set(roots);
  let level = roots;
  for (let d = 0; d < depth && level.length > 0; d++) {
    const next: number[] = [];
    for (const p of level) {
      for (const k of byParent.get(p) ?? []) {
        if (seen.has(k)) continue;
        seen.add(k);
        out.push(k);
        next.push(k);
      }
    }
    level = next;
  }
  return out;
}

export interface ProcessStats {
  pid: number;
  comm: string;
  cmdline: string;
  ppid: number;
  fds: number | null;
  fdLimit: FdLimit | null;
  rss: number | null;
}

/** `fds`: an fd count already known (from scanSocketFds), which spares reading the fd directory again. */
export function readProcessStats(pid: number, fds?: number | null): ProcessStats | null {
  const st = readStat(pid);
  if (!st) return null;
  return {
    pid,
    comm: st.comm,
    cmdline: readCmdline(pid),
    ppid: st.ppid,
    fds: fds ?? readFdCount(pid),
    fdLimit: readFdLimit(pid),
    rss: readRss(pid),
  };
}
