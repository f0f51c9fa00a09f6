// How long does one inspector refresh take with many connections? Opens N loopback connections (server
// and client sides spread over child processes, since one process may open only 20,000 fds; clients
// bind 127.0.0.x source addresses so ephemeral ports do not run out), then times inspect({port}), the
// sock_diag dump alone, and raw /proc/net/tcp parses (full, port-filtered, count-only).
// --hold S keeps the connections open S seconds afterwards (to run `c10k inspect` or `ss` against them).
// Usage: node bench/inspect-refresh.ts [--connections 20000] [--rounds 5] [--hold 0]
import { type ChildProcess, fork } from 'node:child_process';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { sockDiagDump } from '../src/inspect/netlink-socket.ts';
import { readProcNetTcp } from '../src/inspect/proc-net-tcp.ts';
import { inspect } from '../src/inspect/snapshot.ts';

const PER_SERVER = 7000;
const PER_CLIENT = 14000;

async function serverChild(port: number): Promise<void> {
  const socks = new Set<net.Socket>();
  const server = net.createServer((s) => {
    socks.add(s);
    s.on('error', () => {});
  });
  server.listen({ port, host: '127.0.0.1', reusePort: true, backlog: 4096 }, () =>
    process.send!({ port: (server.address() as net.AddressInfo).port }),
  );
  process.on('disconnect', () => process.exit(0));
}

async function clientChild(port: number, n: number, src: string): Promise<void> {
  const socks: net.Socket[] = [];
  let failed = 0;
  const batch = 256;
  for (let i = 0; i < n; i += batch) {
    const wave: Promise<void>[] = [];
    for (let j = i; j < Math.min(n, i + batch); j++) {
      wave.push(
        new Promise<void>((resolve) => {
          const s = net.connect({ port, host: '127.0.0.1', localAddress: src }, () => resolve());
          s.on('error', () => {
            failed++;
            resolve();
          });
          socks.push(s);
        }),
      );
    }
    await Promise.all(wave);
  }
  process.send!({ opened: n - failed, failed });
  process.on('disconnect', () => process.exit(0));
}

function message<T>(c: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    c.once('message', (m) => resolve(m as T));
    c.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
}

function time(label: string, rounds: number, fn: () => unknown): Promise<number> {
  return (async () => {
    const ms: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      await fn();
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    const med = ms[Math.floor(ms.length / 2)];
    console.log(
      `${label.padEnd(52)} median ${med.toFixed(1).padStart(7)} ms   min ${ms[0].toFixed(1)}   max ${ms.at(-1)!.toFixed(1)}`,
    );
    return med;
  })();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '20000' },
      rounds: { type: 'string', default: '5' },
      hold: { type: 'string', default: '0' },
    },
    strict: true,
  });
  const n = Number(values.connections);
  const rounds = Number(values.rounds);
  const self = new URL(import.meta.url).pathname;
  const children: ChildProcess[] = [];
  try {
    const first = fork(self, ['server', '0']);
    children.push(first);
    const { port } = await message<{ port: number }>(first);
    for (let i = 1; i < Math.ceil(n / PER_SERVER); i++) {
      const c = fork(self, ['server', String(port)]);
      children.push(c);
      await message(c);
    }
    const t0 = performance.now();
    const waits: Promise<{ opened: number; failed: number }>[] = [];
    for (let i = 0, left = n; left > 0; i++, left -= PER_CLIENT) {
      const c = fork(self, ['client', String(port), String(Math.min(PER_CLIENT, left)), `127.0.0.${2 + i}`]);
      children.push(c);
      waits.push(message(c));
    }
    const res = await Promise.all(waits);
    const opened = res.reduce((a, r) => a + r.opened, 0);
    const failed = res.reduce((a, r) => a + r.failed, 0);
    console.log(
      `${opened} connections open (${failed} failed) in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        `${children.length} child processes; port ${port}`,
    );
    const all = readProcNetTcp({ countOnly: true });
    console.log(`/proc/net/tcp{,6} rows: ${all.total}\n`);

    await time('raw /proc/net/tcp parse, full rows', rounds, () => readProcNetTcp());
    await time('raw /proc/net/tcp parse, port filter', rounds, () => readProcNetTcp({ port }));
    await time('raw /proc/net/tcp parse, count only', rounds, () => readProcNetTcp({ countOnly: true }));
    await time('sock_diag dump, port filter', rounds, () =>
      sockDiagDump([
        { family: 4, port },
        { family: 6, port },
      ]),
    );
    await time('inspect({port}) first refresh (scan all processes)', rounds, () =>
      inspect({ port, fullScan: true }),
    );
    await time('inspect({port}) next refresh (known owners)', rounds, () => inspect({ port }));
    await time('inspect({port}) /proc only', rounds, () => inspect({ port, netlink: false }));
    await time('inspect({port, sockets: true})', rounds, () => inspect({ port, sockets: true }));
    const s = await inspect({ port });
    console.log(
      `\nsnapshot: ${s.listeners.length} listeners, ${s.connections} connections, ` +
        `${s.processes.length} processes, source ${s.source}`,
    );
    for (const p of s.processes) {
      console.log(
        `  pid ${p.pid} ${p.role}: ${p.connections} conns, fds ${p.fds}, ` +
          `process memory/conn ${p.processMemoryPerConnection?.toFixed(0)} B`,
      );
    }
    if (Number(values.hold) > 0) {
      console.log(`holding ${opened} connections on port ${port} for ${values.hold} s`);
      await new Promise((resolve) => setTimeout(resolve, Number(values.hold) * 1000));
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
}

const [role, a, b, c] = process.argv.slice(2);
if (role === 'server') await serverChild(Number(a));
else if (role === 'client') await clientChild(Number(a), Number(b), c);
else await main();
