import { defineApp } from '../../../src/index.ts';

const BLOCK = Buffer.alloc(64 * 1024, 'f');

/**
 * On "flood N": writes N blocks of 64 KiB, ignoring back-pressure (a slow reader must be cut off);
 * on "polite N": writes N blocks, waiting for drain() whenever send() says the buffer is full.
 */
export default defineApp<Buffer, Buffer | string>({
  protocol: 'line',
  message(conn, line) {
    const [verb, count] = line.toString().split(' ');
    let left = Number(count);
    if (verb === 'flood') {
      while (left-- > 0) conn.write(BLOCK);
      return;
    }
    const pump = () => {
      while (left > 0) {
        left--;
        if (!conn.write(BLOCK)) return;
      }
      conn.data = 'done';
      conn.write('end\n');
    };
    conn.data = pump;
    pump();
  },
  drain(conn) {
    if (typeof conn.data === 'function') (conn.data as () => void)();
  },
});
