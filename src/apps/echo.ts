import { defineApp } from '../app.ts';

/** Echo: every chunk goes straight back. */
export default defineApp({
  protocol: 'raw',
  message(conn, chunk) {
    conn.send(chunk);
  },
});
