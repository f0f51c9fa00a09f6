import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as sys from '../../src/sys/index.ts';
import { koffi } from '../../src/sys/libc.ts';
import { tcpPair } from './helpers.ts';

test('struct epoll_event layout per architecture (checked against koffi struct layout)', () => {
  const k = koffi();
  const natural = k.struct({ events: 'uint32_t', data: 'uint64_t' });
  const packed = k.pack({ events: 'uint32_t', data: 'uint64_t' });
  const want = process.arch === 'x64' ? packed : natural;
  assert.equal(sys.EPOLL_EVENT_PACKED, process.arch === 'x64');
  assert.equal(sys.EPOLL_EVENT_SIZE, k.sizeof(want));
  assert.equal(sys.EPOLL_DATA_OFFSET, k.offsetof(want, 'data'));
  if (process.arch === 'x64') assert.deepEqual([sys.EPOLL_EVENT_SIZE, sys.EPOLL_DATA_OFFSET], [12, 4]);
  if (process.arch === 'arm64') assert.deepEqual([sys.EPOLL_EVENT_SIZE, sys.EPOLL_DATA_OFFSET], [16, 8]);
});

test('epoll_wait round trip: tokens come back in the right slots (verifies packing for real)', () => {
  const ep = new sys.Epoll(8);
  const fds = [0, 1, 2].map(() => sys.eventfd(0, sys.EFD_NONBLOCK | sys.EFD_CLOEXEC));
  const tokens = [0x12345678, 0xdeadbeef, 7];
  for (let i = 0; i < fds.length; i++) assert.equal(ep.add(fds[i]!, sys.EPOLLIN, tokens[i]), 0);
  assert.equal(ep.add(fds[0]!, sys.EPOLLIN), -sys.EEXIST);
  assert.equal(ep.wait(0), 0);
  for (const fd of fds) sys.eventfdWrite(fd);
  const n = ep.wait(1000);
  assert.equal(n, 3);
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    assert.equal(ep.events(i), sys.EPOLLIN);
    seen.add(ep.data(i));
    // The raw bytes agree: events at i*size, token in the low half of data, zero in the high half.
    const base = i * sys.EPOLL_EVENT_SIZE;
    assert.equal(ep.buffer.readUInt32LE(base), sys.EPOLLIN);
    assert.equal(ep.buffer.readUInt32LE(base + sys.EPOLL_DATA_OFFSET), ep.data(i));
    assert.equal(ep.buffer.readUInt32LE(base + sys.EPOLL_DATA_OFFSET + 4), 0);
  }
  assert.deepEqual([...seen].sort(), [...tokens].sort());
  // fd(i) is the signed view of the token: with the default token it is the fd itself.
  assert.equal(ep.modify(fds[1]!, sys.EPOLLIN | sys.EPOLLET), 0);
  for (const fd of [fds[0]!, fds[2]!]) assert.equal(ep.delete(fd), 0);
  assert.equal(ep.wait(0), 1);
  assert.equal(ep.fd(0), fds[1]);
  assert.equal(ep.wait(0), 0, 'edge-triggered: reported once');
  for (const fd of fds) sys.close(fd);
  ep.close();
});

test('epoll reports readable, writable and hang-up on sockets', () => {
  const p = tcpPair();
  const ep = new sys.Epoll(4);
  ep.add(p.server, sys.EPOLLIN | sys.EPOLLOUT | sys.EPOLLRDHUP);
  assert.equal(ep.wait(1000), 1);
  assert.equal(ep.events(0), sys.EPOLLOUT);
  sys.write(p.client, Buffer.from('x'), 1);
  sys.shutdown(p.client, sys.SHUT_WR);
  assert.equal(ep.wait(1000), 1);
  assert.equal(ep.events(0), sys.EPOLLIN | sys.EPOLLOUT | sys.EPOLLRDHUP);
  assert.equal(ep.fd(0), p.server);
  ep.close();
  p.closeAll();
});

test('epollWaitAsync does not block the event loop; an event wakes it', async () => {
  const ep = new sys.Epoll(4);
  const efd = sys.eventfd(0, sys.EFD_NONBLOCK | sys.EFD_CLOEXEC);
  ep.add(efd, sys.EPOLLIN, 0xcafe);
  let timerFiredAt = 0;
  const started = performance.now();
  const waiting = sys.epollWaitAsync(ep, -1).then((n) => ({ n, at: performance.now() }));
  assert.throws(() => ep.wait(0), /still pending/);
  setTimeout(() => {
    timerFiredAt = performance.now();
    sys.eventfdWrite(efd);
  }, 30);
  const { n, at } = await waiting;
  assert.equal(n, 1);
  assert.ok(timerFiredAt > 0 && timerFiredAt <= at, 'the timer ran while epoll_wait was blocked');
  assert.ok(at - started >= 25);
  assert.equal(ep.data(0), 0xcafe);
  assert.equal(await ep.waitAsync(10), 1, 'level-triggered: still readable');
  sys.eventfdRead(efd);
  assert.equal(await ep.waitAsync(10), 0, 'timeout');
  sys.close(efd);
  ep.close();
});
