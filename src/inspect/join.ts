// Joining a server's own counters (c10k serve --status) to the kernel's view of it (inspect()): per
// worker pid, what the server believes (active connections, accepted, bytes) next to what the kernel
// shows that pid holding (connected sockets, fds, RSS). The two differ for honest reasons (a connection
// closed by the peer but not yet read, sockets still in the accept queue), and the explanations say so.
import type { StatusDoc } from '../admin/status.ts';
import type { ServerStats } from '../net/server-core.ts';
import type { Snapshot } from './snapshot.ts';

export interface JoinedWorker {
  pid: number;
  /** A thread of `pid` (thread-pool). */
  thread?: number;
  stats: ServerStats;
  /**
   * The kernel's figures for this pid; null when the inspector saw no socket held by it, and for every
   * thread of a process but the first (threads share their process's sockets: given once).
   */
  kernel: { connections: number; fds: number | null; rss: number | null } | null;
}

export interface ServerView {
  url: string;
  model: string;
  backend: string;
  port: number;
  uptimeMs: number;
  /** Every connected socket on the server's port speaks TLS. */
  tls: boolean;
  totals: ServerStats;
  workers: JoinedWorker[];
  explain: string[];
}

export type JoinedSnapshot = Snapshot & { server?: ServerView; serverError?: string };

export function joinStatus(snap: Snapshot, doc: StatusDoc, url: string): ServerView {
  const byPid = new Map(snap.processes.map((p) => [p.pid, p]));
  const given = new Set<number>();
  const workers: JoinedWorker[] = doc.workers.map((w) => {
    const p = given.has(w.pid) ? undefined : byPid.get(w.pid);
    given.add(w.pid);
    const joined: JoinedWorker = {
      pid: w.pid,
      stats: w.stats,
      kernel: p ? { connections: p.connections, fds: p.fds, rss: p.rss } : null,
    };
    if (w.thread !== undefined) joined.thread = w.thread;
    return joined;
  });
  const explain: string[] = [];
  const t = doc.totals;
  const owned = snap.processes.filter((p) => doc.pids.includes(p.pid)).reduce((n, p) => n + p.connections, 0);
  const queued = snap.listeners.reduce((n, l) => n + l.acceptQueue, 0);
  explain.push(
    `server: ${t.active} active (${t.accepted} accepted, ${t.rejected} rejected); kernel: ${owned} connected ` +
      `sockets held by its processes, ${queued} waiting in the accept queue (not yet accepted, so not counted by the server)`,
  );
  if (snap.port !== undefined && doc.port !== snap.port)
    explain.push(`the status URL reports port ${doc.port}, not the inspected port ${snap.port}`);
  const closed = Object.entries(t.closed)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  if (closed) explain.push(`closed by reason: ${closed}`);
  if (doc.tls) {
    explain.push(
      `TLS: every connected socket on port ${doc.port} speaks TLS (the kernel sees only TCP): ` +
        `${t.tlsHandshakes ?? 0} handshakes done (${t.tlsResumed ?? 0} resumed by a ticket), ` +
        `${t.tlsHandshaking ?? 0} under way; failed: tls-error ${t.closed['tls-error'] ?? 0}, ` +
        `handshake-timeout ${t.closed['handshake-timeout'] ?? 0}`,
    );
  }
  return {
    url,
    model: doc.model,
    backend: doc.backend,
    port: doc.port,
    uptimeMs: doc.uptimeMs,
    tls: doc.tls === true,
    totals: doc.totals,
    workers,
    explain,
  };
}
