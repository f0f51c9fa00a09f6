// Resets under allocation pressure (issue 16, finding 8): the label a closed connection gets ('peer-reset'
// for a client's RST, 'peer-closed' for its FIN) must not depend on what errno holds when it is read. A
// reactor in its own process runs test/sys/apps/alloc-echo.ts (every message, open and close allocate
// ~256 KB of garbage, so the scavenger runs between system calls all the time); clients connect, echo one
// message and reset (SO_LINGER 0: RST). Prints the rate as it goes and a verdict: every close counted as
// 'peer-reset', none as anything else, none left open.
// usage: node bench/resets.ts [--count N=1000000] [--concurrency C=200] [--multiplexer epoll|poll|select]
//        [--trigger level|edge] [--clobber ERRNO]   (--clobber: also overwrite errno after every call)
import net from 'node:net';
import { parseArgs } from 'node:util';
import { startServerChild } from '../test/faults/helpers.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    concurrency: { type: 'string', default: '200' },
    multiplexer: { type: 'string', default: 'epoll' },
    trigger: { type: 'string', default: 'level' },
    clobber: { type: 'string' },
  },
});
const count = Number(values.count);
const concurrency = Number(values.concurrency);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
  console.error('usage: node bench/resets.ts [--count N] [--concurrency C] [--multiplexer M] [--trigger T]');
  process.exit(2);
}
if (values.clobber !== undefined) process.env.C10K_CLOBBER_ERRNO = values.clobber;
const multiplexer = values.multiplexer as 'epoll' | 'poll' | 'select';
const trigger = values.trigger as 'level' | 'edge';
const app = new URL('../test/sys/apps/alloc-echo.ts', import.meta.url).pathname;
const server = await startServerChild({ app, backend: 'syscall', port: 0, multiplexer, trigger });

let started = 0;
let done = 0;
let failed = 0;
const t0 = performance.now();
let lastReport = t0;

function one(): Promise<void> {
  return new Promise((resolve) => {
    const sock = net.connect(server.port, '127.0.0.1');
    sock.setNoDelay(true);
    sock.on('connect', () => sock.write('ping'));
    let got = 0;
    sock.on('data', (d) => {
      got += d.length;
      if (got >= 4) sock.resetAndDestroy();
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      if (got < 4) failed++;
      resolve();
    });
  });
}

async function lane(): Promise<void> {
  while (started < count) {
    started++;
    await one();
    done++;
    const now = performance.now();
    if (now - lastReport > 10_000) {
      lastReport = now;
      const s = (await server.probe()).stats;
      console.log(
        `  ${done.toLocaleString()} resets, ${Math.round(done / ((now - t0) / 1000))}/s; server: peer-reset ${s.closed['peer-reset']}, peer-closed ${s.closed['peer-closed']}, active ${s.active}`,
      );
    }
  }
}

console.log(
  `${count.toLocaleString()} resets, ${concurrency} at a time, ${multiplexer} ${trigger}-triggered, server under allocation pressure${values.clobber ? `, errno overwritten with ${values.clobber} after every call` : ''}`,
);
await Promise.all(Array.from({ length: concurrency }, lane));
let stats = (await server.probe()).stats;
for (let i = 0; i < 200 && stats.active > 0; i++) {
  await new Promise((r) => setTimeout(r, 50));
  stats = (await server.probe()).stats;
}
const seconds = (performance.now() - t0) / 1000;
const others = Object.entries(stats.closed).filter(([k, v]) => k !== 'peer-reset' && v > 0);
const misclassified = others.reduce((n, [, v]) => n + v, 0);
console.log(
  `${done.toLocaleString()} resets in ${seconds.toFixed(0)} s (${Math.round(done / seconds)}/s), ${failed} without an echo`,
);
console.log(
  `server: accepted ${stats.accepted}, peer-reset ${stats.closed['peer-reset']}, misclassified ${misclassified}${others.length ? ` (${others.map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}, left open ${stats.active}`,
);
const ok = stats.closed['peer-reset'] === count && misclassified === 0 && stats.active === 0 && failed === 0;
console.log(ok ? 'PASS' : 'FAIL');
server.kill();
process.exit(ok ? 0 : 1);
