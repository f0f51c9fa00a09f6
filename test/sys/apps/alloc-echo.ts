// Echo under allocation pressure: every message and every close also allocate short-lived garbage
// (~256 KB of small arrays and strings), so V8's scavenger runs every few messages, on the same thread,
// between system calls — where a stale errno would come from.
import { defineApp } from '../../../src/app.ts';

let sink: unknown = null;
function garbage(): void {
  const parts: unknown[] = [];
  for (let i = 0; i < 2048; i++) parts.push([i, `x${i}`, { i }]);
  sink = parts;
}

export default defineApp({
  protocol: 'raw',
  open() {
    garbage();
  },
  message(conn, chunk) {
    garbage();
    conn.send(chunk);
  },
  close() {
    garbage();
    return sink === undefined ? undefined : undefined;
  },
});
