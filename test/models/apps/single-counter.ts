// A user app whose state lives in one process (a counter shared by every client): singleProcess.
import { defineApp } from '../../../src/index.ts';

let count = 0;

export default defineApp({
  protocol: 'line',
  singleProcess: true,
  message(conn) {
    conn.send(String(++count));
  },
});
