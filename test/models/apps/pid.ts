import { defineApp } from '../../../src/index.ts';

/** Says which process serves the connection ("<pid>\n" on open), then echoes. */
export default defineApp({
  protocol: 'raw',
  open(conn) {
    conn.send(`${process.pid}\n`);
  },
  message(conn, chunk) {
    conn.send(chunk);
  },
});
