import { defineApp } from '../../../src/index.ts';

/** Line echo that throws on the line "boom": only that connection may suffer. */
export default defineApp({
  protocol: 'line',
  message(conn, line) {
    if (line.toString() === 'boom') throw new Error('the app blew up');
    conn.send(line);
  },
});
