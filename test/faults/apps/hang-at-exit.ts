import { defineApp } from '../../../src/index.ts';

/**
 * Line echo in a process that cannot finish exiting: an 'exit' listener that never returns stands in
 * for Node's own exit-time deadlock (nodejs/node#54918), which is rare and cannot be provoked at will.
 */
export default defineApp({
  protocol: 'line',
  setup() {
    // Only in a server's child process (never in a test process that loads the app too).
    if (!process.argv[1]?.endsWith('worker-main.ts')) return;
    process.on('exit', () => {
      for (;;) {}
    });
  },
  message(conn, line) {
    conn.send(line);
  },
});
