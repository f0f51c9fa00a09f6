// epoll: the interest set lives in the kernel, epoll_wait returns only what is ready. Level-triggered
// registers write interest only while a connection has bytes queued; edge-triggered registers
// everything once (EPOLLET) and never modifies, which is the point of edge triggering.
import {
  close as closeFd,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EPOLLET,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  Epoll,
  errnoDescription,
  errnoName,
  eventfd,
  eventfdWrite,
  libuvBackendFd,
} from '../../sys/index.ts';
import type { Multiplexer } from './multiplexer.ts';

/** The token our own descriptors report as (see Multiplexer.readyFd). */
const OWN = -1;

export class EpollMultiplexer implements Multiplexer {
  readonly name = 'epoll';
  readonly edge: boolean;
  private readonly ep: Epoll;
  /** Written to end a parked wait. Edge-triggered, so every write is reported once and it is never read. */
  private readonly wakeFd: number;
  private parked = false;

  constructor(edge: boolean, maxEvents = 1024) {
    this.edge = edge;
    this.ep = new Epoll(maxEvents);
    this.wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    this.ep.add(this.wakeFd, EPOLLIN | EPOLLET, OWN);
    // libuv's own epoll descriptor: a short wait on the main thread ends when Node has work too.
    const nodeFd = libuvBackendFd();
    if (nodeFd >= 0) this.ep.add(nodeFd, EPOLLIN, OWN);
  }

  add(fd: number, interest: number): void {
    this.ctlAdd(fd, this.edge ? EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET : interest);
  }

  addListener(fd: number): void {
    this.ctlAdd(fd, EPOLLIN);
  }

  private ctlAdd(fd: number, events: number): void {
    const r = this.ep.add(fd, events);
    if (r < 0) throw new Error(`epoll_ctl(ADD, ${fd}): ${errnoName(-r)} (${errnoDescription(-r)})`);
  }

  modify(fd: number, interest: number): void {
    if (!this.edge) this.ep.modify(fd, interest);
  }

  remove(fd: number, closing: boolean): void {
    // close() removes a descriptor from the epoll set by itself: a closing one costs no syscall here.
    if (!closing) this.ep.delete(fd);
  }

  wait(timeoutMs: number): number {
    return this.ep.wait(timeoutMs);
  }

  // epoll_ctl may run while another thread waits in epoll_wait: edits need no queue here.
  async waitAsync(timeoutMs: number): Promise<number> {
    this.parked = true;
    try {
      return await this.ep.waitAsync(timeoutMs);
    } finally {
      this.parked = false;
    }
  }

  wake(): void {
    if (this.parked) eventfdWrite(this.wakeFd, 1);
  }

  readyFd(i: number): number {
    return this.ep.fd(i);
  }

  readyEvents(i: number): number {
    return this.ep.events(i);
  }

  close(): void {
    closeFd(this.wakeFd);
    this.ep.close();
  }
}
