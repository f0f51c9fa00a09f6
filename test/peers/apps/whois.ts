// A test app for the PROXY protocol: answers each line with the client's address as the app sees it
// (conn.remoteAddress, the PROXY header's source behind a load balancer) and the port it was reached on.
// It answers on a message, not in open(): the header is read with the first bytes, after open().
import { defineApp } from '../../../src/app.ts';

export default defineApp({
  protocol: 'line',
  message(conn) {
    conn.send(`${conn.remoteAddress} ${conn.localPort}`);
  },
});
