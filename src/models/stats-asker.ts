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
  private readonly pending = new Map<
    Target,
    { answer: Promise<ServerStats | null>; done: (stats: null) => void }
  >();
  /** Targets whose `gone` has a handler: one each, not one per ask (a long-lived worker scraped by
   * /metrics would pile reactions onto its exit promise). */
  private readonly watched = new WeakSet<Target>();
  /** Targets whose `gone` settled. */
  private readonly left = new WeakSet<Target>();

  /** `target`'s counters, or null if it cannot be asked (`send` false), is `gone` first (when given) or
   * stays silent. */
  ask(
    target: Target,
    send: (message: StatsQuestion) => boolean,
    gone?: Promise<unknown>,
  ): Promise<ServerStats | null> {
    const already = this.pending.get(target);
    if (already) return already.answer;
    if (gone) {
      if (this.left.has(target)) return Promise.resolve(null);
      if (!this.watched.has(target)) {
        this.watched.add(target);
        gone.then(() => {
          this.left.add(target);
          this.pending.get(target)?.done(null);
        });
      }
    }
    const id = ++this.seq;
    let done!: (stats: ServerStats | null) => void;
    const answer = new Promise<ServerStats | null>((resolve) => {
      const timer = setTimeout(() => done(null), STATS_TIMEOUT_MS);
      done = (stats) => {
        clearTimeout(timer);
        this.waiters.delete(id);
        this.pending.delete(target);
        resolve(stats);
      };
    });
    this.waiters.set(id, done);
    this.pending.set(target, { answer, done });
    if (!send({ t: 'stats', id })) done(null);
    return answer;
  }

  /** Questions waiting for an answer (each has a timer until answered, timed out or its target gone). */
  get waiting(): number {
    return this.waiters.size;
  }

  /** A { t: 'stats', id, stats } message from a worker. */
  answered(id: number, stats: ServerStats): void {
    this.waiters.get(id)?.(stats);
  }
}
