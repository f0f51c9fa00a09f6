import { defineApp } from '../../../src/index.ts';

/** Line protocol: "who" answers the connection's remote address as the server sees it. */
export default defineApp({
  protocol: 'line',
  message(conn, line) {
    if (line.toString() === 'who') conn.send(`${conn.remoteAddress} ${conn.remotePort}`);
  },
});
