// CPU time and memory of a server and every process under it, from /proc. A reaped child's CPU time is
// in its parent's cutime/cstime, so summing (utime+stime+cutime+cstime) over the live processes of the
// tree counts every process that ever ran in it once — the process-per-connection model's children too.
// With { anon: true } the same walk sums private anonymous memory (smaps_rollup Anonymous: the JS heap,
// native allocations, buffers): a process's RSS counts every shared page it maps (Node's own code,
// libraries) once per process, so over 60 workers only the anonymous figure adds up to what they allocated.
import { readFileSync } from 'node:fs';
import { descendantsOf } from '../inspect/proc-process.ts';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface TreeUsage {
  cpuMs: number;
  rssBytes: number;
  processes: number;
  /** With { anon: true }: sum of private anonymous memory, bytes; null when smaps_rollup cannot be read. */
  anonBytes?: number | null;
}

/** The Anonymous field of /proc/PID/smaps_rollup in bytes, or null when it cannot be read. */
function readAnonymous(pid: number): number | null {
  try {
    const m = /^Anonymous:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** ownTicks: utime + stime; reapedTicks: cutime + cstime (its reaped children's). */
function readUsage(pid: number): { ownTicks: number; reapedTicks: number; rssPages: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields after comm: [0]=state ... [11]=utime [12]=stime [13]=cutime [14]=cstime ... [21]=rss (pages)
    return {
      ownTicks: Number(f[11]) + Number(f[12]),
      reapedTicks: Number(f[13]) + Number(f[14]),
      rssPages: Number(f[21]),
    };
  } catch {
    return null;
  }
}

const PAGE = 4096;

export function treeUsage(root: number, opts: { anon?: boolean } = {}): TreeUsage {
  let ticks = 0;
  let pages = 0;
  let processes = 0;
  let anon: number | null = 0;
  for (const pid of [root, ...descendantsOf([root])]) {
    const u = readUsage(pid);
    if (!u) continue;
    ticks += u.ownTicks + u.reapedTicks;
    pages += u.rssPages;
    processes++;
    if (opts.anon && anon !== null) {
      const a = readAnonymous(pid);
      anon = a === null ? null : anon + a;
    }
  }
  const usage: TreeUsage = { cpuMs: (ticks * 1000) / TICKS_PER_SECOND, rssBytes: pages * PAGE, processes };
  if (opts.anon) usage.anonBytes = anon;
  return usage;
}

/** CPU time (user + system, ms) of each live process under `root` and of `root` itself, its reaped
 * children's left out: what each spent between two readings, where a child reaped meanwhile must not
 * count. */
export function ownCpuMsUnder(root: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of [root, ...descendantsOf([root])]) {
    const u = readUsage(pid);
    if (u) out.set(pid, (u.ownTicks * 1000) / TICKS_PER_SECOND);
  }
  return out;
}
