// Echo, except that a message 'block:N' holds the event loop for N ms (a long handler, a long GC): the
// server's coarse clock stops while connections keep sending.
import { defineApp } from '../../../src/app.ts';

export default defineApp({
  protocol: 'raw',
  message(conn, chunk) {
    const text = chunk.toString();
    if (text.startsWith('block:')) {
      const until = performance.now() + Number(text.slice(6));
      while (performance.now() < until) {}
    }
    conn.send(chunk);
  },
});
