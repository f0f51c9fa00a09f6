// The bytes of one connection that the kernel has not taken yet. A connection has one only while it has
// something waiting (an idle connection carries none: memory per idle connection is the c10k budget).
// Queued bytes are copies: what the app sent may be a view of the shared read buffer.
import { EAGAIN, IOV_MAX, write, writevBuffers } from '../../sys/index.ts';

export class Outbox {
  /** Oldest first; the head is sent from `headOffset`. */
  private readonly queue: Buffer[] = [];
  private headOffset = 0;
  /** Bytes in the queue. */
  queued = 0;
  /** Writes held while corked (they leave in one writev at uncork); null when not corked. */
  private gather: Buffer[] | null = null;
  /** Bytes held while corked. */
  gathered = 0;

  get corked(): boolean {
    return this.gather !== null;
  }

  get empty(): boolean {
    return this.queued === 0 && this.gather === null;
  }

  cork(): void {
    this.gather ??= [];
  }

  hold(bytes: Buffer): void {
    this.gather!.push(bytes);
    this.gathered += bytes.length;
  }

  /**
   * Queue bytes. `borrowed` (the default): they may be a view of memory reused later (the reactor's read
   * buffer), so a copy is queued. Owned bytes (the app's own Buffer, like node:net's write()) are queued as
   * they are: a slow reader then costs its queued bytes once, not twice (copy + garbage).
   */
  enqueue(bytes: Buffer, borrowed = true): void {
    if (!borrowed) {
      this.queue.push(bytes);
      this.queued += bytes.length;
      return;
    }
    const copy = Buffer.allocUnsafe(bytes.length);
    bytes.copy(copy);
    this.queue.push(copy);
    this.queued += copy.length;
  }

  /** Write what was held with writev; queue whatever the kernel refuses. 0, or -errno on failure. */
  uncork(fd: number): number {
    const gather = this.gather ?? [];
    this.gather = null;
    this.gathered = 0;
    if (this.queued > 0) {
      for (const b of gather) this.enqueue(b);
      return 0;
    }
    for (let at = 0; at < gather.length; at += IOV_MAX) {
      const batch = gather.length <= IOV_MAX ? gather : gather.slice(at, at + IOV_MAX);
      let n = writevBuffers(fd, batch);
      if (n < 0) {
        if (n !== -EAGAIN) return n;
        n = 0;
      }
      let i = 0;
      for (; i < batch.length && n >= batch[i].length; i++) n -= batch[i].length;
      if (i < batch.length) {
        // The kernel took part: queue the rest, in order, and stop here.
        this.enqueue(n > 0 ? batch[i].subarray(n) : batch[i]);
        for (let j = i + 1; j < batch.length; j++) this.enqueue(batch[j]);
        for (let j = at + IOV_MAX; j < gather.length; j++) this.enqueue(gather[j]);
        return 0;
      }
    }
    return 0;
  }

  /** Write queued bytes until the kernel refuses. 0, or -errno on failure. */
  flush(fd: number): number {
    const queue = this.queue;
    while (queue.length > 0) {
      const head = queue[0];
      const left = head.length - this.headOffset;
      const n = write(fd, this.headOffset === 0 ? head : head.subarray(this.headOffset), left);
      if (n < 0) return n === -EAGAIN ? 0 : n;
      this.queued -= n;
      if (n < left) {
        this.headOffset += n;
        return 0;
      }
      queue.shift();
      this.headOffset = 0;
    }
    return 0;
  }
}
