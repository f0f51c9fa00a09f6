// The registered file table the proactor puts its sockets in: a socket installed in a slot is sent to
// and received from through the slot (IOSQE_FIXED_FILE), the install reports nothing when it succeeds
// (IOSQE_CQE_SKIP_SUCCESS), and an emptied slot holds the socket no longer: its peer sees the close.
// Skipped, with the reason, without io_uring.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as sys from '../../src/sys/index.ts';
import { tcpPair, waitFor } from './helpers.ts';

const support: sys.IoUringSupport = sys.syscallBackendAvailable()
  ? sys.ioUringSupport()
  : { ok: false, reason: 'no syscall backend', flags: 0 };
const skip = support.ok ? false : `io_uring unavailable: ${support.reason}`;

type Cqe = { lo: number; res: number; flags: number };

function collect(u: sys.IoUring, count: number, waits = 200): Cqe[] {
  const out: Cqe[] = [];
  for (let i = 0; i < waits && out.length < count; i++) {
    u.enter(1, 10);
    const n = u.ready();
    for (let k = 0; k < n; k++) {
      const ci = u.cqIndex(k);
      out.push({ lo: u.userLo(ci), res: u.res(ci), flags: u.cqeFlags(ci) });
    }
    u.advance(n);
  }
  return out;
}

describe('io_uring registered file table', { skip }, () => {
  test('a socket in a slot: send and receive through the slot; emptied, the slot fails and the socket closes', () => {
    const u = new sys.IoUring({ entries: 8, cqEntries: 32, flags: support.flags });
    const ring = new sys.BufferRing(u, 0, 4, 256);
    const pair = tcpPair();
    let serverOpen = true;
    try {
      assert.equal(u.registerSparseFiles(64), 0);
      const slot = 17; // any slot: not the descriptor's number
      u.prepFilesUpdate(slot, pair.server, 1);
      const payload = Buffer.from('through the slot');
      u.prepSend(slot, true, sys.addressOf(payload), payload.length, sys.MSG_NOSIGNAL, 2);
      u.prepRecvMultishot(slot, true, 0, 3);
      const [sent] = collect(u, 1);
      // The install's success posts nothing: the first completion is the send's.
      assert.deepEqual([sent!.lo, sent!.res], [2, payload.length]);
      const got = Buffer.alloc(64);
      waitFor(pair.client);
      assert.equal(sys.read(pair.client, got, 64), payload.length);
      assert.equal(got.subarray(0, payload.length).toString(), 'through the slot');
      sys.write(pair.client, Buffer.from('back'), 4);
      const [recv] = collect(u, 1);
      assert.deepEqual([recv!.lo, recv!.res], [3, 4]);
      const bid = recv!.flags >>> sys.IORING_CQE_BUFFER_SHIFT;
      assert.equal(ring.bytes.subarray(bid * 256, bid * 256 + 4).toString(), 'back');

      // The descriptor closed, the table still holds the socket: no FIN yet.
      sys.close(pair.server);
      serverOpen = false;
      assert.equal(waitFor(pair.client, sys.POLLIN, 100), 0, 'the slot keeps the socket open');
      u.prepCancel(3, 0, 4);
      u.prepFilesUpdate(slot, -1, 5);
      u.prepSend(slot, true, sys.addressOf(payload), payload.length, sys.MSG_NOSIGNAL, 6);
      const rest = collect(u, 3, 50);
      const byLo = new Map(rest.map((c) => [c.lo, c.res]));
      assert.equal(byLo.get(3), -125, 'the receive is cancelled (ECANCELED)');
      assert.equal(byLo.has(5), false, 'emptying the slot posts nothing');
      assert.equal(byLo.get(6), -9, 'a send on the emptied slot fails EBADF');
      assert.notEqual(waitFor(pair.client, sys.POLLIN, 2000), 0, 'the peer sees the close');
      assert.equal(sys.read(pair.client, got, 64), 0);
    } finally {
      if (serverOpen) sys.close(pair.server);
      sys.close(pair.client);
      sys.close(pair.listener);
      ring.dispose();
      u.close();
    }
  });

  test('the table cannot be larger than the open-files limit allows (the proactor then uses descriptors)', () => {
    const u = new sys.IoUring({ entries: 8, cqEntries: 32, flags: support.flags });
    try {
      const r = u.registerSparseFiles(sys.getrlimit().soft + 1);
      assert.ok(r < 0, `refused (${r})`);
    } finally {
      u.close();
    }
  });
});
