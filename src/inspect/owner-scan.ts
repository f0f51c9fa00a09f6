// Reading owners' fd tables on two threads. With 100,000 connections a refresh reads 100,000 fd links
// (mostly kernel time) and dumps 100,000 sockets: a worker thread starts on the fd tables
// while this thread dumps the sockets, then this thread joins in. The pids are handed out through a
// shared counter, one at a time, so whichever thread is free takes the next. Where no worker can run,
// this thread reads them all; if the worker dies, this thread reads what it had not returned.
import { Worker } from 'node:worker_threads';
import { siblingModule } from '../module-path.ts';
import { type FdTable, scanSocketTable } from './fd-scan.ts';

export interface ScanJob {
  job: number;
  pids: Int32Array;
  /** Index of the next pid to claim (Atomics.add). */
  next: Int32Array;
}

export interface ScanResult {
  job: number;
  index: number;
  /** Every socket inode of the process with its fd (the worker does not know which are relevant). */
  inodes: Float64Array<ArrayBuffer>;
  fds: Int32Array<ArrayBuffer>;
  fdCount: number | null;
  complete: boolean;
}

export interface OwnerScan {
  /** Pids claimed so far, by either thread (for tests and diagnostics). */
  claimed(): number;
  /** Read the unclaimed fd tables on this thread too; resolve when every pid is read: each process's
   * sockets, in the order of the pid list. */
  finishTables(): Promise<Map<number, FdTable>>;
}

let worker: Worker | null | undefined; // undefined: not started yet; null: none can run
let started: Promise<void> = Promise.resolve(); // settles once the worker has loaded (or died)
let jobs = 0;
const listeners = new Map<number, { result(r: ScanResult): void; died(): void }>();

/** Start the worker thread now (its start-up then overlaps the search for the listeners' holders). */
export function prestartOwnerScan(): void {
  scanWorker();
}

function scanWorker(): Worker | null {
  if (worker !== undefined) return worker;
  try {
    const w = new Worker(siblingModule('./fd-scan-worker.ts', import.meta.url));
    let settle = () => {};
    started = new Promise<void>((resolve) => (settle = resolve));
    // Kept between refreshes (--watch), never keeping the process alive by itself (an unref() before
    // the thread is online does not hold: done again once it is).
    w.unref();
    w.once('online', () => w.unref());
    w.on('message', (m: ScanResult | 'ready') => {
      if (m !== 'ready') listeners.get(m.job)?.result(m);
      else settle();
    });
    const dead = () => {
      settle();
      worker = null;
      for (const l of listeners.values()) l.died();
    };
    w.on('error', dead);
    w.on('exit', dead);
    worker = w;
  } catch {
    worker = null;
  }
  return worker;
}

/**
 * Resolve once the worker thread has started (loaded its libc functions) or died, at most `maxMs` later.
 * A process that ends while the worker is still loading koffi can abort in koffi's module start-up (a
 * JS exception thrown into a thread being torn down): a caller about to finish awaits this first.
 */
export async function ownerScanStarted(maxMs = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined; // ref'd (the worker is not): it holds the event loop meanwhile
  await Promise.race([started, new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)))]);
  clearTimeout(timer);
}

/** Start reading these processes' fd tables; `finishTables` joins in and collects the results. */
export function startOwnerScan(pidList: number[]): OwnerScan {
  const pids = new Int32Array(new SharedArrayBuffer(4 * pidList.length));
  pids.set(pidList);
  const next = new Int32Array(new SharedArrayBuffer(4));
  const job = ++jobs;
  const results: (FdTable | undefined)[] = new Array(pidList.length);
  const fromWorker: ScanResult[] = [];
  let done = () => {};
  let returned = 0;
  const w = pidList.length > 1 ? scanWorker() : null;
  if (w) {
    listeners.set(job, {
      result: (r) => {
        fromWorker.push(r);
        returned++;
        done();
      },
      died: () => done(),
    });
    w.postMessage({ job, pids, next } satisfies ScanJob);
  }
  return {
    claimed: () => Math.min(Atomics.load(next, 0), pids.length),
    async finishTables() {
      let mine = 0;
      for (let i = Atomics.add(next, 0, 1); i < pids.length; i = Atomics.add(next, 0, 1)) {
        results[i] = scanSocketTable(pids[i]);
        mine++;
      }
      if (w) {
        // Every pid claimed by the worker comes back, unless it dies. The worker is unref'd (it must not
        // keep a finished process alive), so a timer holds the event loop open while we wait for it.
        const keepAlive = setInterval(() => {}, 60_000);
        while (mine + returned < pids.length && worker === w)
          await new Promise<void>((resolve) => (done = resolve));
        clearInterval(keepAlive);
        listeners.delete(job);
      }
      for (const r of fromWorker) {
        const { inodes, fds, fdCount, complete } = r;
        results[r.index] = { pid: pids[r.index], inodes, fds, fdCount, complete };
      }
      const tables = new Map<number, FdTable>();
      for (let i = 0; i < pids.length; i++) tables.set(pids[i], results[i] ?? scanSocketTable(pids[i]));
      return tables;
    },
  };
}
