// Deadlines for many connections with one timer: an intrusive list kept in order of `at`, because every
// entry of a list shares one timeout and is (re)appended with the current time. Touch, insert and remove
// are O(1); expiring walks only the entries that are due. 10,000 connections cost no Node timers at all.

export class Deadline<T> {
  prev: Deadline<T> | null = null;
  next: Deadline<T> | null = null;
  at = 0;
  linked = false;
  readonly owner: T;
  constructor(owner: T) {
    this.owner = owner;
  }
}

export class TimeoutList<T> {
  private head: Deadline<T> | null = null;
  private tail: Deadline<T> | null = null;
  size = 0;

  /** Move `node` to the end with time `now` (or insert it). */
  touch(node: Deadline<T>, now: number): void {
    if (node.linked) {
      if (node.at === now) return;
      if (this.tail === node) {
        node.at = now;
        return;
      }
      this.remove(node);
    }
    node.at = now;
    node.linked = true;
    node.prev = this.tail;
    node.next = null;
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.size++;
  }

  remove(node: Deadline<T>): void {
    if (!node.linked) return;
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = null;
    node.linked = false;
    this.size--;
  }

  /**
   * Every entry stamped `from` (the newest, so at the tail) is restamped `to` (> from): the clock that
   * stamped them was stale by more than the lists' margin (see ServerCore.advance), so their time moves
   * later, never earlier. Order is kept: every other entry is older than `from`.
   */
  restampTail(from: number, to: number): void {
    for (let node = this.tail; node !== null && node.at === from; node = node.prev) node.at = to;
  }

  /** Unlink and hand over every entry whose time is <= cutoff, oldest first. */
  expire(cutoff: number, onExpired: (owner: T) => void): void {
    while (this.head !== null && this.head.at <= cutoff) {
      const node = this.head;
      this.remove(node);
      onExpired(node.owner);
    }
  }
}
