// growFdIndex: the per-descriptor tables of the poll multiplexer and the write batch grow past any
// descriptor number the kernel hands out, keep what they held, and read -1 ("none") for the rest.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { growFdIndex } from '../../src/backends/syscall/fd-index.ts';

test('growFdIndex keeps the entries, marks the new ones -1, and reaches the descriptor', () => {
  const table = new Int32Array(4).fill(-1);
  table[1] = 7;
  table[3] = 0;
  const twice = growFdIndex(table, 4);
  assert.equal(twice.length, 8, 'at least twice as long');
  assert.deepEqual([...twice], [-1, 7, -1, 0, -1, -1, -1, -1]);
  const far = growFdIndex(twice, 19_999);
  assert.equal(far.length, 20_000, 'long enough for a descriptor far past twice the length');
  assert.equal(far[1], 7);
  assert.equal(far[19_999], -1);
  assert.equal(table.length, 4, 'the old table is left as it was');
});
