// The worker thread of owner-scan.ts: claims pids from the shared list one at a time, reads each one's
// whole fd table (every socket, since the port's sockets are not known yet) and posts it back.
import { parentPort } from 'node:worker_threads';
import { fastFdScanAvailable, scanSocketTable } from './fd-scan.ts';
import type { ScanJob, ScanResult } from './owner-scan.ts';

await fastFdScanAvailable();
parentPort!.on('message', ({ job, pids, next }: ScanJob) => {
  for (let i = Atomics.add(next, 0, 1); i < pids.length; i = Atomics.add(next, 0, 1)) {
    const t = scanSocketTable(pids[i]);
    const result: ScanResult = {
      job,
      index: i,
      inodes: t.inodes,
      fds: t.fds,
      fdCount: t.fdCount,
      complete: t.complete,
    };
    parentPort!.postMessage(result, [t.inodes.buffer, t.fds.buffer]);
  }
});
parentPort!.postMessage('ready');
