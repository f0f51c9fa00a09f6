// The syscall connection's Outbox on real sockets (it replaced the reactor's WriteBatch: a reply held to
// the end of a batch now waits in its connection's outbox). What waits goes out at a flush, once, in
// order, a view of the read slots by address; what the kernel refuses stays, in order, and own() makes it
// survive the next batch's reads into the slots; a failed socket reports its errno.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Outbox } from '../../src/backends/syscall/outbox.ts';
import { ReadSlots } from '../../src/backends/syscall/read-slots.ts';
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

test('Outbox: what waits goes out at the flush, once, in order', { skip }, () => {
  const p = tcpPair();
  try {
    const slots = new ReadSlots(2, 64);
    slots.bytes.write('echoed', 64, 'latin1');
    const one = Outbox.take();
    one.push(slots.view(6, 1)); // alone: sent by address
    assert.equal(one.bytes, 6);
    assert.equal(drain(p.client), '', 'nothing leaves before the flush');
    assert.equal(one.flush(p.server, slots), 0);
    assert.equal(one.bytes, 0);
    assert.equal(drain(p.client), 'echoed');
    assert.equal(one.flush(p.server, slots), 0);
    assert.equal(drain(p.client), '', 'a flushed outbox does not send twice');
    // Several: one writev, a view among Buffers of the app's own.
    one.push(Buffer.from('a,'));
    one.push(slots.view(6, 1));
    one.push(Buffer.from(',z'));
    assert.equal(one.flush(p.server, slots), 0);
    assert.equal(one.bytes, 0);
    assert.equal(drain(p.client), 'a,echoed,z');
    Outbox.give(one);
    const again = Outbox.take();
    assert.equal(again.bytes, 0, 'an outbox given back is empty when taken again');
    assert.equal(again.flush(p.server, slots), 0);
    assert.equal(drain(p.client), '');
  } finally {
    p.closeAll();
  }
});

test('Outbox: what the kernel refuses stays, in order, and outlives the read slots', { skip }, () => {
  const p = tcpPair();
  try {
    // Fill the server's send buffer and the client's receive buffer: the peer does not read.
    const chunk = Buffer.alloc(1 << 16, 0x2e);
    let filled = 0;
    for (let n = 1; n > 0; ) {
      n = sys.write(p.server, chunk, chunk.length);
      if (n > 0) filled += n;
    }
    const slots = new ReadSlots(1, 64);
    slots.bytes.write('view', 0, 'latin1');
    const out = Outbox.take();
    out.push(Buffer.from('first,'));
    out.push(slots.view(4, 0));
    out.push(Buffer.from(',last'));
    assert.equal(out.flush(p.server, slots), 0, 'EAGAIN is no error');
    assert.equal(out.bytes, 15);
    out.own(slots);
    slots.bytes.write('XXXX', 0, 'latin1'); // the next batch reads into the slot
    // The peer reads: the rest goes out whole, after the filler, in order.
    let text = '';
    const deadline = Date.now() + 5000;
    while (out.bytes > 0 && Date.now() < deadline) {
      text += drain(p.client);
      assert.equal(out.flush(p.server, slots), 0);
    }
    text += drain(p.client);
    assert.equal(out.bytes, 0);
    assert.equal(text.length, filled + 15);
    assert.equal(text.slice(filled), 'first,view,last');
  } finally {
    p.closeAll();
  }
});

test('Outbox: a socket the peer reset reports its errno', { skip }, () => {
  const p = tcpPair();
  try {
    sys.resetOnClose(p.client);
    sys.close(p.client);
    waitFor(p.server, sys.POLLERR | sys.POLLHUP | sys.POLLIN);
    sys.write(p.server, Buffer.from('x'), 1); // takes the reset
    const slots = new ReadSlots(1, 64);
    const out = Outbox.take();
    out.push(Buffer.from('late'));
    const r = out.flush(p.server, slots);
    assert.ok([-sys.EPIPE, -sys.ECONNRESET].includes(r), `errno ${r}`);
    assert.equal(out.bytes, 4, 'nothing was taken');
  } finally {
    sys.close(p.server);
    sys.close(p.listener);
  }
});

test('Outbox: a reader that never lets the queue empty does not grow its array', { skip }, () => {
  const p = tcpPair();
  try {
    const filler = Buffer.alloc(1 << 16, 0x2e);
    let filled = 0;
    for (let n = 1; n > 0; ) {
      n = sys.write(p.server, filler, filler.length);
      if (n > 0) filled += n;
    }
    const slots = new ReadSlots(1, 64);
    const out = Outbox.take();
    const inside = out as unknown as { bufs: unknown[]; head: number; tail: number };
    const size = 1024;
    let pushed = 0;
    const message = (i: number) => Buffer.from(`<${String(i).padStart(8, '0')}>`.padEnd(size, '-'), 'latin1');
    for (let i = 0; i < 4096; i++) out.push(message(pushed++)); // 4 MiB waiting behind the filler
    const buf = Buffer.alloc(1 << 16);
    let received = '';
    let maxLength = 0;
    for (let cycle = 0; cycle < 300; cycle++) {
      // The peer takes 64 KiB, the app adds 64 KiB: the queue moves but never empties.
      let got = 0;
      while (got < buf.length && waitFor(p.client, sys.POLLIN, 2000) & sys.POLLIN) {
        const n = sys.read(p.client, buf, buf.length - got);
        if (n <= 0) break;
        got += n;
        received += buf.toString('latin1', 0, n);
      }
      for (let i = 0; i < 64; i++) out.push(message(pushed++));
      assert.equal(out.flush(p.server, slots), 0);
      assert.ok(out.bytes > 0, 'the queue never empties (else this test tests nothing)');
      maxLength = Math.max(maxLength, inside.bufs.length);
      const live = inside.tail - inside.head;
      assert.ok(
        inside.bufs.length <= 2 * live + 2 * 1024 + 64,
        `array ${inside.bufs.length} for ${live} waiting`,
      );
    }
    assert.ok(maxLength < pushed / 2, `array ${maxLength} slots after ${pushed} messages`);
    // Everything comes out, in order.
    const deadline = Date.now() + 20_000;
    while (out.bytes > 0 && Date.now() < deadline) {
      received += drain(p.client);
      assert.equal(out.flush(p.server, slots), 0);
    }
    received += drain(p.client);
    assert.equal(out.bytes, 0);
    assert.equal(received.length, filled + pushed * size);
    const tail = received.slice(filled);
    for (let i = 0; i < pushed; i++) {
      const at = tail.slice(i * size, i * size + 10);
      if (at !== `<${String(i).padStart(8, '0')}>`) assert.fail(`message ${i} out of place: ${at}`);
    }
  } finally {
    p.closeAll();
  }
});
