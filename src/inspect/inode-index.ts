// Socket inode -> row number, for joining a million fd-table entries to a million dumped sockets. Socket
// inodes come from one kernel counter, so the sockets of a port created in one run sit in a narrow range:
// there an array indexed by (inode - min) answers without hashing; a sparse range falls back to a Map.
const DENSE_MAX = 1 << 25; // 32M slots (128 MB) at most; and at most 8 slots per socket

export class InodeIndex {
  private readonly min: number;
  private readonly dense: Int32Array | null;
  private readonly sparse: Map<number, number> | null;

  /** `inodes[i]` is row i's inode; rows where `include(i)` is false (or the inode is 0) are left out. */
  constructor(inodes: ArrayLike<number>, include: (i: number) => boolean) {
    let min = Number.POSITIVE_INFINITY;
    let max = -1;
    let n = 0;
    for (let i = 0; i < inodes.length; i++) {
      const v = inodes[i];
      if (v <= 0 || !include(i)) continue;
      n++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.min = n > 0 ? min : 0;
    const span = n > 0 ? max - min + 1 : 0;
    if (span <= DENSE_MAX && span <= 8 * n + 4096) {
      this.dense = new Int32Array(span).fill(-1);
      this.sparse = null;
      for (let i = 0; i < inodes.length; i++) {
        const v = inodes[i];
        if (v > 0 && this.dense[v - this.min] === -1 && include(i)) this.dense[v - this.min] = i;
      }
    } else {
      this.dense = null;
      this.sparse = new Map();
      for (let i = 0; i < inodes.length; i++) {
        const v = inodes[i];
        if (v > 0 && !this.sparse.has(v) && include(i)) this.sparse.set(v, i);
      }
    }
  }

  /** The first included row with this inode, or -1. */
  get(inode: number): number {
    if (this.dense) {
      const k = inode - this.min;
      return k >= 0 && k < this.dense.length ? this.dense[k] : -1;
    }
    return this.sparse!.get(inode) ?? -1;
  }
}
