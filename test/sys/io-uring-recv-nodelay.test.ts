// Two facts the proactor (and its bare bench loop) lean on: a plain IORING_OP_RECV into a buffer of our
// own puts exactly the bytes that arrived there (prepRecv: address, length, fixed-file slot), and an
// accepted socket inherits TCP_NODELAY from its listening socket (Linux), which is why the proactor sets
// it once on the listener instead of with a system call per client.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as sys from '../../src/sys/index.ts';
import { tcpPair, waitFor } from './helpers.ts';

const support: sys.IoUringSupport = sys.syscallBackendAvailable()
  ? sys.ioUringSupport()
  : { ok: false, reason: 'no syscall backend', flags: 0 };
const skip = support.ok ? false : `io_uring unavailable: ${support.reason}`;

function one(u: sys.IoUring): { lo: number; res: number } {
  for (let i = 0; i < 200; i++) {
    u.enter(1, 10);
    if (u.ready() > 0) {
      const ci = u.cqIndex(0);
      const cqe = { lo: u.userLo(ci), res: u.res(ci) };
      u.advance(1);
      return cqe;
    }
  }
  throw new Error('no completion within 2 s');
}

describe('io_uring plain receive', { skip }, () => {
  for (const fixed of [false, true]) {
    test(`prepRecv takes what arrived, at most len bytes, at the address given${fixed ? ' (registered file slot)' : ''}`, () => {
      const u = new sys.IoUring({ entries: 8, cqEntries: 32, flags: support.flags });
      const pair = tcpPair();
      const into = Buffer.alloc(64, 0x2e);
      try {
        if (fixed) {
          assert.equal(u.registerSparseFiles(pair.server + 1), 0);
          u.prepFilesUpdate(pair.server, pair.server, 99);
        }
        // 5 bytes at most, 8 bytes into the buffer; 9 sent: the rest waits for the next receive.
        u.prepRecv(pair.server, fixed, sys.addressOf(into) + 8, 5, 7);
        u.submit();
        sys.write(pair.client, Buffer.from('abcdefghi'), 9);
        assert.deepEqual(one(u), { lo: 7, res: 5 });
        assert.equal(into.toString('latin1', 0, 16), '........abcde...');
        u.prepRecv(pair.server, fixed, sys.addressOf(into), 64, 8);
        assert.deepEqual(one(u), { lo: 8, res: 4 });
        assert.equal(into.toString('latin1', 0, 4), 'fghi');
        sys.close(pair.client);
        u.prepRecv(pair.server, fixed, sys.addressOf(into), 64, 9);
        assert.deepEqual(one(u), { lo: 9, res: 0 }, 'EOF');
      } finally {
        pair.closeAll();
        u.close();
      }
    });
  }
});

describe('TCP_NODELAY', { skip: sys.syscallBackendAvailable() ? false : 'no syscall backend' }, () => {
  for (const onListener of [true, false]) {
    test(`an accepted socket has TCP_NODELAY ${onListener ? 'when' : 'only when'} its listener has it`, () => {
      const listener = sys.listenTcp({ host: '127.0.0.1', port: 0 });
      if (onListener) sys.setsockopt(listener, sys.IPPROTO_TCP, sys.TCP_NODELAY, 1);
      const client = sys.connectTcp('127.0.0.1', sys.getsockname(listener).port);
      try {
        waitFor(listener);
        const server = sys.accept4(listener, sys.SOCK_NONBLOCK | sys.SOCK_CLOEXEC);
        assert.ok(server >= 0);
        assert.equal(sys.getsockopt(server, sys.IPPROTO_TCP, sys.TCP_NODELAY) !== 0, onListener);
        sys.close(server);
      } finally {
        sys.close(client);
        sys.close(listener);
      }
    });
  }
});
