// One interface over select, poll and epoll, so one reactor runs on any of them and the difference
// between them is only how they find ready descriptors: select and poll hand the whole interest set to
// the kernel and scan it again on every call (O(n)); epoll keeps the set in the kernel and returns a
// ready list (O(ready)). Event bits are poll's (POLLIN=1, POLLOUT=4, POLLERR=8, POLLHUP=0x10), which
// epoll shares, so neither of those two translates anything on the hot path.

export const READABLE = 0x1;
export const WRITABLE = 0x4;
export const ERROR = 0x8;
export const HANGUP = 0x10;
/** The peer shut down its side (EPOLLRDHUP / POLLRDHUP): an EOF waits behind any data. */
export const PEER_HANGUP = 0x2000;

export interface Multiplexer {
  readonly name: 'select' | 'poll' | 'epoll';
  /** Edge-triggered: a readiness is reported once; the reactor must read/write until EAGAIN. */
  readonly edge: boolean;
  /** Watch a connected socket for `interest` (READABLE | WRITABLE). Throws for one it cannot watch. */
  add(fd: number, interest: number): void;
  /** Watch a listening socket: reported for as long as clients wait in its accept queue (level-triggered
   * on every multiplexer), since the acceptor stops after a bounded batch. */
  addListener(fd: number): void;
  modify(fd: number, interest: number): void;
  /** Stop watching fd. `closing`: the caller closes fd right after (epoll then needs no syscall). */
  remove(fd: number, closing: boolean): void;
  /** Wait up to timeoutMs (0: poll, -1: forever); the number of ready entries, or -errno. */
  wait(timeoutMs: number): number;
  /** The same on a libuv pool thread, so Node's event loop runs meanwhile ("parked"). Edits made while
   * parked take effect before it returns (select and poll queue them and wake themselves). */
  waitAsync(timeoutMs: number): Promise<number>;
  /** End a parked waitAsync() early (nothing when none is parked). */
  wake(): void;
  /** Ready descriptor i of the last wait, or -1 for one of the multiplexer's own (its wake descriptor,
   * Node's loop): nothing to handle, but the wait ended for it. */
  readyFd(i: number): number;
  readyEvents(i: number): number;
  close(): void;
}
