import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as sys from '../../src/sys/index.ts';
import { tcpPair } from './helpers.ts';

test('poll: readiness, revents, POLLNVAL, inert slots', () => {
  const p = tcpPair();
  const fds = new sys.PollFds(2);
  const i = fds.add(p.server, sys.POLLIN);
  const j = fds.add(p.client, sys.POLLOUT);
  assert.equal(fds.poll(0), 1);
  assert.equal(fds.revents(i), 0);
  assert.equal(fds.revents(j), sys.POLLOUT);
  sys.write(p.client, Buffer.from('hi'), 2);
  fds.setEvents(j, 0);
  assert.equal(fds.poll(1000), 1);
  assert.equal(fds.revents(i), sys.POLLIN);
  fds.clear(j);
  assert.equal(fds.fd(j), -1);
  const bad = fds.add(1_000_000, sys.POLLIN);
  assert.equal(fds.poll(0), 2);
  assert.equal(fds.revents(bad), sys.POLLNVAL);
  assert.equal(fds.remove(bad), -1);
  assert.equal(fds.length, 2);
  p.closeAll();
});

test('poll: the array grows and remove() keeps it dense', () => {
  const fds = new sys.PollFds(1);
  for (let k = 0; k < 100; k++) fds.add(1000 + k, sys.POLLIN | (k & 1 ? sys.POLLOUT : 0));
  assert.ok(fds.capacity >= 100);
  assert.equal(fds.length, 100);
  for (let k = 0; k < 100; k++) {
    assert.equal(fds.fd(k), 1000 + k);
    assert.equal(fds.events(k), sys.POLLIN | (k & 1 ? sys.POLLOUT : 0));
  }
  assert.equal(fds.remove(3), 1099);
  assert.equal(fds.fd(3), 1099);
  assert.equal(fds.events(3), sys.POLLIN | sys.POLLOUT);
  assert.equal(fds.length, 99);
  fds.set(120, 5, sys.POLLIN);
  assert.equal(fds.length, 121);
  assert.equal(fds.fd(110), -1);
});

test('pollAsync wakes on an eventfd written from the event loop', async () => {
  const efd = sys.eventfd(0, sys.EFD_NONBLOCK);
  const fds = new sys.PollFds();
  fds.add(efd, sys.POLLIN);
  const waiting = sys.pollAsync(fds, 5000);
  setTimeout(() => sys.eventfdWrite(efd), 10);
  assert.equal(await waiting, 1);
  assert.equal(fds.revents(0), sys.POLLIN);
  sys.close(efd);
});

test('select: fd_set bits and readiness', async () => {
  const p = tcpPair();
  const rIn = new sys.FdSet();
  const wIn = new sys.FdSet();
  rIn.set(p.server);
  wIn.set(p.client);
  const r = new sys.FdSet();
  const w = new sys.FdSet();
  r.copyFrom(rIn);
  w.copyFrom(wIn);
  const nfds = Math.max(p.server, p.client) + 1;
  assert.equal(sys.select(nfds, r, w, null, 0), 1);
  assert.equal(r.isSet(p.server), false);
  assert.equal(w.isSet(p.client), true);
  sys.write(p.client, Buffer.from('x'), 1);
  r.copyFrom(rIn);
  assert.equal(sys.select(nfds, r, null, null, 1000), 1);
  assert.equal(r.isSet(p.server), true);
  r.clear(p.server);
  assert.equal(r.isSet(p.server), false);
  // Timeout path with a fractional timeval.
  const idle = new sys.FdSet();
  idle.set(p.client);
  const t0 = performance.now();
  assert.equal(sys.select(p.client + 1, idle, null, null, 30.5), 0);
  assert.ok(performance.now() - t0 >= 25);
  assert.equal(idle.isSet(p.client), false, 'select clears the bits of fds that are not ready');
  // selectAsync
  idle.set(p.client);
  const waiting = sys.selectAsync(p.client + 1, idle, null, null, 5000);
  setTimeout(() => sys.write(p.server, Buffer.from('y'), 1), 10);
  assert.equal(await waiting, 1);
  assert.equal(idle.isSet(p.client), true);
  p.closeAll();
});

test('select refuses descriptors >= FD_SETSIZE with a clear error', () => {
  const lim = sys.getrlimit();
  if (lim.soft < 1200) sys.setrlimit(sys.RLIMIT_NOFILE, { soft: Math.min(lim.hard, 2048) });
  const base = sys.eventfd(0, sys.EFD_CLOEXEC);
  const dups: number[] = [];
  let big = -1;
  try {
    while (big < sys.FD_SETSIZE) dups.push((big = sys.dup(base)));
    const set = new sys.FdSet();
    assert.throws(
      () => set.set(big),
      (err: unknown) => {
        assert.ok(err instanceof RangeError);
        assert.ok(err instanceof sys.FdSetSizeError);
        assert.equal(err.message, `select() cannot watch descriptor ${big}: FD_SETSIZE is 1024`);
        assert.equal(err.code, 'ERR_FD_SETSIZE');
        return true;
      },
    );
    assert.equal(set.isSet(big), false);
    assert.throws(() => sys.select(big + 1, set, null, null, 0), sys.FdSetSizeError);
    // poll and epoll have no such limit.
    const fds = new sys.PollFds();
    fds.add(big, sys.POLLOUT);
    assert.equal(fds.poll(0), 1);
  } finally {
    for (const fd of dups) sys.close(fd);
    sys.close(base);
  }
});
