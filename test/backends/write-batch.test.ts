// The syscall reactor's WriteBatch on real sockets: a record goes out at flush, once, in the order of the
// batch; a record taken back or dropped never goes out (not even to a later connection that reuses the
// descriptor); a send that comes up short is handed back with the bytes it did not take.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadSlots } from '../../src/backends/syscall/read-slots.ts';
import { WriteBatch } from '../../src/backends/syscall/write-batch.ts';
import * as sys from '../../src/sys/index.ts';
import { tcpPair, waitFor } from '../sys/helpers.ts';

const skip = sys.syscallBackendAvailable() ? false : 'the syscall backend needs Linux';

/** Everything readable on fd now. */
function drain(fd: number): string {
  const buf = Buffer.alloc(1 << 16);
  let text = '';
  while (waitFor(fd, sys.POLLIN, 50) & sys.POLLIN) {
    const n = sys.read(fd, buf, buf.length);
    if (n <= 0) break;
    text += buf.toString('latin1', 0, n);
  }
  return text;
}

type Short = { fd: number; rest: string; n: number };
const sink = (shorts: Short[]) => ({
  sentShort(fd: number, bytes: Buffer, n: number) {
    shorts.push({ fd, rest: bytes.toString('latin1'), n });
  },
});

test('WriteBatch: records go out at flush, once; taken back or dropped ones never', { skip }, () => {
  const a = tcpPair();
  const b = tcpPair();
  try {
    const slots = new ReadSlots(2, 64);
    const batch = new WriteBatch(slots);
    // A view of the read slots (sent by address) and a Buffer of the app's own.
    slots.bytes.write('echoed', 64, 'latin1');
    const view = slots.view(6, 1);
    assert.ok(batch.defer(a.server, view));
    assert.equal(batch.defer(a.server, Buffer.from('second')), false, 'one record per descriptor');
    assert.ok(batch.defer(b.server, Buffer.from('owned')));
    assert.equal(batch.bytesOf(a.server), 6);
    assert.equal(batch.bytesOf(b.server), 5);
    assert.equal(drain(a.client), '', 'nothing leaves before the flush');
    // The slot is overwritten only after the batch: the record still holds what was read.
    const shorts: Short[] = [];
    batch.flush(sink(shorts));
    assert.equal(drain(a.client), 'echoed');
    assert.equal(drain(b.client), 'owned');
    assert.deepEqual(shorts, []);
    assert.equal(batch.has(a.server), false);
    batch.flush(sink(shorts));
    assert.equal(drain(a.client), '', 'a flushed record does not go out twice');

    // Taken back: the caller sends it itself (here: not at all); the flush skips it.
    assert.ok(batch.defer(a.server, Buffer.from('taken')));
    assert.equal(batch.take(a.server)?.toString(), 'taken');
    assert.equal(batch.take(a.server), null);
    // Dropped (its connection closed), then the descriptor's next connection records its own bytes.
    assert.ok(batch.defer(b.server, Buffer.from('for the old connection')));
    batch.drop(b.server);
    assert.equal(batch.bytesOf(b.server), 0);
    assert.ok(batch.defer(b.server, Buffer.from('for the new one')));
    batch.flush(sink(shorts));
    assert.equal(drain(a.client), '');
    assert.equal(drain(b.client), 'for the new one');
    assert.deepEqual(shorts, []);
  } finally {
    a.closeAll();
    b.closeAll();
  }
});

test('WriteBatch: a send the kernel does not take whole comes back with the rest', { skip }, () => {
  const p = tcpPair();
  try {
    // Fill the server's send buffer and the client's receive buffer: the peer does not read.
    const chunk = Buffer.alloc(1 << 16, 0x61);
    while (sys.write(p.server, chunk, chunk.length) > 0);
    const slots = new ReadSlots(1, 64);
    const batch = new WriteBatch(slots);
    assert.ok(batch.defer(p.server, Buffer.from('stuck')));
    const shorts: Short[] = [];
    batch.flush(sink(shorts));
    assert.deepEqual(shorts, [{ fd: p.server, rest: 'stuck', n: -sys.EAGAIN }]);
    assert.equal(batch.has(p.server), false);
    // A failed send (the peer reset) is handed back with its errno too.
    sys.resetOnClose(p.client);
    sys.close(p.client);
    waitFor(p.server, sys.POLLERR | sys.POLLHUP | sys.POLLIN);
    sys.write(p.server, chunk, 1); // takes the reset
    assert.ok(batch.defer(p.server, Buffer.from('late')));
    batch.flush(sink(shorts));
    assert.equal(shorts.length, 2);
    assert.equal(shorts[1]!.rest, 'late');
    assert.ok([-sys.EPIPE, -sys.ECONNRESET].includes(shorts[1]!.n), `errno ${shorts[1]!.n}`);
  } finally {
    sys.close(p.server);
    sys.close(p.listener);
  }
});

test('WriteBatch: past its capacity it refuses, and the caller sends at once', { skip }, () => {
  const slots = new ReadSlots(1, 64);
  const batch = new WriteBatch(slots);
  let accepted = 0;
  for (let fd = 0; fd < 5000; fd++) if (batch.defer(fd, Buffer.from('x'))) accepted++;
  assert.equal(accepted, 1024);
  // Dropped, they are skipped by the flush, which ends the batch and makes room again.
  for (let fd = 0; fd < 5000; fd++) batch.drop(fd);
  assert.equal(batch.has(7), false);
  batch.flush({ sentShort: () => assert.fail('a dropped record was sent') });
  assert.ok(batch.defer(3, Buffer.from('x')));
  batch.drop(3);
});
