// Socket inodes held by a process, read fast: with 100,000 connections a refresh reads 100,000 fds,
// and through node:fs each costs a Dir entry object, a path string, a link string and their garbage.
// Here libc does the work through koffi: a whole table through a pidfd (tableByPidfd), else
// getdents64 fills one buffer with fd names, readlinkat(dirfd, name) writes "socket:[INODE]" into a
// reused buffer and the inode is parsed from the bytes, so nothing is allocated per fd (figures:
// docs/performance.md). Same contract as proc-process.ts scanSocketFds,
// which remains the fallback where koffi or these libc functions are unavailable.
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { type FdScan, type ScanLimits, scanSocketFds as scanWithNodeFs } from './proc-process.ts';

type Fn = (...args: unknown[]) => number;
interface Lib {
  getdents64: Fn;
  readlinkat: Fn;
  /** pidfd_open, pidfd_getfd, statx, close: null where libc lacks them (glibc < 2.36). */
  pidfd: { open: Fn; getfd: Fn; statx: Fn; close: Fn } | null;
}

let lib: Lib | null | undefined;

async function load(): Promise<Lib | null> {
  if (lib !== undefined) return lib;
  try {
    if (process.platform !== 'linux') return (lib = null);
    const koffi = (await import('koffi')).default;
    const c = koffi.load('libc.so.6');
    let pidfd: Lib['pidfd'] = null;
    try {
      pidfd = {
        open: c.func('int pidfd_open(int, unsigned int)'),
        getfd: c.func('int pidfd_getfd(int, int, unsigned int)'),
        statx: c.func('int statx(int, const char *path, int, unsigned int, _Out_ uint8_t *buf)'),
        close: c.func('int close(int)'),
      };
    } catch {
      pidfd = null;
    }
    lib = {
      getdents64: c.func('long getdents64(int, _Out_ uint8_t *buf, size_t)'),
      readlinkat: c.func('long readlinkat(int, const uint8_t *path, _Out_ uint8_t *buf, size_t)'),
      pidfd,
    };
  } catch {
    lib = null;
  }
  return lib;
}

/** Load the libc functions (once); false means the node:fs fallback will be used. */
export async function fastFdScanAvailable(): Promise<boolean> {
  return (await load()) !== null;
}

const DENTS = Buffer.alloc(64 * 1024);
// For a scan that stops early: getdents64 creates the kernel's entry (dentry) of every fd it returns, so
// 64 KB (about 2,700 fds) per process costs a search for a listener ten times what its first fds cost.
const FEW_DENTS = Buffer.alloc(8 * 1024);
const NAME = Buffer.alloc(16);
const LINK = Buffer.alloc(64);
const SOCKET_PREFIX = Buffer.from('socket:[');

/** "socket:[123]" in LINK[0..n) -> 123, else -1. */
function inodeOfLink(n: number): number {
  if (n < 10 || LINK[n - 1] !== 93) return -1;
  for (let i = 0; i < 8; i++) if (LINK[i] !== SOCKET_PREFIX[i]) return -1;
  let v = 0;
  for (let i = 8; i < n - 1; i++) v = v * 10 + (LINK[i] - 48);
  return v;
}

/** Every socket a process holds, as two parallel arrays (no per-fd object, no hashing). */
export interface FdTable {
  pid: number;
  /** Socket inodes, in fd order. */
  inodes: Float64Array<ArrayBuffer>;
  /** The fd holding each. */
  fds: Int32Array<ArrayBuffer>;
  /** Open fds; null unless the whole table was read. */
  fdCount: number | null;
  complete: boolean;
}

/**
 * The one walk of /proc/PID/fd both readers share: getdents64 names each fd, readlinkat reads its link.
 * `visit(inode, fd, count)` is called for every fd still open when its link is read (inode -1: not a
 * socket; count: fds seen so far) and returns true to stop. The result is the fd count when the whole
 * directory was read, null when stopped or when the process vanished (or turned unreadable) mid-read
 * (getdents64 fails: a partial table is never reported complete), undefined when it could not be opened.
 */
function walkFds(
  c: Lib,
  pid: number,
  visit: (inode: number, fd: number, count: number) => boolean,
  dents = DENTS,
): number | null | undefined {
  let dirfd: number;
  try {
    dirfd = openSync(`/proc/${pid}/fd`, 'r');
  } catch {
    return undefined; // gone or not readable
  }
  try {
    let count = 0;
    for (;;) {
      const n = c.getdents64(dirfd, dents, dents.length);
      if (n === 0) return count; // end of directory
      if (n < 0) return null; // the process is gone (ENOENT) or the read failed
      for (let pos = 0; pos < n; ) {
        const name = pos + 19;
        pos += dents.readUInt16LE(pos + 16);
        if (dents[name] === 46) continue; // "." and ".."
        let fd = 0;
        let j = 0;
        for (; dents[name + j] !== 0; j++) {
          NAME[j] = dents[name + j];
          fd = fd * 10 + (dents[name + j] - 48);
        }
        NAME[j] = 0;
        count++;
        const m = c.readlinkat(dirfd, NAME, LINK, LINK.length);
        if (m <= 0) continue; // closed meanwhile
        if (visit(inodeOfLink(m), fd, count)) return null;
      }
    }
  } finally {
    closeSync(dirfd);
  }
}

let tableInodes: Float64Array<ArrayBuffer> = new Float64Array(1024);
let tableFds: Int32Array<ArrayBuffer> = new Int32Array(1024);
let tableLength = 0;

function addToTable(inode: number, fd: number): boolean {
  if (inode < 0) return false;
  const k = tableLength;
  if (k === tableInodes.length) {
    const bigger = new Float64Array(k * 2);
    bigger.set(tableInodes);
    tableInodes = bigger;
    const biggerFds = new Int32Array(k * 2);
    biggerFds.set(tableFds);
    tableFds = biggerFds;
  }
  tableInodes[k] = inode;
  tableFds[k] = fd;
  tableLength = k + 1;
  return false;
}

const STATX = Buffer.alloc(256);
const AT_EMPTY_PATH = 0x1000;
const AT_STATX_DONT_SYNC = 0x4000; // a network file system's cached attributes: no round trip
const STATX_TYPE_INO = 0x1 | 0x100;
const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;

/**
 * The fd table read through a pidfd instead of /proc/PID/fd's names and links: each fd is duplicated
 * into this process (pidfd_getfd), its inode read (statx) and the copy closed. A link read makes procfs
 * build a dentry and an inode for the fd (~1 KB of kernel memory each, a million at 1M connections, the
 * first refresh's main cost); this builds nothing (docs/performance.md). It needs ptrace access to the
 * process (more than reading its fd links): null when denied, when the table is far sparser than its
 * size (a slot without an fd still costs a call), or where the kernel does not give /proc/PID/fd's fd
 * count (Linux < 6.2): the caller then walks the names. Slots are read in fd order up to the fd count.
 * Closing the copy of a file on FUSE or NFS calls that file system's flush, as any close does: a socket
 * or a local file has none. Returns the fd count, -1 when the process vanished meanwhile (the table read
 * so far is partial), null when the names are to be walked instead.
 */
function tableByPidfd(c: Lib, pid: number): number | null {
  const p = c.pidfd;
  if (!p || pid === process.pid) return null; // reading itself, its own copies would shift the table
  let open: number;
  let size: number;
  try {
    open = statSync(`/proc/${pid}/fd`).size; // the open fd count (Linux >= 6.2; 0 before)
    const m = /^FDSize:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    size = m ? Number(m[1]) : 0;
  } catch {
    return null;
  }
  if (open <= 0 || size <= 0 || size > 8 * open + 4096) return null;
  const pfd = p.open(pid, 0);
  if (pfd < 0) return null;
  let count = 0;
  try {
    for (let fd = 0; fd < size && count < open; fd++) {
      const d = p.getfd(pfd, fd, 0);
      if (d < 0) continue; // no fd in this slot (or closed meanwhile), or access denied (none then)
      count++;
      const r = p.statx(d, '', AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE_INO, STATX);
      p.close(d);
      if (r === 0 && (STATX.readUInt16LE(28) & S_IFMT) === S_IFSOCK)
        addToTable(Number(STATX.readBigUInt64LE(32)), fd);
    }
  } finally {
    p.close(pfd);
  }
  if (count === 0) return null; // denied (or gone): the names are walked instead
  // gone meanwhile (a zombie has no fds left to read): never a partial table reported whole
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat[stat.lastIndexOf(')') + 2];
    if (state === 'Z' || state === 'X') return -1;
  } catch {
    return -1;
  }
  return count;
}

/**
 * Every socket `pid` holds, with its fd, read whole: what scanSocketFds(pid, null) reads, into typed
 * arrays (a million sockets are a million Map entries otherwise, most of a refresh at that size).
 */
export function scanSocketTable(pid: number): FdTable {
  const c = lib;
  if (!c) {
    const scan = scanWithNodeFs(pid, null);
    return {
      pid,
      inodes: Float64Array.from(scan.held.keys()),
      fds: Int32Array.from(scan.held.values()),
      fdCount: scan.fdCount,
      complete: scan.complete,
    };
  }
  tableLength = 0;
  let count: number | null | undefined = tableByPidfd(c, pid);
  if (count === -1) count = null;
  else if (count === null) {
    tableLength = 0;
    count = walkFds(c, pid, addToTable);
  }
  return {
    pid,
    inodes: tableInodes.slice(0, tableLength),
    fds: tableFds.slice(0, tableLength),
    fdCount: count ?? null,
    complete: count !== null && count !== undefined,
  };
}

/**
 * As proc-process.ts scanSocketFds (which it falls back to): which `relevant` socket inodes (null: every
 * socket) `pid` holds, in fd order. Call fastFdScanAvailable() once before, else this is the fallback.
 */
export function scanSocketFds(pid: number, relevant: Set<number> | null, limits: ScanLimits = {}): FdScan {
  const c = lib;
  if (!c) return scanWithNodeFs(pid, relevant, limits);
  const giveUpAfter = limits.giveUpAfter ?? Infinity;
  const held = new Map<number, number>();
  const count = walkFds(
    c,
    pid,
    (inode, fd, seen) => {
      if (inode >= 0 && (relevant === null || relevant.has(inode)) && !held.has(inode)) {
        held.set(inode, fd);
        if (limits.firstOnly) return true;
      }
      return held.size === 0 && seen >= giveUpAfter;
    },
    limits.firstOnly || giveUpAfter < 1024 ? FEW_DENTS : DENTS,
  );
  return { pid, held, fdCount: count ?? null, complete: count !== null && count !== undefined };
}
