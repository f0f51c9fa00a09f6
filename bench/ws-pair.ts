// bench/ws-pair.ts — an A/B of two WebSocket echo servers under the load of bench/ws-echo-vs-ws.ts: to
// judge a change to c10k's ws-echo path without `ws` in the picture, or to put c10k and `ws` beside the
// floor (a WebSocket echo in C that does nothing but one read and one write per message). Both serve at
// the same time, pinned to CPU 0, each under its own closed-loop C ws_load on CPU 1 (as in
// ws-echo-vs-ws.ts), and each round prints B's CPU per message over A's; the median is the answer.
// SERVER: the path of a c10k checkout's bin/c10k.ts followed by any `serve` arguments (default: this
// checkout's), e.g. --a '/work/main/bin/c10k.ts' --b 'bin/c10k.ts --read-batch 8'; or `c`, the floor:
// bench/c/ws_echo.c, one epoll loop in C with one read and one write per message; or `ws`, the plain
// `ws` echo server of bench/ws-echo-vs-ws.ts (bench/plain-ws-echo.ts).
//   node bench/ws-pair.ts [--connections 10000] [--seconds 4] [--rounds 5] [--size 64] [--a SERVER] [--b SERVER]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { wholeNumber } from './lib/args.ts';
import { HZ, median, treeTimes, waitPort } from './lib/yardstick.ts';

const here = new URL('../bin/c10k.ts', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '5' },
    size: { type: 'string', default: '64' },
    a: { type: 'string', default: here },
    b: { type: 'string', default: here },
  },
});
const conns = wholeNumber('connections', values.connections);
const seconds = wholeNumber('seconds', values.seconds);
const rounds = wholeNumber('rounds', values.rounds);
const size = wholeNumber('size', values.size);
const dir = mkdtempSync(join(tmpdir(), 'c10k-ws-pair-'));
const build = (name: string) => {
  const out = join(dir, name);
  execFileSync('cc', ['-O2', '-o', out, new URL(`./c/${name}.c`, import.meta.url).pathname]);
  return out;
};
const load = build('ws_load');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const base = 20000 + Math.floor(Math.random() * 10000);
const servers = [values.a, values.b].map((spec, i) => {
  const [bin, ...args] = spec.split(/\s+/).filter(Boolean);
  const port = base + 2 * i;
  const name = i === 0 ? 'a' : 'b';
  if (bin === 'c') {
    const file = join(dir, `counts-${name}`);
    return { name, port, status: file, argv: [build('ws_echo'), String(port), file], node: false };
  }
  if (bin === 'ws') {
    const argv = [new URL('./plain-ws-echo.ts', import.meta.url).pathname, String(port), String(port + 1)];
    return { name, port, node: true, status: `http://127.0.0.1:${port + 1}/`, argv };
  }
  return {
    name,
    port,
    node: true,
    status: `http://127.0.0.1:${port + 1}/status`,
    argv: [bin!, 'serve', '--app', 'ws-echo', '--port', String(port), '--log-level', 'warn']
      .concat(['--status', `127.0.0.1:${port + 1}`])
      .concat(args),
  };
});
async function counts(url: string): Promise<{ messages: number; active: number }> {
  if (!url.startsWith('http')) {
    // the C floor's counters (see bench/c/ws_echo.c)
    try {
      const b = readFileSync(url);
      return { messages: Number(b.readBigInt64LE(0)), active: Number(b.readBigInt64LE(8)) };
    } catch {
      return { messages: 0, active: 0 };
    }
  }
  const j = (await (await fetch(url)).json()) as {
    totals?: { messagesIn: number; active: number };
    messagesIn?: number;
    active?: number;
  };
  const t = j.totals ?? { messagesIn: j.messagesIn!, active: j.active! };
  return { messages: t.messagesIn, active: t.active };
}
const children = servers.map((s) =>
  spawn('taskset', ['-c', '0', ...(s.node ? [process.execPath] : []), ...s.argv], {
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  }),
);
const loads: ReturnType<typeof spawn>[] = [];
try {
  await Promise.all(servers.map((s) => waitPort(s.port)));
  await sleep(500);
  // the loads outlast the connect wait (up to 60 s) and every window; the finally below stops them
  const duration = rounds * seconds + 120;
  for (const s of servers)
    loads.push(
      spawn('taskset', ['-c', '1', load, String(s.port), String(conns), String(size), String(duration)], {
        stdio: ['ignore', 'ignore', 'inherit'],
        detached: true,
      }),
    );
  const started = Date.now();
  while (!(await Promise.all(servers.map((s) => counts(s.status)))).every((c) => c.active >= conns)) {
    if (Date.now() - started > 60_000) throw new Error('connections did not all open');
    await sleep(250);
  }
  await sleep(2000);
  console.log(`${conns} connections each, ${size}-byte messages; a: ${values.a}; b: ${values.b}`);
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const m0 = await Promise.all(servers.map((s) => counts(s.status)));
    const t0 = children.map((c) => treeTimes(c.pid!));
    const w0 = performance.now();
    await sleep(seconds * 1000);
    const m1 = await Promise.all(servers.map((s) => counts(s.status)));
    const t1 = children.map((c) => treeTimes(c.pid!));
    const wall = (performance.now() - w0) / 1000;
    servers.forEach((s, i) => {
      if (m1[i]!.active < conns || m1[i]!.messages <= m0[i]!.messages)
        throw new Error(
          `round ${round}: ${s.name} held ${m1[i]!.active} of ${conns} connections and echoed ${m1[i]!.messages - m0[i]!.messages} messages: a load ended or dropped connections`,
        );
    });
    const us = servers.map((_, i) => {
      const cpu = (t1[i]!.user - t0[i]!.user + t1[i]!.sys - t0[i]!.sys) / HZ;
      const user = (t1[i]!.user - t0[i]!.user) / HZ;
      const msgs = m1[i]!.messages - m0[i]!.messages;
      return { per: (cpu * 1e6) / msgs, user: (user * 1e6) / msgs, rate: msgs / wall, cpu: cpu / wall };
    });
    ratios.push(us[1]!.per / us[0]!.per);
    console.log(
      `round ${round}: ${us
        .map(
          (u, i) =>
            `${servers[i]!.name} ${u.per.toFixed(2)} us/msg (user ${u.user.toFixed(2)}) ${Math.round(u.rate)} msgs/s CPU ${Math.round(u.cpu * 100)}%`,
        )
        .join('; ')}; b/a ${ratios.at(-1)!.toFixed(3)}`,
    );
  }
  console.log(
    `b/a CPU per message: ${median(ratios).toFixed(3)} (median of ${rounds}; ${ratios.map((r) => r.toFixed(3)).join(', ')})`,
  );
} finally {
  for (const p of [...loads, ...children]) {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}
