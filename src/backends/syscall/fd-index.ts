// fd-index.ts — tables indexed by descriptor number. The kernel hands out the lowest free descriptor, so
// descriptor numbers are dense and an Int32Array indexed by fd beats a Map: one load, no hashing, no
// boxed keys. -1 marks "none".

/** A copy of `table` long enough to index `fd` (at least twice as long), the new entries -1. */
export function growFdIndex(table: Int32Array, fd: number): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(Math.max(fd + 1, table.length * 2)).fill(-1);
  grown.set(table);
  return grown;
}
