// bench/pair.ts — an A/B of two echo servers' CPU per message that this shared machine's swings do not
// decide. Run one after the other, the same server measures several percent apart from one minute to the
// next (the C reference itself moves between about 7 and 12 us/msg here), which hides a change of a few
// percent. So A and B serve at the same time, both pinned to CPU 0, each under its own closed-loop C
// echo_load (both on CPU 1): whatever slows the machine slows both. Each round prints B's CPU per message
// over A's; the median of the rounds is the answer. Sharing a core, both run with colder caches than
// alone, so a difference in cache misses shows smaller here than in bench/reactor-ratio.ts.
//   node bench/pair.ts [--connections 1000] [--seconds 4] [--rounds 5] --a SERVER --b SERVER
// SERVER: `c10k` plus any `c10k serve` arguments (`c10k --read-batch 1`: the echo app on the default
// backend), `c` (the C echo_epoll), or any command with {PORT}.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { wholeNumber } from './lib/args.ts';
import {
  echoServerCommand,
  HZ,
  median,
  runEchoLoad,
  treeTicks,
  waitPort,
  yardstick,
} from './lib/yardstick.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '5' },
    a: { type: 'string' },
    b: { type: 'string' },
  },
});
if (!values.a || !values.b) {
  console.error(
    'usage: node bench/pair.ts --a SERVER --b SERVER  (SERVER: c10k [serve args] | c | CMD {PORT})',
  );
  process.exit(2);
}
const conns = wholeNumber('connections', values.connections);
const seconds = wholeNumber('seconds', values.seconds);
const rounds = wholeNumber('rounds', values.rounds);
yardstick(); // built before the first round

const load = (port: number, secs: number) => runEchoLoad(port, conns, secs);

/** One round: CPU per message of a and b, measured over the same seconds. */
async function round(port: number): Promise<[number, number]> {
  const servers = [echoServerCommand(values.a!), echoServerCommand(values.b!)].map((cmd, i) =>
    spawn('taskset', ['-c', '0', ...cmd.map((w) => w.replaceAll('{PORT}', String(port + i)))], {
      stdio: 'ignore',
      detached: true,
    }),
  );
  try {
    await Promise.all([waitPort(port), waitPort(port + 1)]);
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all([load(port, 1), load(port + 1, 1)]); // warm-up
    const t0 = servers.map((s) => treeTicks(s.pid!));
    const results = await Promise.all([load(port, seconds), load(port + 1, seconds)]);
    const t1 = servers.map((s) => treeTicks(s.pid!));
    const us = results.map((r, i) => {
      if (!(r.msgs > 0)) throw new Error(`no messages echoed by server ${i === 0 ? 'a' : 'b'}`);
      return (((t1[i]! - t0[i]!) / HZ) * 1e6) / r.msgs;
    });
    return [us[0]!, us[1]!];
  } finally {
    for (const s of servers) {
      try {
        process.kill(-s.pid!, 'SIGKILL');
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Below the ephemeral range (32768+ here), where a client's source port could already hold the number.
let port = 20000 + Math.floor(Math.random() * 10000);
const ratios: number[] = [];
console.log(`a: ${values.a}\nb: ${values.b}\n${conns} connections each, 64 B messages, ${seconds} s a round`);
for (let r = 1; r <= rounds; r++, port += 2) {
  const [a, b] = await round(port);
  ratios.push(b / a);
  console.log(`round ${r}: a ${a.toFixed(3)} us/msg  b ${b.toFixed(3)} us/msg  b/a ${(b / a).toFixed(3)}`);
}
console.log(
  `b/a = ${median(ratios).toFixed(3)} (median of ${rounds} rounds; b costs ${Math.abs((median(ratios) - 1) * 100).toFixed(1)}% ${median(ratios) >= 1 ? 'more' : 'less'} CPU per message)`,
);
