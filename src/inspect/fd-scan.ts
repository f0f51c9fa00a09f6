// Socket inodes held by a process, read fast: with 100,000 connections a refresh reads 100,000 fd links,
// and through node:fs each costs a Dir entry object, a path string, a link string and their garbage.
// Here libc does the work through koffi: getdents64 fills one buffer with fd names,
// readlinkat(dirfd, name) writes "socket:[INODE]" into a reused buffer and the inode is parsed from the
// bytes, so nothing is allocated per fd (figures: docs/performance.md). Same contract as proc-process.ts scanSocketFds,
// which remains the fallback where koffi or these libc functions are unavailable.
import { closeSync, openSync } from 'node:fs';
import { type FdScan, type ScanLimits, scanSocketFds as scanWithNodeFs } from './proc-process.ts';

type Fn = (...args: unknown[]) => number;
interface Lib {
  getdents64: Fn;
  readlinkat: Fn;
}

let lib: Lib | null | undefined;

async function load(): Promise<Lib | null> {
  if (lib !== undefined) return lib;
  try {
    if (process.platform !== 'linux') return (lib = null);
    const koffi = (await import('koffi')).default;
    const c = koffi.load('libc.so.6');
    lib = {
      getdents64: c.func('long getdents64(int, _Out_ uint8_t *buf, size_t)'),
      readlinkat: c.func('long readlinkat(int, const uint8_t *path, _Out_ uint8_t *buf, size_t)'),
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
const NAME = Buffer.alloc(16);
const LINK = Buffer.alloc(64);
const SOCKET_PREFIX = Buffer.from('socket:[');

/** "socket:[123]" in LINK[0..n) -> 123, else -1. */
function inodeOfLink(n: number): number {
  if (n < 10 || LINK[n - 1] !== 93 || LINK.compare(SOCKET_PREFIX, 0, 8, 0, 8) !== 0) return -1;
  let v = 0;
  for (let i = 8; i < n - 1; i++) v = v * 10 + (LINK[i] - 48);
  return v;
}

/**
 * As proc-process.ts scanSocketFds (which it falls back to): which `relevant` socket inodes (null: every
 * socket) `pid` holds, in fd order. Call fastFdScanAvailable() once before, else this is the fallback.
 */
export function scanSocketFds(pid: number, relevant: Set<number> | null, limits: ScanLimits = {}): FdScan {
  const c = lib;
  if (!c) return scanWithNodeFs(pid, relevant, limits);
  const giveUpAfter = limits.giveUpAfter ?? Infinity;
  const scan: FdScan = { pid, held: new Map(), fdCount: null, complete: false };
  let dirfd: number;
  try {
    dirfd = openSync(`/proc/${pid}/fd`, 'r');
  } catch {
    return scan; // gone or not readable
  }
  try {
    let count = 0;
    for (;;) {
      const n = c.getdents64(dirfd, DENTS, DENTS.length);
      if (n <= 0) break; // end of directory, or the process is gone (ENOENT)
      for (let pos = 0; pos < n; ) {
        const name = pos + 19;
        pos += DENTS.readUInt16LE(pos + 16);
        if (DENTS[name] === 46) continue; // "." and ".."
        let fd = 0;
        let k = 0;
        for (; DENTS[name + k] !== 0; k++) {
          NAME[k] = DENTS[name + k];
          fd = fd * 10 + (DENTS[name + k] - 48);
        }
        NAME[k] = 0;
        count++;
        const m = c.readlinkat(dirfd, NAME, LINK, LINK.length);
        if (m <= 0) continue; // closed meanwhile
        const inode = inodeOfLink(m);
        if (inode >= 0 && (relevant === null || relevant.has(inode)) && !scan.held.has(inode)) {
          scan.held.set(inode, fd);
          if (limits.firstOnly) return scan;
        }
        if (scan.held.size === 0 && count >= giveUpAfter) return scan;
      }
    }
    scan.fdCount = count;
    scan.complete = true;
    return scan;
  } finally {
    closeSync(dirfd);
  }
}
