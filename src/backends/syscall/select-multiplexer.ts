// select: two 1024-bit interest sets copied into result sets before every call, then a scan of every
// descriptor up to the highest — O(highest fd) per call — and a hard ceiling: FD_SETSIZE. A descriptor
// >= 1024 cannot be watched at all; add() throws FdSetSizeError and the reactor turns that client away.
import { FD_SETSIZE, FdSet, FdSetSizeError, select, selectAsync } from '../../sys/index.ts';
import { type Multiplexer, READABLE, WRITABLE } from './multiplexer.ts';

export class SelectMultiplexer implements Multiplexer {
  readonly name = 'select';
  readonly edge = false;
  readonly concurrentEdits = false;
  size = 0;
  private readonly wantRead = new FdSet();
  private readonly wantWrite = new FdSet();
  private readonly gotRead = new FdSet();
  private readonly gotWrite = new FdSet();
  private readonly watched = new Uint8Array(FD_SETSIZE);
  private maxFd = -1;
  private readonly readyList = new Int32Array(FD_SETSIZE);
  private readonly readyBits = new Int32Array(FD_SETSIZE);

  add(fd: number, interest: number): void {
    if (fd < 0 || fd >= FD_SETSIZE) throw new FdSetSizeError(fd);
    this.watched[fd] = 1;
    this.size++;
    if (fd > this.maxFd) this.maxFd = fd;
    this.modify(fd, interest);
  }

  modify(fd: number, interest: number): void {
    if (interest & READABLE) this.wantRead.set(fd);
    else this.wantRead.clear(fd);
    if (interest & WRITABLE) this.wantWrite.set(fd);
    else this.wantWrite.clear(fd);
  }

  remove(fd: number, _closing: boolean): void {
    if (fd < 0 || fd >= FD_SETSIZE || this.watched[fd] === 0) return;
    this.watched[fd] = 0;
    this.size--;
    this.wantRead.clear(fd);
    this.wantWrite.clear(fd);
    while (this.maxFd >= 0 && this.watched[this.maxFd] === 0) this.maxFd--;
  }

  wait(timeoutMs: number): number {
    this.gotRead.copyFrom(this.wantRead);
    this.gotWrite.copyFrom(this.wantWrite);
    const n = select(this.maxFd + 1, this.gotRead, this.gotWrite, null, timeoutMs);
    return n <= 0 ? n : this.collect();
  }

  async waitAsync(timeoutMs: number): Promise<number> {
    this.gotRead.copyFrom(this.wantRead);
    this.gotWrite.copyFrom(this.wantWrite);
    const n = await selectAsync(this.maxFd + 1, this.gotRead, this.gotWrite, null, timeoutMs);
    return n <= 0 ? n : this.collect();
  }

  /** Scan every descriptor up to the highest watched one. */
  private collect(): number {
    let found = 0;
    const r = this.gotRead.buffer;
    const w = this.gotWrite.buffer;
    for (let byte = 0, last = this.maxFd >> 3; byte <= last; byte++) {
      const bits = r[byte] | w[byte];
      if (bits === 0) continue;
      for (let bit = 0; bit < 8; bit++) {
        if ((bits & (1 << bit)) === 0) continue;
        const fd = (byte << 3) | bit;
        this.readyList[found] = fd;
        this.readyBits[found++] =
          (r[byte] & (1 << bit) ? READABLE : 0) | (w[byte] & (1 << bit) ? WRITABLE : 0);
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
