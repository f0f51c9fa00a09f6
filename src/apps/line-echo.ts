import { defineApp } from '../app.ts';

/** Line echo: every '\n'-terminated line comes back as a line (lines longer than 64 KiB close the connection). */
export default defineApp({
  protocol: 'line',
  message(conn, line) {
    conn.send(line);
  },
});
