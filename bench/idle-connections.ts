// Memory and CPU per idle connection: start a c10k server in a child process, open N idle connections
// with the yardstick's C `hold` (several holder processes: each may open at most ~19,900), then read the
// server's RSS growth per connection and the CPU it uses while they sit idle.
//   node bench/idle-connections.ts [--connections 19000] [--backend syscall|node] [--idle-seconds 5] [-- serve args]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { treeRss, treeTicks, waitPort, yardstick } from './lib/yardstick.ts';

const { values, positionals } = parseArgs({
  options: {
    connections: { type: 'string', default: '19000' },
    backend: { type: 'string', default: 'syscall' },
    'idle-seconds': { type: 'string', default: '5' },
    port: { type: 'string', default: String(21000 + Math.floor(Math.random() * 5000)) },
  },
  allowPositionals: true,
});
const total = Number(values.connections);
const port = Number(values.port);
const idleSeconds = Number(values['idle-seconds']);
const HZ = 100;
const bin = new URL('../bin/c10k.ts', import.meta.url).pathname;
const serverArgs = [
  'serve',
  '--app',
  'echo',
  '--port',
  String(port),
  '--backend',
  values.backend!,
  '--log-level',
  'warn',
];
const server = spawn(process.execPath, [bin, ...serverArgs, ...positionals], { stdio: 'inherit' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  await waitPort(port);
  await sleep(1000);
  const baseline = treeRss(server.pid!);
  const perHolder = 18_000;
  const holders = [];
  for (let left = total; left > 0; left -= perHolder) {
    const n = Math.min(perHolder, left);
    const child = spawn(yardstick().hold, [String(port), String(n), String(idleSeconds + 60), '8'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    holders.push(
      new Promise<number>((resolve) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          const m = /held=(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
      }).then((held) => ({ child, held })),
    );
  }
  const held = await Promise.all(holders);
  const connected = held.reduce((a, h) => a + h.held, 0);
  await sleep(2000); // let the server accept the last ones and settle
  // Right after a burst of accepts the heap still holds its garbage until V8's next full GC, which may
  // come on its own a few seconds later: the memory figure is read at the end of the idle period, and
  // the reading at its start is printed beside it.
  const early = treeRss(server.pid!);
  const t0 = treeTicks(server.pid!);
  await sleep(idleSeconds * 1000);
  const t1 = treeTicks(server.pid!);
  const loaded = treeRss(server.pid!);
  const cpuPercent = ((t1 - t0) / HZ / idleSeconds) * 100;
  console.log(`backend ${values.backend}: ${connected} idle connections`);
  console.log(
    `  server RSS ${(baseline / 2 ** 20).toFixed(1)} MiB -> ${(loaded / 2 ** 20).toFixed(1)} MiB: ${((loaded - baseline) / connected).toFixed(0)} bytes per connection after ${idleSeconds} s idle (${((early - baseline) / connected).toFixed(0)} at its start)`,
  );
  console.log(`  server CPU while idle: ${cpuPercent.toFixed(2)}% of one core over ${idleSeconds} s`);
  for (const h of held) h.child.kill();
} finally {
  server.kill('SIGKILL');
}
