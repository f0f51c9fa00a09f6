// treeUsage reads private anonymous memory in the same walk as CPU time and RSS (the ladder's server
// memory per connection): one process's figure grows with what it allocates, and a tree sums its members.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { treeUsage } from '../../src/report/process-tree.ts';

test('treeUsage with anon: private anonymous memory, within RSS, growing with an allocation', async () => {
  const before = treeUsage(process.pid, { anon: true });
  assert.equal(treeUsage(process.pid).anonBytes, undefined);
  assert.ok(before.anonBytes! > 0 && before.anonBytes! <= before.rssBytes, JSON.stringify(before));
  const block = Buffer.alloc(64 * 1024 * 1024, 1); // touched: 64 MiB of anonymous pages
  const after = treeUsage(process.pid, { anon: true });
  assert.ok(
    after.anonBytes! - before.anonBytes! >= 60 * 1024 * 1024,
    `${before.anonBytes} -> ${after.anonBytes}`,
  );
  assert.equal(block[block.length - 1], 1);
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)']);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const tree = treeUsage(process.pid, { anon: true });
    const own = treeUsage(child.pid!, { anon: true });
    assert.equal(tree.processes, after.processes + 1);
    assert.ok(tree.anonBytes! >= own.anonBytes! + after.anonBytes! - 8 * 1024 * 1024);
  } finally {
    child.kill();
  }
});
