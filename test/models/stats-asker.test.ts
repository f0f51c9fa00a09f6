// Asking workers for their counters: one question per worker at a time, shared by the callers that come
// while it is pending; a worker that cannot be asked, or is gone, answers null.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatsAsker, type StatsQuestion } from '../../src/models/stats-asker.ts';
import { emptyStats } from '../../src/net/server-core.ts';

test('stats asker: concurrent asks of one worker send one question and share its answer', async () => {
  const asker = new StatsAsker<object>();
  const worker = {};
  const other = {};
  const sent: StatsQuestion[] = [];
  const send = (m: StatsQuestion) => sent.push(m) > 0;
  const a = asker.ask(worker, send);
  const b = asker.ask(worker, send);
  const c = asker.ask(other, send);
  assert.equal(sent.length, 2, 'one question per worker');
  const stats = { ...emptyStats(), accepted: 7 };
  asker.answered(sent[0].id, stats);
  asker.answered(sent[1].id, emptyStats());
  assert.equal((await a)?.accepted, 7);
  assert.equal(await b, await a, 'the second caller gets the same answer');
  assert.equal((await c)?.accepted, 0);
  // Answered: the next ask is a new question.
  const d = asker.ask(worker, send);
  assert.equal(sent.length, 3);
  asker.answered(sent[2].id, stats);
  await d;
});

test('stats asker: a worker that cannot be asked, or is gone, answers null and is asked afresh next time', async () => {
  const asker = new StatsAsker<object>();
  const worker = {};
  assert.equal(await asker.ask(worker, () => false), null);
  let exit!: () => void;
  const gone = new Promise<void>((r) => (exit = r));
  const sent: StatsQuestion[] = [];
  const pending = asker.ask(worker, (m) => sent.push(m) > 0, gone);
  exit();
  assert.equal(await pending, null);
  asker.answered(sent[0].id, emptyStats()); // too late: ignored
  const again = asker.ask(worker, (m) => sent.push(m) > 0);
  assert.equal(sent.length, 2, 'a new question after the last one ended');
  asker.answered(sent[1].id, emptyStats());
  assert.ok(await again);
});
