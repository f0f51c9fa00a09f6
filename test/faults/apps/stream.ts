import { defineApp } from '../../../src/index.ts';
import type { Connection } from '../../../src/net/connection-api.ts';

const CHUNK = 4 * 1024;
const streaming = new Set<Connection>();
let timer: NodeJS.Timeout | null = null;
let seq = 0;

/** Every 10 ms, a fresh 4 KiB chunk to every streaming connection, whether it reads or not. */
function tick(): void {
  for (const conn of streaming) conn.write(Buffer.allocUnsafe(CHUNK).fill(seq++ & 0xff));
}

/**
 * Line protocol. "stream": from now on this connection gets 400 KB/s, sent without regard for
 * back-pressure (a feed that cannot wait for one slow reader: the server's maxWriteBuffer must cut it off).
 * Any other line is echoed.
 */
export default defineApp({
  protocol: 'line',
  message(conn, line) {
    if (line.toString() === 'stream') {
      streaming.add(conn);
      timer ??= setInterval(tick, 10);
      return;
    }
    conn.send(line);
  },
  close(conn) {
    streaming.delete(conn);
    if (streaming.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  },
});
