// One refresh of the inspector: a snapshot, joined with the server's own counters when a status URL is
// given. (The status client, which needs node:http, is loaded only then.)
import { type JoinedSnapshot, joinStatus } from './join.ts';
import { inspect } from './snapshot.ts';

export interface SampleOptions {
  port?: number;
  pid?: number;
  sockets?: boolean;
  statusUrl?: string;
  statusToken?: string;
  /** Sum the kernel's per-socket byte counters (the page's bytes/s without a status URL). */
  kernelBytes?: boolean;
}

/** One snapshot joined with the server's counters (a failed status fetch is reported, not thrown). */
export async function sample(opts: SampleOptions, fullScan = false): Promise<JoinedSnapshot> {
  const [snap, status] = await Promise.all([
    inspect({
      port: opts.port,
      pid: opts.pid,
      sockets: opts.sockets,
      fullScan,
      kernelBytes: opts.kernelBytes,
    }),
    opts.statusUrl
      ? import('../admin/status.ts')
          .then(({ fetchStatus }) => fetchStatus(opts.statusUrl!, opts.statusToken))
          .catch((e: Error) => e)
      : Promise.resolve(undefined),
  ]);
  const joined: JoinedSnapshot = snap;
  if (status instanceof Error) joined.serverError = status.message;
  else if (status) joined.server = joinStatus(snap, status, opts.statusUrl!);
  return joined;
}
