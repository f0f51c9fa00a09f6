// The bus between the thread pool's threads crosses with postMessage, which never says when a message
// was read: a sender counts the publication bytes not yet acknowledged and drops past the IPC bound; the
// other side acknowledges what it handled, once per event-loop turn.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type BusMessage, MAX_IPC_PENDING_BYTES } from '../../src/bus/bus.ts';
import { type BusAck, busAcknowledger, threadBusSender } from '../../src/bus/thread-bus.ts';
import { memoryLogger } from '../../src/index.ts';

const pub = (bytes: number): BusMessage => ({
  t: 'bus',
  op: 'pub',
  topic: 'room',
  payload: Buffer.alloc(bytes),
});

test('thread bus: a sender drops publications past the bound until they are acknowledged', () => {
  const posted: BusMessage[] = [];
  const logger = memoryLogger();
  const sender = threadBusSender((m) => posted.push(m), logger, 'thread 7');
  const chunk = 1024 * 1024;
  const fit = Math.floor(MAX_IPC_PENDING_BYTES / chunk);
  for (let i = 0; i < fit + 3; i++) sender.send(pub(chunk));
  assert.equal(posted.length, fit, 'the bound holds');
  assert.ok(logger.entries.some((e) => /thread 7 is not keeping up; publications dropped/.test(e.message)));
  sender.send({ t: 'bus', op: 'sub', topic: 'room' });
  assert.equal(posted.length, fit + 1, 'subscriptions are never dropped');
  sender.ack(2 * chunk);
  sender.send(pub(chunk));
  sender.send(pub(chunk));
  sender.send(pub(chunk));
  assert.equal(posted.length, fit + 3, 'acknowledged bytes make room again, and no more');
});

test('thread bus: acknowledgements add up the bytes handled in a turn, one message per turn', async () => {
  const acks: BusAck[] = [];
  const acknowledge = busAcknowledger((a) => acks.push(a));
  acknowledge(pub(100));
  acknowledge(pub(20));
  acknowledge({ t: 'bus', op: 'unsub', topic: 'room' });
  assert.equal(acks.length, 0, 'not before the turn ends');
  await nextTurn();
  assert.deepEqual(acks, [{ t: 'bus-ack', bytes: 120 }]);
  acknowledge(pub(5));
  await nextTurn();
  assert.deepEqual(acks[1], { t: 'bus-ack', bytes: 5 });
});
