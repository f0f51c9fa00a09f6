// The empty-argument flood of issue 16 (findings 1 and 2) against `c10k serve --app kv`: N connections
// each send `*65536\r\n` and then 65,535 empty bulk strings (`$0\r\n\r\n`), one short of a whole command,
// and hold. Meanwhile one client sends PING every 50 ms. Prints the server's RSS (peak and at the end, from
// /proc) and the PING latency (every reply counted, the worst and p99), and whether the server survived.
// usage: node bench/hostile-flood.ts [--connections 400] [--hold 10] [-- extra serve options...]
// e.g. `-- --partial-timeout 2s` shows the timeout cutting them (counted as closed by the server).
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { MiB, percentile, rssBytes } from '../test/faults/helpers.ts';
import { startServe } from '../test/helpers/cli.ts';

const { values, positionals } = parseArgs({
  options: { connections: { type: 'string', default: '400' }, hold: { type: 'string', default: '10' } },
  allowPositionals: true,
});
const N = Number(values.connections);
const holdS = Number(values.hold);
if (!(Number.isInteger(N) && N >= 1 && holdS >= 0)) {
  console.error(
    'usage: node bench/hostile-flood.ts [--connections N>=1] [--hold SECONDS] [-- serve options]',
  );
  process.exit(2);
}

const FLOOD = Buffer.concat([Buffer.from('*65536\r\n'), Buffer.from('$0\r\n\r\n'.repeat(65_535))]);
const { child, port } = await startServe(['--app', 'kv', ...positionals]);
const pid = child.pid!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// The pinger: one PING at a time, every 50 ms; an unanswered one counts from when it was sent.
const pinger = await open();
const latencies: number[] = [];
let sentAt = 0;
let pong = '';
pinger.on('data', (d) => {
  pong += d.toString();
  while (pong.startsWith('+PONG\r\n')) {
    pong = pong.slice(7);
    latencies.push(performance.now() - sentAt);
    sentAt = 0;
  }
});
let pinging = true;
const pingLoop = (async () => {
  while (pinging) {
    if (sentAt === 0) {
      sentAt = performance.now();
      pinger.write('PING\r\n');
    }
    await sleep(50);
  }
})();

let peak = 0;
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      return; // the server is gone
    }
    await sleep(100);
  }
})();

await sleep(500);
const baseline = rssBytes(pid);
const started = performance.now();
const sockets: Socket[] = [];
let closedByServer = 0;
let written = 0;
for (let i = 0; i < N; i++) {
  const s = await open().catch(() => null);
  if (s === null) break;
  s.on('error', () => {});
  s.on('close', () => closedByServer++);
  sockets.push(s);
  s.write(FLOOD, () => written++);
}
while (written < sockets.length && child.exitCode === null && performance.now() - started < 120_000)
  await sleep(50);
const sentMs = performance.now() - started;
await sleep(holdS * 1000);
const end = child.exitCode === null ? rssBytes(pid) : 0;
const unanswered = sentAt === 0 ? 0 : performance.now() - sentAt;
pinging = false;
sampling = false;
await Promise.all([pingLoop, sampler]);
const alive = child.exitCode === null;
const cut = closedByServer;
for (const s of sockets) s.destroy();
pinger.destroy();
if (alive) child.kill('SIGTERM');

const worst = Math.max(unanswered, ...latencies);
console.log(
  `${sockets.length} connections x ${FLOOD.length.toLocaleString()} bytes = ${((sockets.length * FLOOD.length) / 1e6).toFixed(0)} MB sent in ${(sentMs / 1000).toFixed(1)} s, held ${holdS} s`,
);
console.log(
  `server RSS: ${mib(baseline)} before, peak ${mib(peak)}, ${alive ? mib(end) : 'gone'} at the end`,
);
console.log(
  `PING every 50 ms: ${latencies.length} answered, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, worst ${worst.toFixed(1)} ms${unanswered > 0 ? ' (one unanswered at the end)' : ''}`,
);
console.log(
  `server ${alive ? 'alive' : `died (exit ${child.exitCode}, signal ${child.signalCode})`}; flood connections closed by the server: ${cut}`,
);
console.log(
  `verdict: RSS peak ${peak < 300 * MiB ? 'under' : 'OVER'} 300 MiB; ${alive && unanswered === 0 ? `every PING answered (worst ${worst.toFixed(0)} ms: the time to read what the flood queued before it)` : `PING unanswered for ${unanswered.toFixed(0)} ms at the end`}`,
);
