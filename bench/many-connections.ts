// Many concurrent connections from one box: a multi-reactor server in several processes (one process may
// hold at most ~19,900 descriptors here) and `c10k load` spreading its connections over source addresses
// and processes. Prints what was established, every byte verified, peak server memory and memory per
// connection (RSS growth of all server processes over their idle baseline).
//   node bench/many-connections.ts [--connections 100000] [--workers 6] [--duration 10s] [--backend syscall]
//     [--model multi-reactor|multi-proactor]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { treeUsage } from '../src/report/process-tree.ts';
import { freePort, startServer, stopGroup } from '../src/report/server-process.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '100000' },
    workers: { type: 'string', default: '6' },
    duration: { type: 'string', default: '10s' },
    backend: { type: 'string', default: 'syscall' },
    model: { type: 'string', default: 'multi-reactor' },
  },
});
if (values.model !== 'multi-reactor' && values.model !== 'multi-proactor') {
  console.error(`--model is multi-reactor or multi-proactor, not '${values.model}'`);
  process.exit(2);
}
const port = await freePort();
const server = await startServer(
  ['--model', values.model!, '--workers', values.workers!, '--backend', values.backend!],
  port,
);
if (typeof server === 'string') throw new Error(server);
const bin = new URL('../bin/c10k.ts', import.meta.url).pathname;
try {
  const baseline = treeUsage(server.pid!).rssBytes;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, treeUsage(server.pid!).rssBytes)), 1000);
  const load = spawn(
    process.execPath,
    [
      bin,
      'load',
      '--port',
      String(port),
      '--connections',
      values.connections!,
      '--duration',
      values.duration!,
      '--json',
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  load.stdout.on('data', (d) => (out += d));
  const code = await new Promise((resolve) => load.on('close', resolve));
  clearInterval(sampler);
  const j = JSON.parse(out);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  console.log(
    `c10k load exit ${code}: ${j.connections.established} of ${j.connections.requested} established (failed ${JSON.stringify(j.connections.failed)}), connect phase ${(j.connections.connectPhaseMs / 1000).toFixed(1)} s`,
  );
  console.log(
    `traffic: ${j.msgsPerSec} msgs/s, p99 ${j.latencyUs.p99} us, ${j.bytesVerified} bytes verified, ${j.mismatches} mismatches`,
  );
  console.log(
    `server (${values.workers} workers + supervisor): RSS ${mib(baseline)} idle -> peak ${mib(peak)}: ${Math.round((peak - baseline) / Math.max(1, j.connections.established))} bytes per connection`,
  );
} finally {
  await stopGroup(server, 5000);
}
