// Asking workers for their counters: a { t: 'stats', id } message (over IPC, or postMessage to a thread),
// answered by one with the same id. Shared by the supervisor, the process-per-connection parent and the
// thread pool. One question per worker at a time: callers that arrive while one is pending get its
// answer (a status request asks for the totals and the per-worker counters at once, which would
// otherwise ask every worker twice).
import type { ServerStats } from '../net/server-core.ts';

/** The question; processes and threads both understand it. */
export type StatsQuestion = { t: 'stats'; id: number };

/** How long a worker has to answer before it counts as not answering (null). */
export const STATS_TIMEOUT_MS = 2000;

export class StatsAsker<Target extends object> {
  private seq = 0;
  private readonly waiters = new Map<number, (stats: ServerStats | null) => void>();
  private readonly pending = new Map<Target, Promise<ServerStats | null>>();

  /** `target`'s counters, or null if it cannot be asked (`send` false), is `gone` first (when given) or
   * stays silent. */
  ask(
    target: Target,
    send: (message: StatsQuestion) => boolean,
    gone?: Promise<unknown>,
  ): Promise<ServerStats | null> {
    const already = this.pending.get(target);
    if (already) return already;
    const id = ++this.seq;
    const answer = new Promise<ServerStats | null>((resolve) => {
      const done = (stats: ServerStats | null) => {
        clearTimeout(timer);
        this.waiters.delete(id);
        this.pending.delete(target);
        resolve(stats);
      };
      const timer = setTimeout(() => done(null), STATS_TIMEOUT_MS);
      this.waiters.set(id, done);
      gone?.then(() => done(null));
      if (!send({ t: 'stats', id })) done(null);
    });
    if (this.waiters.has(id)) this.pending.set(target, answer);
    return answer;
  }

  /** A { t: 'stats', id, stats } message from a worker. */
  answered(id: number, stats: ServerStats): void {
    this.waiters.get(id)?.(stats);
  }
}
