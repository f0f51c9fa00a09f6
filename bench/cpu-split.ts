// bench/cpu-split.ts — where a server's CPU per echoed message goes: user space (our JavaScript, V8, Node)
// or the kernel. ratio and pair.ts give utime + stime together; on loopback the kernel's share (both ends'
// TCP, run on the server's core) is ~95% and swings by ±10% from one minute to the next, which hides a
// difference of a few percent in the user share. Each server is measured as ratio does it (a fresh
// server on CPU 0, 0.5 s, a 1 s warm-up with its own connections, then a closed-loop echo_load run on
// CPU 1 with new connections), in turn, round after round; each line prints user and system µs a message.
//   node bench/cpu-split.ts [--connections 10000] [--seconds 5] [--rounds 3] SERVER...
// SERVER: `c10k` plus `c10k serve` arguments (`c10k --model proactor`), `c` (the C echo_epoll), or a
// command with {PORT} (quoted as one argument).
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { wholeNumber } from './lib/args.ts';
import {
  echoServerCommand,
  HZ,
  median,
  runEchoLoad,
  treeTimes,
  waitPort,
  yardstick,
} from './lib/yardstick.ts';

const { values, positionals } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
  },
  allowPositionals: true,
});
if (positionals.length === 0) {
  console.error('usage: node bench/cpu-split.ts [--connections N] [--seconds S] [--rounds R] SERVER...');
  process.exit(2);
}
const conns = wholeNumber('connections', values.connections);
const seconds = wholeNumber('seconds', values.seconds);
const rounds = wholeNumber('rounds', values.rounds);
yardstick(); // built before the first round

const load = (port: number, secs: number) => runEchoLoad(port, conns, secs);

async function measure(spec: string, port: number): Promise<{ user: number; sys: number }> {
  const cmd = echoServerCommand(spec).map((w) => w.replaceAll('{PORT}', String(port)));
  const server = spawn('taskset', ['-c', '0', ...cmd], { stdio: 'ignore', detached: true });
  try {
    await waitPort(port);
    await new Promise((r) => setTimeout(r, 500));
    await load(port, 1);
    const t0 = treeTimes(server.pid!);
    const result = await load(port, seconds);
    const t1 = treeTimes(server.pid!);
    if (!(result.msgs > 0)) throw new Error(`no messages echoed by ${spec}`);
    const us = (ticks: number) => ((ticks / HZ) * 1e6) / result.msgs;
    return { user: us(t1.user - t0.user), sys: us(t1.sys - t0.sys) };
  } finally {
    try {
      process.kill(-server.pid!, 'SIGKILL');
    } catch {}
  }
}

const base = 20000 + Math.floor(Math.random() * 10000);
const results = positionals.map(() => ({ user: [] as number[], sys: [] as number[] }));
console.log(`${conns} connections, 64 B messages, ${seconds} s a run, µs of server CPU a message`);
for (let r = 0; r < rounds; r++) {
  for (const [i, spec] of positionals.entries()) {
    const { user, sys } = await measure(spec, base + r * positionals.length + i);
    results[i]!.user.push(user);
    results[i]!.sys.push(sys);
    console.log(`round ${r + 1}: user ${user.toFixed(3)} sys ${sys.toFixed(3)}  ${spec}`);
  }
}
for (const [i, spec] of positionals.entries()) {
  const { user, sys } = results[i]!;
  console.log(`median: user ${median(user)!.toFixed(3)} sys ${median(sys)!.toFixed(3)}  ${spec}`);
}
