// Which processes to read for a port's owners. A server is whoever holds the listening socket (ours or
// not, one process or a tree of workers), so the listeners' holders are found first, cheaply: each
// process is read only until it shows one of the listeners, or for OWNER_SCAN_GIVE_UP fds without one
// (a load generator's 20,000 client sockets are not read). Those holders and their descendants are then
// read in full (owner-scan.ts). Later refreshes skip the search while the last holders still hold the
// listeners. If sockets are left without an owner, the processes given up on are read in full after all.
import { readlinkSync } from 'node:fs';
import { scanSocketFds } from './fd-scan.ts';
import type { DiagSocket } from './inet-diag.ts';
import { descendantsOf, listPids } from './proc-process.ts';

/** A process whose first this-many fds hold none of the port's listeners is not read further (at first). */
export const OWNER_SCAN_GIVE_UP = 256;

export interface Owner {
  pid: number;
  fd: number;
}

type Row = Pick<DiagSocket, 'family' | 'state' | 'localAddress' | 'localPort' | 'inode'>;

const ownerCache = new Map<number, Owner[]>(); // listener inode -> owners seen at the last refresh

/** Remember who held each listener, for the next refresh. */
export function rememberOwners(inode: number, owners: Owner[]): void {
  ownerCache.set(inode, owners);
}

/** Owner pids of these listener inodes if every one is cached and still held, else null. */
function cachedOwners(inodes: number[]): number[] | null {
  if (inodes.length === 0) return null;
  const pids = new Set<number>();
  for (const inode of inodes) {
    const list = ownerCache.get(inode);
    if (!list) return null;
    for (const o of list) {
      try {
        if (readlinkSync(`/proc/${o.pid}/fd/${o.fd}`) !== `socket:[${inode}]`) return null;
      } catch {
        return null;
      }
      pids.add(o.pid);
    }
  }
  return [...pids];
}

export interface OwnerCandidates {
  /** Processes to read in full: the listeners' holders and their descendants. */
  pids: number[];
  /** Processes read only in part (given up on), in case sockets are left without an owner. */
  givenUp: number[];
}

/** Whose fd tables to read for a port with these listeners. */
export function ownerCandidates(listeners: Row[], fullScan = false): OwnerCandidates {
  const inodes = listeners.map((l) => l.inode).filter((i) => i > 0);
  const known = fullScan ? null : cachedOwners(inodes);
  if (known) return { pids: [...known, ...descendantsOf(known)], givenUp: [] };
  const wanted = new Set(inodes);
  const holders: number[] = [];
  const givenUp: number[] = [];
  for (const pid of listPids()) {
    const scan = scanSocketFds(pid, wanted, { giveUpAfter: OWNER_SCAN_GIVE_UP, firstOnly: true });
    if (scan.held.size > 0) holders.push(pid);
    else if (!scan.complete) givenUp.push(pid);
  }
  const pids = new Set([...holders, ...descendantsOf(holders)]);
  return { pids: [...pids], givenUp: givenUp.filter((p) => !pids.has(p)) };
}

/** Unowned sockets tolerated (closed meanwhile) before the given-up processes are read. */
const UNOWNED_SLACK = (connected: number) => Math.max(16, Math.ceil(connected / 100));

/**
 * If a listener has no owner, or more connected sockets than churn explains have none, read the
 * processes given up on, one by one, in full, until every listener and socket is owned. `unowned`
 * counts what is left without an owner; `readFully(pid)` reads one process and says how many listeners
 * and sockets it newly owns.
 */
export function completeOwners(
  givenUp: number[],
  unowned: { listeners: number; sockets: number; connected: number },
  readFully: (pid: number) => { listeners: number; sockets: number },
): void {
  const slack = UNOWNED_SLACK(unowned.connected);
  for (const pid of givenUp) {
    if (unowned.listeners === 0 && unowned.sockets <= slack) return;
    const got = readFully(pid);
    unowned.listeners -= got.listeners;
    unowned.sockets -= got.sockets;
  }
}
