// The io_uring bindings against the kernel: the SQE and CQE layouts (a field at a wrong offset sends the
// wrong bytes, to the wrong descriptor, or loses the user_data), provided buffers, multishot receive,
// cancellation, polls, timed waits, and the support probe. Skipped, with the reason, without io_uring.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as sys from '../../src/sys/index.ts';
import { tcpPair } from './helpers.ts';

const support: sys.IoUringSupport = sys.syscallBackendAvailable()
  ? sys.ioUringSupport()
  : { ok: false, reason: 'no syscall backend', flags: 0 };
const skip = support.ok ? false : `io_uring unavailable: ${support.reason}`;

type Cqe = { lo: number; hi: number; res: number; flags: number };

/** Enter until `count` completions are in (at most ~2 s), and take them. */
function collect(u: sys.IoUring, count: number): Cqe[] {
  const out: Cqe[] = [];
  for (let i = 0; i < 200 && out.length < count; i++) {
    u.enter(1, 10);
    const n = u.ready();
    for (let k = 0; k < n; k++) {
      const ci = u.cqIndex(k);
      out.push({ lo: u.userLo(ci), hi: u.userHi(ci), res: u.res(ci), flags: u.cqeFlags(ci) });
    }
    u.advance(n);
  }
  return out;
}

describe('io_uring bindings', { skip }, () => {
  test('struct layouts are the kernel ABI (io_uring.h): sizes and the offsets this code writes', () => {
    assert.equal(sys.SQE.size, 64);
    assert.deepEqual(
      [sys.SQE.opcode, sys.SQE.flags, sys.SQE.ioprio, sys.SQE.fd, sys.SQE.off, sys.SQE.addr, sys.SQE.len],
      [0, 1, 2, 4, 8, 16, 24],
    );
    assert.deepEqual([sys.SQE.opFlags, sys.SQE.userData, sys.SQE.bufGroup, sys.SQE.addr3], [28, 32, 40, 48]);
    assert.deepEqual([sys.CQE.size, sys.CQE.userData, sys.CQE.res, sys.CQE.flags], [16, 0, 8, 12]);
    assert.deepEqual([sys.PARAMS.size, sys.PARAMS.sqOff, sys.PARAMS.cqOff], [120, 40, 80]);
    assert.deepEqual([sys.BUF.size, sys.BUF.bid, sys.BUF.ringTail], [16, 12, 14]);
  });

  test('user_data survives both halves; a send puts exactly its bytes on exactly its socket', () => {
    const u = new sys.IoUring({ entries: 8, cqEntries: 32, flags: support.flags });
    const pair = tcpPair();
    try {
      u.prepNop(0xdeadbeef, 0x89abcdef);
      const payload = Buffer.from('0123456789abcdefXYZ');
      // 7 bytes from offset 3: address, length and descriptor all have to be right.
      u.prepSend(pair.server, false, sys.addressOf(payload) + 3, 7, sys.MSG_NOSIGNAL, 42, 7);
      const cqes = collect(u, 2);
      assert.deepEqual(cqes[0], { lo: 0xdeadbeef, hi: 0x89abcdef, res: 0, flags: 0 });
      assert.deepEqual(cqes[1], { lo: 42, hi: 7, res: 7, flags: 0 });
      const got = Buffer.alloc(64);
      assert.equal(sys.read(pair.client, got, 64), 7);
      assert.equal(got.subarray(0, 7).toString(), '3456789');
    } finally {
      pair.closeAll();
      u.close();
    }
  });

  test('multishot receive into a provided buffer ring: a CQE per arrival with F_MORE and the buffer id; EOF ends it', () => {
    const u = new sys.IoUring({ entries: 8, cqEntries: 32, flags: support.flags });
    const ring = new sys.BufferRing(u, 3, 4, 256);
    const pair = tcpPair();
    try {
      u.prepRecvMultishot(pair.server, false, 3, 1, 0);
      u.submit();
      sys.write(pair.client, Buffer.from('first'), 5);
      const [a] = collect(u, 1);
      assert.equal(a!.res, 5);
      assert.ok(a!.flags & sys.IORING_CQE_F_MORE, 'still armed');
      assert.ok(a!.flags & sys.IORING_CQE_F_BUFFER, 'a buffer was picked');
      const bid = a!.flags >>> sys.IORING_CQE_BUFFER_SHIFT;
      assert.ok(bid < 4);
      assert.equal(ring.bytes.subarray(bid * 256, bid * 256 + 5).toString(), 'first');
      sys.write(pair.client, Buffer.from('second'), 6);
      const [b] = collect(u, 1);
      const bid2 = b!.flags >>> sys.IORING_CQE_BUFFER_SHIFT;
      assert.notEqual(bid2, bid, 'a fresh buffer while the first is not given back');
      assert.equal(ring.bytes.subarray(bid2 * 256, bid2 * 256 + 6).toString(), 'second');
      sys.shutdown(pair.client, sys.SHUT_WR);
      const [c] = collect(u, 1);
      assert.equal(c!.res, 0);
      assert.equal(c!.flags & sys.IORING_CQE_F_MORE, 0, 'EOF ends the multishot receive');
    } finally {
      pair.closeAll();
      ring.dispose();
      u.close();
    }
  });

  test('a dry buffer ring ends the receive with -ENOBUFS; given back, buffers are used again', () => {
    const u = new sys.IoUring({ entries: 8, cqEntries: 32, flags: support.flags });
    const ring = new sys.BufferRing(u, 0, 1, 64);
    const pair = tcpPair();
    try {
      u.prepRecvMultishot(pair.server, false, 0, 1, 0);
      u.submit();
      sys.write(pair.client, Buffer.from('a'), 1);
      const [a] = collect(u, 1);
      assert.equal(a!.res, 1);
      sys.write(pair.client, Buffer.from('b'), 1);
      const [b] = collect(u, 1);
      assert.equal(b!.res, -sys.ENOBUFS);
      assert.equal(b!.flags & sys.IORING_CQE_F_MORE, 0);
      ring.give(0);
      ring.flush();
      u.prepRecvMultishot(pair.server, false, 0, 1, 0);
      const [c] = collect(u, 1);
      assert.equal(c!.res, 1);
      assert.equal(ring.bytes[0], 'b'.charCodeAt(0));
    } finally {
      pair.closeAll();
      ring.dispose();
      u.close();
    }
  });

  test('cancel by user_data and by descriptor end what is in flight with -ECANCELED', () => {
    const u = new sys.IoUring({ entries: 8, cqEntries: 32, flags: support.flags });
    const ring = new sys.BufferRing(u, 0, 4, 64);
    const pair = tcpPair();
    try {
      u.prepRecvMultishot(pair.server, false, 0, 11, 0);
      u.prepCancel(11, 0, 12);
      const byData = collect(u, 2).sort((x, y) => x.lo - y.lo);
      assert.deepEqual(
        byData.map((c) => [c.lo, c.res]),
        [
          [11, -125],
          [12, 0],
        ],
      );
      u.prepRecvMultishot(pair.server, false, 0, 21, 0);
      u.prepPoll(pair.server, sys.POLLIN, 22);
      u.submit();
      u.prepCancelFd(pair.server, 23);
      const byFd = collect(u, 3).sort((x, y) => x.lo - y.lo);
      assert.deepEqual(
        byFd.map((c) => [c.lo, c.res]),
        [
          [21, -125],
          [22, -125],
          [23, 2], // two requests cancelled
        ],
      );
    } finally {
      pair.closeAll();
      ring.dispose();
      u.close();
    }
  });

  test('a timed wait with nothing to complete returns -ETIME; a poll completes with the ready events', () => {
    const u = new sys.IoUring({ entries: 8, cqEntries: 32, flags: support.flags });
    const pair = tcpPair();
    try {
      assert.equal(u.enter(1, 20), -62);
      u.prepPoll(pair.client, sys.POLLOUT, 5);
      const [p] = collect(u, 1);
      assert.equal(p!.lo, 5);
      assert.ok(p!.res & sys.POLLOUT);
    } finally {
      pair.closeAll();
      u.close();
    }
  });
});

test('the support probe names what is missing: C10K_IO_URING=off', async () => {
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync(
    process.execPath,
    ['-e', "import('./src/sys/index.ts').then((s) => console.log(JSON.stringify(s.ioUringSupport())))"],
    { env: { ...process.env, C10K_IO_URING: 'off' }, encoding: 'utf8' },
  );
  const probe = JSON.parse(out);
  assert.equal(probe.ok, false);
  assert.match(probe.reason, /C10K_IO_URING=off/);
});
