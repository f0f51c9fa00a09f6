// How many connections one process may hold before it runs out of descriptors. Every connection is one
// descriptor; the process also needs some for itself (log files, the app's own files, a DNS lookup, the
// listening socket, IPC, an accept in progress), so connections stop FD_RESERVE short of the open-files
// limit, counted from the descriptors already open when the server starts. Both backends use it: the
// syscall reactor stops watching its listening socket at the cap (new clients wait in the kernel's accept
// queue, or go to another worker sharing the socket) and resumes below it; node:net cannot leave a client
// in the queue, so the node reactor accepts and closes it at once ('fd-limit').
import { readdirSync } from 'node:fs';
import { getrlimit, syscallBackendAvailable } from '../sys/index.ts';

/** Descriptors kept free for the process's own files; accepting pauses before them. */
export const FD_RESERVE = 64;

/** Descriptors this process has open now (64 if /proc cannot say). */
export function openDescriptors(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 64;
  }
}

/** The soft open-files limit (unlimited: Linux's default nr_open), or Infinity where it cannot be read. */
export function openFilesLimit(): number {
  if (!syscallBackendAvailable()) return Infinity;
  try {
    const soft = getrlimit().soft;
    return Number.isFinite(soft) ? soft : 1 << 20;
  } catch {
    return Infinity;
  }
}

/** Connections this process may hold: the open-files limit less what is open now less the reserve. */
export function connectionFdCap(limit = openFilesLimit()): number {
  if (!Number.isFinite(limit)) return Infinity;
  return Math.max(1, Math.min(limit, 1 << 24) - openDescriptors() - FD_RESERVE);
}
