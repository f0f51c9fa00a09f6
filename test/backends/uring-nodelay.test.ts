// The proactor's accepted sockets have TCP_NODELAY (inherited from the listening socket, where it is set
// once instead of with a system call per client): a reply is never held back by Nagle's algorithm.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { test } from 'node:test';
import { memoryLogger, serve } from '../../src/index.ts';
import * as sys from '../../src/sys/index.ts';

const support = sys.syscallBackendAvailable()
  ? sys.ioUringSupport()
  : { ok: false, reason: 'no syscall backend' };
const skip = support.ok ? false : `io_uring unavailable: ${support.reason}`;

/** This process's socket whose peer is 127.0.0.1:port, or -1. */
function socketWithPeerPort(port: number): number {
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    try {
      if (sys.getpeername(fd).port === port) return fd;
    } catch {} // not a connected socket
  }
  return -1;
}

test('proactor: every accepted socket has TCP_NODELAY', { skip }, async () => {
  const server = await serve({ app: 'echo', model: 'proactor', port: 0, logger: memoryLogger() });
  const clients = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<ReturnType<typeof connect>>((resolve, reject) => {
          const s = connect(server.port, '127.0.0.1');
          s.once('error', reject);
          s.once('data', () => resolve(s));
          s.once('connect', () => s.write('ping'));
        }),
    ),
  );
  try {
    for (const client of clients) {
      const fd = socketWithPeerPort(client.localPort!);
      assert.ok(fd >= 0, 'the server side of the connection is found');
      assert.equal(sys.getsockopt(fd, sys.IPPROTO_TCP, sys.TCP_NODELAY), 1);
    }
  } finally {
    for (const client of clients) client.destroy();
    await server.close();
  }
});
