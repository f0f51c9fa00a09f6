// select: two 1024-bit interest sets copied into result sets before every call, then a scan of every
// descriptor up to the highest — O(highest fd) per call — and a hard ceiling: FD_SETSIZE. A descriptor
// >= 1024 cannot be watched at all; add() throws FdSetSizeError and the reactor turns that client away.
import { FD_SETSIZE, FdSet, FdSetSizeError, select, selectAsync } from '../../sys/index.ts';
import { READABLE, WRITABLE } from './multiplexer.ts';
import { ScanningMultiplexer } from './scanning-multiplexer.ts';

export class SelectMultiplexer extends ScanningMultiplexer {
  readonly name = 'select';
  private readonly wantRead = new FdSet();
  private readonly wantWrite = new FdSet();
  private readonly gotRead = new FdSet();
  private readonly gotWrite = new FdSet();
  private readonly watched = new Uint8Array(FD_SETSIZE);
  private maxFd = -1;

  constructor() {
    super(FD_SETSIZE);
    this.watchOwn();
  }

  // Checked at once, even while a wait is parked: the caller turns the client away.
  override add(fd: number, interest: number): void {
    if (fd < 0 || fd >= FD_SETSIZE) throw new FdSetSizeError(fd);
    super.add(fd, interest);
  }

  protected addNow(fd: number, interest: number): void {
    if (fd < 0 || fd >= FD_SETSIZE) throw new FdSetSizeError(fd);
    this.watched[fd] = 1;
    if (fd > this.maxFd) this.maxFd = fd;
    this.modifyNow(fd, interest);
  }

  protected modifyNow(fd: number, interest: number): void {
    if (interest & READABLE) this.wantRead.set(fd);
    else this.wantRead.clear(fd);
    if (interest & WRITABLE) this.wantWrite.set(fd);
    else this.wantWrite.clear(fd);
  }

  protected removeNow(fd: number): void {
    if (fd < 0 || fd >= FD_SETSIZE || this.watched[fd] === 0) return;
    this.watched[fd] = 0;
    this.wantRead.clear(fd);
    this.wantWrite.clear(fd);
    while (this.maxFd >= 0 && this.watched[this.maxFd] === 0) this.maxFd--;
  }

  protected scan(timeoutMs: number): number {
    this.gotRead.copyFrom(this.wantRead);
    this.gotWrite.copyFrom(this.wantWrite);
    return select(this.maxFd + 1, this.gotRead, this.gotWrite, null, timeoutMs);
  }

  protected scanAsync(timeoutMs: number): Promise<number> {
    this.gotRead.copyFrom(this.wantRead);
    this.gotWrite.copyFrom(this.wantWrite);
    return selectAsync(this.maxFd + 1, this.gotRead, this.gotWrite, null, timeoutMs);
  }

  /** Scan every descriptor up to the highest watched one. */
  protected collect(_n: number): number {
    let found = 0;
    const r = this.gotRead.buffer;
    const w = this.gotWrite.buffer;
    for (let byte = 0, last = this.maxFd >> 3; byte <= last; byte++) {
      const bits = r[byte]! | w[byte]!;
      if (bits === 0) continue;
      for (let bit = 0; bit < 8; bit++) {
        if ((bits & (1 << bit)) === 0) continue;
        this.found(
          found++,
          (byte << 3) | bit,
          (r[byte]! & (1 << bit) ? READABLE : 0) | (w[byte]! & (1 << bit) ? WRITABLE : 0),
        );
      }
    }
    return found;
  }
}
