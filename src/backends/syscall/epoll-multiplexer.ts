// epoll: the interest set lives in the kernel, epoll_wait returns only what is ready. Level-triggered
// registers write interest only while a connection has bytes queued; edge-triggered registers
// everything once (EPOLLET) and never modifies, which is the point of edge triggering.
import {
  EPOLLET,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  Epoll,
  errnoDescription,
  errnoName,
} from '../../sys/index.ts';
import type { Multiplexer } from './multiplexer.ts';

export class EpollMultiplexer implements Multiplexer {
  readonly name = 'epoll';
  readonly edge: boolean;
  readonly concurrentEdits = true;
  size = 0;
  private readonly ep: Epoll;

  constructor(edge: boolean, maxEvents = 1024) {
    this.edge = edge;
    this.ep = new Epoll(maxEvents);
  }

  private bits(interest: number): number {
    return this.edge ? EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET : interest;
  }

  add(fd: number, interest: number, level = false): void {
    const r = this.ep.add(fd, level ? interest : this.bits(interest));
    if (r < 0) throw new Error(`epoll_ctl(ADD, ${fd}): ${errnoName(-r)} (${errnoDescription(-r)})`);
    this.size++;
  }

  modify(fd: number, interest: number): void {
    if (!this.edge) this.ep.modify(fd, interest);
  }

  remove(fd: number, closing: boolean): void {
    // close() removes a descriptor from the epoll set by itself: a closing one costs no syscall here.
    if (!closing) this.ep.delete(fd);
    this.size--;
  }

  wait(timeoutMs: number): number {
    return this.ep.wait(timeoutMs);
  }

  waitAsync(timeoutMs: number): Promise<number> {
    return this.ep.waitAsync(timeoutMs);
  }

  readyFd(i: number): number {
    return this.ep.fd(i);
  }

  readyEvents(i: number): number {
    return this.ep.events(i);
  }

  close(): void {
    this.ep.close();
  }
}
