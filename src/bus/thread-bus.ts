// The app's bus between the thread pool's threads. The acceptor (the main thread) is their hub, as a
// supervisor is for worker processes, and bus messages cross with postMessage. postMessage says nothing
// of when the other side has read a message, so each side acknowledges the publication bytes it has
// handled, and a sender drops publications past the bound on unacknowledged bytes, as over IPC (a
// thread blocked in read() reads its messages only between the ticks of its socket's receive timeout).
import type { Logger } from '../log.ts';
import { type BusMessage, payloadSize, pendingBytes } from './bus.ts';

export type BusAck = { t: 'bus-ack'; bytes: number };

/** One direction of the crossing (hub to a thread, or a thread to the hub): post, within the bound on
 * publication bytes not yet acknowledged (pendingBytes). */
export function threadBusSender(
  post: (message: BusMessage) => void,
  logger: Logger,
  what: string,
): { send(message: BusMessage): void; ack(bytes: number): void } {
  const pending = pendingBytes(logger, what);
  return {
    send(message) {
      const bytes = message.op === 'pub' ? payloadSize(message.payload) : 0;
      if (bytes > 0 && !pending.admit(bytes)) return;
      post(message);
    },
    ack: (bytes) => pending.release(bytes),
  };
}

/** Acknowledgements of the publications handled (their bytes), posted once per event-loop turn. */
export function busAcknowledger(post: (ack: BusAck) => void): (message: BusMessage) => void {
  let bytes = 0;
  let scheduled = false;
  return (message) => {
    if (message.op !== 'pub') return;
    bytes += payloadSize(message.payload);
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      post({ t: 'bus-ack', bytes });
      bytes = 0;
    });
  };
}
