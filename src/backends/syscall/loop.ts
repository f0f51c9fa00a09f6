// What a connection sees of the reactor that serves it, and no more: the connection handles its own
// events, and the reactor stays free to change how it batches reads and writes.
import type { SysConnection } from './connection.ts';
import type { ReadSlots } from './read-slots.ts';

export interface ConnectionLoop<In = unknown, Out = unknown> {
  /** The multiplexer is edge-triggered: a connection reads until EAGAIN and remembers an edge that came
   * while it was paused. */
  readonly edge: boolean;
  /** The read memory every connection of this loop shares; the chunks a connection gets are views of it. */
  readonly slots: ReadSlots;
  /** The loop is handling a batch of reads: a reply can wait for the batch's end (see flushLater). */
  readonly inBatch: boolean;
  /** Read conn's socket once into the batch; the bytes come back through conn.handleRead(). */
  read(conn: SysConnection<In, Out>, untilEof: boolean): void;
  /** Edge-triggered: read conn again soon (it may hold more, or it was resumed). */
  readAgain(conn: SysConnection<In, Out>): void;
  /** Call conn.flushListed() once the batch has been handled (Redis's clients_pending_write). */
  flushLater(conn: SysConnection<In, Out>): void;
  /** Watch conn's socket for `interest` (READABLE | WRITABLE) from now on. */
  watch(fd: number, interest: number): void;
  /** conn is closing: stop watching it; true if the caller should close the descriptor. */
  forget(conn: SysConnection<In, Out>): boolean;
}
