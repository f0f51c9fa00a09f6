// What select and poll share. Both hand the kernel arrays of their own for the length of a wait, so an
// edit made on the main thread while a wait is parked on a pool thread (waitAsync) would race the kernel's
// scan (poll's array may even move). Such edits are queued, the wait is woken through the multiplexer's
// own eventfd, and the queue is applied as it returns, before the caller sees the result.
import * as sys from '../../sys/index.ts';
import { type Multiplexer, READABLE } from './multiplexer.ts';

const ADD = 0;
const MODIFY = 1;
const REMOVE = 2;

export abstract class ScanningMultiplexer implements Multiplexer {
  abstract readonly name: 'select' | 'poll';
  readonly edge = false;
  protected readyList: Int32Array;
  protected readyBits: Int32Array;
  private readonly wakeFd: number;
  private readonly nodeFd: number;
  private parked = false;
  /** Edits made while parked: (op, fd, interest) triples, oldest first. */
  private edits: number[] = [];

  constructor(readyCapacity: number) {
    this.readyList = new Int32Array(readyCapacity);
    this.readyBits = new Int32Array(readyCapacity);
    this.wakeFd = sys.eventfd(0, sys.EFD_NONBLOCK | sys.EFD_CLOEXEC);
    // libuv's own epoll descriptor: a short wait on the main thread ends when Node has work too.
    this.nodeFd = sys.libuvBackendFd();
  }

  /** Watch our own descriptors; a subclass calls it once its own fields exist. */
  protected watchOwn(): void {
    try {
      this.addNow(this.wakeFd, READABLE);
      if (this.nodeFd >= 0) this.addNow(this.nodeFd, READABLE);
    } catch (error) {
      sys.close(this.wakeFd); // the constructor throws: nobody could close it later (select, fd >= 1024)
      throw error;
    }
  }

  protected abstract addNow(fd: number, interest: number): void;
  protected abstract modifyNow(fd: number, interest: number): void;
  protected abstract removeNow(fd: number): void;
  /** The kernel call: the number of ready descriptors, or -errno. */
  protected abstract scan(timeoutMs: number): number;
  protected abstract scanAsync(timeoutMs: number): Promise<number>;
  /** Fill readyList/readyBits (through found()) with the n ready descriptors; how many were found. */
  protected abstract collect(n: number): number;

  add(fd: number, interest: number): void {
    if (this.parked) this.queue(ADD, fd, interest);
    else this.addNow(fd, interest);
  }

  addListener(fd: number): void {
    this.add(fd, READABLE);
  }

  modify(fd: number, interest: number): void {
    if (this.parked) this.queue(MODIFY, fd, interest);
    else this.modifyNow(fd, interest);
  }

  remove(fd: number, _closing: boolean): void {
    if (this.parked) this.queue(REMOVE, fd, 0);
    else this.removeNow(fd);
  }

  private queue(op: number, fd: number, interest: number): void {
    this.edits.push(op, fd, interest);
    if (this.edits.length === 3) sys.eventfdWrite(this.wakeFd, 1);
  }

  wait(timeoutMs: number): number {
    const n = this.scan(timeoutMs);
    return n <= 0 ? n : this.collect(n);
  }

  async waitAsync(timeoutMs: number): Promise<number> {
    this.parked = true;
    try {
      const n = await this.scanAsync(timeoutMs);
      this.parked = false;
      return n <= 0 ? n : this.collect(n); // before the edits: a removal moves poll's slots
    } finally {
      // Even when the scan failed: edits left queued would land later, after newer ones made unparked
      // (a queued removal of fd 7 after a fresh add of fd 7).
      this.parked = false;
      this.applyEdits();
    }
  }

  private applyEdits(): void {
    const edits = this.edits;
    if (edits.length === 0) return;
    this.edits = [];
    for (let i = 0; i < edits.length; i += 3) {
      const op = edits[i]!;
      const fd = edits[i + 1]!;
      if (op === ADD) this.addNow(fd, edits[i + 2]!);
      else if (op === MODIFY) this.modifyNow(fd, edits[i + 2]!);
      else this.removeNow(fd);
    }
  }

  wake(): void {
    if (this.parked) sys.eventfdWrite(this.wakeFd, 1);
  }

  /** Record ready descriptor fd as entry i (our own as -1, the wake counter reset). */
  protected found(i: number, fd: number, bits: number): void {
    if (fd === this.wakeFd) {
      sys.eventfdRead(fd);
      fd = -1;
    } else if (fd === this.nodeFd) fd = -1;
    this.readyList[i] = fd;
    this.readyBits[i] = bits;
  }

  readyFd(i: number): number {
    return this.readyList[i]!;
  }

  readyEvents(i: number): number {
    return this.readyBits[i]!;
  }

  close(): void {
    sys.close(this.wakeFd);
  }
}
