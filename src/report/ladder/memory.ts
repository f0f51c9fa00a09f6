// The server's memory, split so that a sum over 60 worker processes means something: a process's RSS
// counts every shared page it maps (Node's own code, libraries), once per process, and a worker touches
// more of that code once it serves connections; its private anonymous memory (smaps_rollup Anonymous:
// the JS heap, native allocations, buffers) is what it allocated itself and is in no other process.
import { readFileSync } from 'node:fs';
import { descendantsOf } from '../../inspect/proc-process.ts';

export interface TreeMemory {
  processes: number;
  /** Sum of the processes' RSS (shared pages counted in each), bytes. */
  rssBytes: number;
  /** Sum of their private anonymous memory, bytes; null when smaps_rollup cannot be read. */
  anonBytes: number | null;
}

/** kB fields of /proc/PID/smaps_rollup, or null when the process is gone or the file is missing. */
export function readSmapsRollup(pid: number): Record<string, number> | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  } catch {
    return null;
  }
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+):\s+(\d+) kB$/gm)) out[m[1]] = Number(m[2]) * 1024;
  return out;
}

/** RSS and private anonymous memory of `root` and every process under it. */
export function treeMemory(root: number): TreeMemory {
  let processes = 0;
  let rss = 0;
  let anon: number | null = 0;
  for (const pid of [root, ...descendantsOf([root])]) {
    const s = readSmapsRollup(pid);
    if (!s || s.Rss === undefined) continue;
    processes++;
    rss += s.Rss;
    if (anon !== null) anon = s.Anonymous === undefined ? null : anon + s.Anonymous;
  }
  return { processes, rssBytes: rss, anonBytes: anon };
}
