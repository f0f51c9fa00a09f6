// CPU time per echoed message of c10k's reactor against the C reference and plain node:net, in one run
// (rounds alternate the three so the noisy shared machine affects them alike). Closed loop by default
// (the C echo_load: every server runs flat out); --rate M drives M messages/s in open loop with c10k's
// own load generator instead, which shows what each server costs when it is not saturated.
//   node bench/reactor-ratio.ts [--backend node|syscall] [--connections 1000] [--seconds 5] [--rounds 3]
//                               [--rate M] [-- extra serve args]
import { parseArgs } from 'node:util';
import { c10kEcho, cpuPerMessage, median, yardstick } from './lib/yardstick.ts';

const { values, positionals } = parseArgs({
  options: {
    backend: { type: 'string', default: 'node' },
    connections: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '0' },
  },
  allowPositionals: true,
});
const conns = Number(values.connections);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const rate = Number(values.rate);
const node = process.execPath;
const candidates: Record<string, string[]> = {
  'C echo_epoll': [yardstick().echoEpoll, '{PORT}'],
  'plain node:net': [node, new URL('./plain-node-echo.ts', import.meta.url).pathname, '{PORT}'],
  [`c10k reactor (${values.backend})`]: c10kEcho([
    '--model',
    'reactor',
    '--backend',
    values.backend!,
    ...positionals,
  ]),
};
const results: Record<string, number[]> = {};
const rates: Record<string, number[]> = {};
// Below the ephemeral range (32768+ here), where a client's source port could already hold the number.
let port = 20000 + Math.floor(Math.random() * 10000);
for (let round = 1; round <= rounds; round++) {
  for (const [name, command] of Object.entries(candidates)) {
    const r = await cpuPerMessage(command, port++, conns, seconds, 64, rate);
    (results[name] ??= []).push(r.usPerMsg);
    (rates[name] ??= []).push(r.load.msgsPerSec);
    console.log(
      `round ${round} ${name}: ${r.usPerMsg.toFixed(3)} us/msg, ${r.load.msgsPerSec} msgs/s, p99 ${r.load.p99us} us, closed ${r.load.closed}`,
    );
  }
}
const [ref, plain, ours] = Object.keys(candidates).map((k) => median(results[k]));
const mode = rate > 0 ? `open loop at ${rate} msgs/s` : 'closed loop';
console.log(
  `\n${conns} connections, 64 B messages, ${mode}, median of ${rounds} rounds (server CPU per message):`,
);
console.log(`  C echo_epoll      ${ref.toFixed(3)} us/msg  1.00x`);
console.log(`  plain node:net    ${plain.toFixed(3)} us/msg  ${(plain / ref).toFixed(2)}x C`);
console.log(
  `  c10k (${values.backend})${' '.repeat(Math.max(1, 11 - values.backend!.length))}${ours.toFixed(3)} us/msg  ${(ours / ref).toFixed(2)}x C, ${(ours / plain).toFixed(2)}x node:net`,
);
