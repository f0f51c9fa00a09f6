import { defineApp } from '../../../src/index.ts';

/**
 * Line echo with ways to die: "exit" ends the process (exit code 3), "throw later" throws from a timer,
 * outside any handler, "reject later" leaves a promise rejected with no one to catch it.
 */
export default defineApp({
  protocol: 'line',
  message(conn, line) {
    const text = line.toString();
    if (text === 'exit') process.exit(3);
    if (text === 'throw later')
      setTimeout(() => {
        throw new Error('thrown from a timer');
      }, 1);
    else if (text === 'reject later') void Promise.reject(new Error('rejected, never caught'));
    else conn.send(line);
  },
});
