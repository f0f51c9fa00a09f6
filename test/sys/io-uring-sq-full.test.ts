// The submission ring when a turn prepares more SQEs than it holds: IoUring reads the kernel's SQ head
// again only when the ring looks full by the head it last read, then submits what waits and reuses the
// slots. Every SQE must still reach the kernel once, with its own user_data, in order, and a slot reused
// must carry nothing of the SQE it held before (zeroed). Skipped, with the reason, without io_uring.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as sys from '../../src/sys/index.ts';

const support: sys.IoUringSupport = sys.syscallBackendAvailable()
  ? sys.ioUringSupport()
  : { ok: false, reason: 'no syscall backend', flags: 0 };
const skip = support.ok ? false : `io_uring unavailable: ${support.reason}`;

/** Enter until `count` completions are in (at most ~2 s): their user_data low words and results. */
function collect(u: sys.IoUring, count: number): { lo: number; res: number }[] {
  const out: { lo: number; res: number }[] = [];
  for (let i = 0; i < 200 && out.length < count; i++) {
    u.enter(1, 10);
    const n = u.ready();
    for (let k = 0; k < n; k++) {
      const ci = u.cqIndex(k);
      out.push({ lo: u.userLo(ci), res: u.res(ci) });
    }
    u.advance(n);
  }
  return out;
}

describe('io_uring submission ring past full', { skip }, () => {
  test('three rings full of SQEs prepared before one enter: each completes once, in order', () => {
    const u = new sys.IoUring({ entries: 8, cqEntries: 64, flags: support.flags });
    try {
      // Cancels of nothing (-ENOENT) alternate with nops (0): a slot reused by a nop after a cancel
      // would report the cancel's result if the cancel's target were left in it.
      const count = 3 * 8 + 5;
      for (let i = 0; i < count; i++) {
        if (i % 2 === 0) u.prepCancel(0x7fff0000 + i, 0, 1000 + i);
        else u.prepNop(1000 + i);
      }
      const got = collect(u, count);
      assert.equal(got.length, count);
      assert.deepEqual(
        got.map((c) => c.lo),
        Array.from({ length: count }, (_, i) => 1000 + i),
      );
      for (const c of got) assert.equal(c.res, (c.lo - 1000) % 2 === 0 ? -sys.ENOENT : 0, `SQE ${c.lo}`);
      assert.equal(u.pending, 0);
    } finally {
      u.close();
    }
  });

  test('a second round of the same after the first was collected: the head read again, no early submit', () => {
    const u = new sys.IoUring({ entries: 8, cqEntries: 64, flags: support.flags });
    try {
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 8; i++) u.prepNop(round * 100 + i);
        // A ring exactly full waits for our enter: nothing was submitted behind our back.
        assert.equal(u.pending, 8);
        const got = collect(u, 8);
        assert.deepEqual(
          got.map((c) => c.lo),
          Array.from({ length: 8 }, (_, i) => round * 100 + i),
        );
      }
    } finally {
      u.close();
    }
  });

  test('a reused slot is zeroed: a nop after a buffer-select receive in the same slot is a plain nop', () => {
    const u = new sys.IoUring({ entries: 8, cqEntries: 64, flags: support.flags });
    try {
      // Receives on no descriptor (they fail at once), with IOSQE_BUFFER_SELECT in the SQE's flags byte.
      for (let i = 0; i < 8; i++) u.prepRecvMultishot(-1, false, 0, 100 + i);
      const failed = collect(u, 8);
      assert.equal(failed.length, 8);
      for (const c of failed) assert.ok(c.res < 0, `receive ${c.lo}: ${c.res}`);
      // The same eight slots again: a flags byte left over would make the kernel refuse the nop
      // (buffer select on an operation without buffers).
      for (let i = 0; i < 8; i++) u.prepNop(200 + i);
      const got = collect(u, 8);
      assert.deepEqual(
        got.map((c) => [c.lo, c.res]),
        Array.from({ length: 8 }, (_, i) => [200 + i, 0]),
      );
    } finally {
      u.close();
    }
  });
});
