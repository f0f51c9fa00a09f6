// Edits made while a multiplexer's wait is parked on a pool thread take effect, and the parked wait ends
// by itself: select and poll queue them and wake through their own eventfd, epoll takes them at once.
// wake() ends a parked wait too. The multiplexer's own descriptors never reach the caller as such: -1.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EpollMultiplexer } from '../../src/backends/syscall/epoll-multiplexer.ts';
import { type Multiplexer, READABLE, WRITABLE } from '../../src/backends/syscall/multiplexer.ts';
import { PollMultiplexer } from '../../src/backends/syscall/poll-multiplexer.ts';
import { SelectMultiplexer } from '../../src/backends/syscall/select-multiplexer.ts';
import * as sys from '../../src/sys/index.ts';
import { tcpPair } from '../sys/helpers.ts';

const skip = sys.syscallBackendAvailable() ? false : 'the syscall backend needs Linux';

const kinds: [string, () => Multiplexer][] = [
  ['select', () => new SelectMultiplexer()],
  ['poll', () => new PollMultiplexer()],
  ['epoll level', () => new EpollMultiplexer(false)],
  ['epoll edge', () => new EpollMultiplexer(true)],
];

/** The parked wait's result, or 'stuck' if it has not ended within ms. */
const within = (wait: Promise<number>, ms: number) =>
  Promise.race([wait, sleep(ms).then(() => 'stuck' as const)]);

/** Ready entries of the last wait: fd -> events. */
function ready(mux: Multiplexer, n: number): Map<number, number> {
  const found = new Map<number, number>();
  for (let i = 0; i < n; i++) found.set(mux.readyFd(i), mux.readyEvents(i));
  return found;
}

for (const [name, make] of kinds) {
  test(`${name}: an add made while parked ends the wait and is watched`, { skip }, async () => {
    const mux = make();
    const p = tcpPair();
    try {
      sys.write(p.client, Buffer.from('x'), 1);
      const parked = mux.waitAsync(-1);
      mux.add(p.server, READABLE);
      const n = await within(parked, 3000);
      assert.notEqual(n, 'stuck', 'the parked wait ended');
      let seen = ready(mux, n as number).has(p.server);
      if (!seen) seen = ready(mux, mux.wait(1000)).has(p.server); // select/poll: applied as it returned
      assert.ok(seen, 'the socket added while parked is reported');
    } finally {
      mux.close();
      p.closeAll();
    }
  });

  // Edge-triggered watches everything once and never modifies: no such case for it.
  if (name !== 'epoll edge')
    test(`${name}: modify and remove made while parked take effect`, { skip }, async () => {
      const mux = make();
      const p = tcpPair();
      try {
        mux.add(p.server, READABLE); // nothing to read: not ready
        assert.equal(ready(mux, mux.wait(0)).has(p.server), false);
        const parked = mux.waitAsync(-1);
        mux.modify(p.server, READABLE | WRITABLE); // writable at once (edge: already watched for it)
        const n = await within(parked, 3000);
        assert.notEqual(n, 'stuck', 'the parked wait ended');
        const events = ready(mux, n as number).get(p.server) ?? ready(mux, mux.wait(1000)).get(p.server);
        assert.ok(events !== undefined && events & WRITABLE, 'write interest added while parked is seen');
        const again = mux.waitAsync(-1);
        mux.remove(p.server, false);
        mux.wake();
        const m = await within(again, 3000);
        assert.notEqual(m, 'stuck');
        assert.equal(ready(mux, mux.wait(50)).has(p.server), false, 'removed while parked: not reported');
      } finally {
        mux.close();
        p.closeAll();
      }
    });

  test(`${name}: wake() ends a parked wait, reporting only the multiplexer's own (-1)`, {
    skip,
  }, async () => {
    const mux = make();
    try {
      const parked = mux.waitAsync(-1);
      await sleep(20);
      mux.wake();
      const n = await within(parked, 3000);
      assert.notEqual(n, 'stuck', 'the parked wait ended');
      for (const fd of ready(mux, n as number).keys()) assert.equal(fd, -1);
      mux.wake(); // nothing parked: nothing to do, and the next wait is not cut short by it
      assert.deepEqual(
        [...ready(mux, mux.wait(0)).keys()].filter((fd) => fd !== -1),
        [],
      );
    } finally {
      mux.close();
    }
  });
}
