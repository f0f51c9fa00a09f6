// poll: the reactor keeps one pollfd array, the kernel scans all of it on every call and so does the
// reactor afterwards to find the slots with revents set — the O(n) cost this model is here to show.
import { PollFds } from '../../sys/index.ts';
import { growFdIndex } from './fd-index.ts';
import { ScanningMultiplexer } from './scanning-multiplexer.ts';

export class PollMultiplexer extends ScanningMultiplexer {
  readonly name = 'poll';
  private readonly fds = new PollFds(256);
  /** fd -> slot index (-1: not watched). */
  private slot = new Int32Array(1024).fill(-1);

  constructor() {
    super(1024);
    this.watchOwn();
  }

  protected addNow(fd: number, interest: number): void {
    if (fd >= this.slot.length) this.slot = growFdIndex(this.slot, fd);
    this.slot[fd] = this.fds.add(fd, interest);
  }

  protected modifyNow(fd: number, interest: number): void {
    const i = this.slot[fd];
    if (i !== undefined && i >= 0) this.fds.setEvents(i, interest);
  }

  protected removeNow(fd: number): void {
    const i = this.slot[fd];
    if (i === undefined || i < 0) return;
    this.slot[fd] = -1;
    const moved = this.fds.remove(i);
    if (moved >= 0) this.slot[moved] = i;
  }

  protected scan(timeoutMs: number): number {
    return this.fds.poll(timeoutMs);
  }

  protected scanAsync(timeoutMs: number): Promise<number> {
    return this.fds.pollAsync(timeoutMs);
  }

  /** Scan every slot for the n that are ready. */
  protected collect(n: number): number {
    if (this.readyList.length < n) {
      this.readyList = new Int32Array(n * 2);
      this.readyBits = new Int32Array(n * 2);
    }
    const fds = this.fds;
    let found = 0;
    for (let i = 0, len = fds.length; i < len && found < n; i++) {
      const revents = fds.revents(i);
      if (revents !== 0) this.found(found++, fds.fd(i), revents);
    }
    return found;
  }
}
