// Where the syscall reactor reads: a ReadBuffer with one slot per ready socket of a batch, so a batch's
// reads all land before any of them is handled (see the reactor's top comment), read into and sent from
// by raw address: the reply to an echo goes out straight from its slot after the whole batch was handled.
import { ReadBuffer } from '../../net/read-buffer.ts';
import { addressOf } from '../../sys/index.ts';

export class ReadSlots extends ReadBuffer {
  /** Address of bytes[0]. */
  readonly address: number;

  constructor(count: number, slotBytes: number) {
    super(slotBytes, count);
    this.address = addressOf(this.bytes);
  }

  /** Address of slot k. */
  slotAddress(k: number): number {
    return this.address + k * this.slotBytes;
  }

  /** Address of a view of this memory (holds(view) must be true). */
  addressOf(view: Uint8Array): number {
    return this.address + (view.byteOffset - this.bytes.byteOffset);
  }

  /** The len bytes at `address` (inside this memory) as a Buffer: a fresh view, for the rare paths. */
  at(address: number, len: number): Buffer {
    const start = address - this.address + this.bytes.byteOffset;
    return Buffer.from(this.arrayBuffer, start, len);
  }
}
