// poll: the reactor keeps one pollfd array, the kernel scans all of it on every call and so does the
// reactor afterwards to find the slots with revents set — the O(n) cost this model is here to show.
import { PollFds } from '../../sys/index.ts';
import { growFdIndex } from './fd-index.ts';
import type { Multiplexer } from './multiplexer.ts';

export class PollMultiplexer implements Multiplexer {
  readonly name = 'poll';
  readonly edge = false;
  readonly concurrentEdits = false;
  private readonly fds = new PollFds(256);
  /** fd -> slot index (-1: not watched). */
  private slot = new Int32Array(1024).fill(-1);
  private readyList = new Int32Array(1024);
  private readyBits = new Int32Array(1024);

  get size(): number {
    return this.fds.length;
  }

  add(fd: number, interest: number): void {
    if (fd >= this.slot.length) this.slot = growFdIndex(this.slot, fd);
    this.slot[fd] = this.fds.add(fd, interest);
  }

  modify(fd: number, interest: number): void {
    const i = this.slot[fd];
    if (i >= 0) this.fds.setEvents(i, interest);
  }

  remove(fd: number, _closing: boolean): void {
    const i = this.slot[fd];
    if (i === undefined || i < 0) return;
    this.slot[fd] = -1;
    const moved = this.fds.remove(i);
    if (moved >= 0) this.slot[moved] = i;
  }

  wait(timeoutMs: number): number {
    const n = this.fds.poll(timeoutMs);
    return n <= 0 ? n : this.collect(n);
  }

  async waitAsync(timeoutMs: number): Promise<number> {
    const n = await this.fds.pollAsync(timeoutMs);
    return n <= 0 ? n : this.collect(n);
  }

  /** Scan every slot for the n that are ready. */
  private collect(n: number): number {
    if (this.readyList.length < n) {
      this.readyList = new Int32Array(n * 2);
      this.readyBits = new Int32Array(n * 2);
    }
    const fds = this.fds;
    let found = 0;
    for (let i = 0, len = fds.length; i < len && found < n; i++) {
      const revents = fds.revents(i);
      if (revents !== 0) {
        this.readyList[found] = fds.fd(i);
        this.readyBits[found++] = revents;
      }
    }
    return found;
  }

  readyFd(i: number): number {
    return this.readyList[i];
  }

  readyEvents(i: number): number {
    return this.readyBits[i];
  }

  close(): void {}
}
