// How many connection children process-per-connection may run at once by default: as many as half the
// memory available can hold, at what one child costs, and never more than CHILD_CEILING. Each child is a
// whole Node process (V8 heap, the app, koffi): a fixed 256 of them could take more than the machine had.
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';

/** What one connection child costs: its proportional set size (PSS) serving one echo client, as measured
 * (docs/performance.md), rounded up for a heap that grows under load. */
export const CHILD_BYTES = 32 * 1024 * 1024;
/** The children's share of the memory available. */
export const CHILD_MEMORY_SHARE = 0.5;
/** The default's ceiling, whatever the memory (the cap before it was derived). */
export const CHILD_CEILING = 256;

export interface ChildCap {
  cap: number;
  /** Bytes available when it was derived, and where that figure came from. */
  available: number;
  source: string;
}

/** maxChildren = max(1, min(CHILD_CEILING, floor(available * CHILD_MEMORY_SHARE / CHILD_BYTES))). */
export function childCapFor(available: number): number {
  return Math.max(1, Math.min(CHILD_CEILING, Math.floor((available * CHILD_MEMORY_SHARE) / CHILD_BYTES)));
}

/** /proc/meminfo's MemAvailable, in bytes (null where there is none). */
export function memAvailable(meminfo = '/proc/meminfo'): number | null {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync(meminfo, 'latin1'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Room left under this process's cgroup v2 memory limit (null: no limit, or no cgroup v2). */
export function cgroupRoom(root = '/sys/fs/cgroup'): number | null {
  try {
    const max = readFileSync(`${root}/memory.max`, 'latin1').trim();
    if (max === 'max') return null;
    const current = Number(readFileSync(`${root}/memory.current`, 'latin1').trim());
    return Math.max(0, Number(max) - current);
  } catch {
    return null;
  }
}

/** The default cap on this machine now: MemAvailable (or the cgroup's room, if smaller). */
export function defaultChildCap(): ChildCap {
  const mem = memAvailable();
  const room = cgroupRoom();
  let available = mem ?? freemem();
  let source = mem !== null ? 'MemAvailable' : 'free memory';
  if (room !== null && room < available) {
    available = room;
    source = 'room under the cgroup memory limit';
  }
  return { cap: childCapFor(available), available, source };
}
