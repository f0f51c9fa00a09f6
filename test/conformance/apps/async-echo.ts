import { setTimeout as sleep } from 'node:timers/promises';
import { defineApp } from '../../../src/index.ts';

/** Line echo with an async handler that waits a varying time: replies must still come back in order. */
export default defineApp({
  protocol: 'line',
  async message(conn, line) {
    await sleep(line.length % 3);
    conn.send(line);
  },
});
