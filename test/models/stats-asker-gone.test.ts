// A long-lived worker asked again and again (every /metrics scrape) gets one handler on its exit promise,
// not one per question; its exit still ends the question pending then, and later ones at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatsAsker, type StatsQuestion } from '../../src/models/stats-asker.ts';
import { emptyStats } from '../../src/net/server-core.ts';

test('stats asker: many asks of one worker add one reaction to its exit promise', async () => {
  const asker = new StatsAsker<object>();
  const worker = {};
  let exit!: () => void;
  const gone = new Promise<void>((r) => (exit = r));
  let reactions = 0;
  const then = gone.then.bind(gone);
  // biome-ignore lint/suspicious/noThenProperty: counts the reactions added to the exit promise
  gone.then = ((...args: Parameters<typeof then>) => {
    reactions++;
    return then(...args);
  }) as typeof gone.then;
  const sent: StatsQuestion[] = [];
  for (let i = 0; i < 1000; i++) {
    const answer = asker.ask(worker, (m) => sent.push(m) > 0, gone);
    asker.answered(sent[sent.length - 1]!.id, { ...emptyStats(), accepted: i });
    assert.equal((await answer)?.accepted, i);
  }
  assert.equal(sent.length, 1000, 'each ask after an answer is a new question');
  assert.equal(reactions, 1, 'one handler on the exit promise for 1000 asks');
  assert.equal(asker.waiting, 0, 'nothing waits once answered');
  // Its exit ends the pending question with null, and later asks at once.
  const pending = asker.ask(worker, (m) => sent.push(m) > 0, gone);
  assert.equal(asker.waiting, 1);
  exit();
  assert.equal(await pending, null);
  assert.equal(asker.waiting, 0);
  assert.equal(await asker.ask(worker, (m) => sent.push(m) > 0, gone), null);
  assert.equal(reactions, 1);
});
