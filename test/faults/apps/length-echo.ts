import { defineApp } from '../../../src/index.ts';

/** Length-prefixed frames (4-byte big-endian length, then the payload), each echoed as a frame. */
export default defineApp({
  protocol: 'length',
  message(conn, frame) {
    conn.send(frame);
  },
});
