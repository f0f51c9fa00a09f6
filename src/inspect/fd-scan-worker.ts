// The worker thread of owner-scan.ts: claims pids from the shared list one at a time, reads each one's
// whole fd table (every socket, since the port's sockets are not known yet) and posts it back.
import { parentPort } from 'node:worker_threads';
import { fastFdScanAvailable, scanSocketFds } from './fd-scan.ts';
import type { ScanJob, ScanResult } from './owner-scan.ts';

await fastFdScanAvailable();
parentPort!.on('message', ({ job, pids, next }: ScanJob) => {
  for (let i = Atomics.add(next, 0, 1); i < pids.length; i = Atomics.add(next, 0, 1)) {
    const scan = scanSocketFds(pids[i], null);
    const inodes = new Float64Array(scan.held.size);
    const fds = new Int32Array(scan.held.size);
    let k = 0;
    for (const [inode, fd] of scan.held) {
      inodes[k] = inode;
      fds[k++] = fd;
    }
    const result: ScanResult = { job, index: i, inodes, fds, fdCount: scan.fdCount, complete: scan.complete };
    parentPort!.postMessage(result, [inodes.buffer, fds.buffer]);
  }
});
parentPort!.postMessage('ready');
