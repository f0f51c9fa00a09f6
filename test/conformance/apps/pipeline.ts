import { defineApp } from '../../../src/index.ts';

/**
 * Line protocol with several replies per request: "N text" answers with N lines "text #i", so one read
 * holding many requests produces many replies (the corked path); "end" replies "bye" and ends.
 */
export default defineApp({
  protocol: 'line',
  message(conn, line) {
    const text = line.toString();
    if (text === 'end') {
      conn.send('bye');
      conn.end();
      return;
    }
    const space = text.indexOf(' ');
    const count = Number(text.slice(0, space));
    for (let i = 0; i < count; i++) conn.send(`${text.slice(space + 1)} #${i}`);
  },
});
