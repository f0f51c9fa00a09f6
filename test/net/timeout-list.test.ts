import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Deadline, TimeoutList } from '../../src/net/timeout-list.ts';

test('expire hands over due entries oldest first and keeps the rest', () => {
  const list = new TimeoutList<string>();
  const a = new Deadline('a');
  const b = new Deadline('b');
  const c = new Deadline('c');
  list.touch(a, 10);
  list.touch(b, 20);
  list.touch(c, 30);
  list.touch(a, 40); // a moves to the end
  const out: string[] = [];
  list.expire(30, (o) => out.push(o));
  assert.deepEqual(out, ['b', 'c']);
  assert.equal(list.size, 1);
  list.remove(a);
  list.remove(a);
  assert.equal(list.size, 0);
  list.expire(1000, () => assert.fail('empty'));
});

test('touch of the tail at the same time is a no-op; remove of an unlinked node is safe', () => {
  const list = new TimeoutList<number>();
  const nodes = Array.from({ length: 100 }, (_, i) => new Deadline(i));
  for (const [i, n] of nodes.entries()) list.touch(n, i);
  for (const n of nodes.slice(0, 50)) list.remove(n);
  const out: number[] = [];
  list.expire(Infinity, (o) => out.push(o));
  assert.deepEqual(
    out,
    Array.from({ length: 50 }, (_, i) => i + 50),
  );
});

test('restampTail moves only the entries stamped with the newest time, keeping the order', () => {
  const list = new TimeoutList<string>();
  const [a, b, c] = ['a', 'b', 'c'].map((o) => new Deadline(o));
  list.touch(a!, 10);
  list.touch(b!, 20);
  list.touch(c!, 20);
  list.restampTail(20, 35);
  assert.deepEqual([a!.at, b!.at, c!.at], [10, 35, 35]);
  const out: string[] = [];
  list.expire(34, (o) => out.push(o));
  assert.deepEqual(out, ['a']);
});
