// bench/ws-idle.ts — server memory per idle WebSocket connection: c10k's ws-echo and a plain `ws` 8 echo
// server (bench/plain-ws-echo.ts), one after the other in the same run. Each server starts alone; its
// resident memory is read once it is up, then again once N upgraded connections (bench/c/ws_load.c in its
// hold mode: every connection upgrades, then sits idle) are open and the server has settled; the growth
// divided by N is the figure.
//   node bench/ws-idle.ts [--connections 19000] [--settle-seconds 3] [-- extra c10k serve args]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { treeRss, waitPort } from './lib/yardstick.ts';

const { values, positionals } = parseArgs({
  options: {
    connections: { type: 'string', default: '19000' },
    'settle-seconds': { type: 'string', default: '3' },
  },
  allowPositionals: true,
});
const total = Number(values.connections);
const settle = Number(values['settle-seconds']);
if (!Number.isInteger(total) || total < 1 || !(settle >= 0)) {
  console.error('usage: node bench/ws-idle.ts [--connections N >= 1] [--settle-seconds S] [-- serve args]');
  process.exit(2);
}
let load: string;
try {
  load = join(mkdtempSync(join(tmpdir(), 'c10k-ws-load-')), 'ws_load');
  execFileSync('cc', ['-O2', '-o', load, new URL('./c/ws_load.c', import.meta.url).pathname], {
    stdio: 'pipe',
  });
} catch (error) {
  console.error(`bench/ws-idle.ts needs cc to build its load (${(error as Error).message.split('\n')[0]})`);
  process.exit(1);
}
const bin = new URL('../bin/c10k.ts', import.meta.url).pathname;
const plainWs = new URL('./plain-ws-echo.ts', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 2 ** 20;

async function measure(name: string, argv: (port: number) => string[]): Promise<number> {
  const port = 20000 + Math.floor(Math.random() * 10000);
  const server = spawn(process.execPath, argv(port), { stdio: ['ignore', 'ignore', 'inherit'] });
  let holder: ReturnType<typeof spawn> | null = null;
  try {
    await waitPort(port);
    await sleep(1000);
    const baseline = treeRss(server.pid!);
    holder = spawn(load, [String(port), String(total), '0', '600'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const held = await new Promise<number>((resolve, reject) => {
      let out = '';
      holder!.stdout!.on('data', (d) => {
        out += d;
        const m = /held=(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      holder!.on('exit', () => reject(new Error(`ws_load exited: ${out}`)));
    });
    await sleep(settle * 1000);
    const loaded = treeRss(server.pid!);
    const per = (loaded - baseline) / held;
    console.log(
      `${name.padEnd(32)} ${held.toLocaleString('en-US')} idle WebSockets: RSS ${(baseline / MiB).toFixed(1)} -> ${(loaded / MiB).toFixed(1)} MiB, ${Math.round(per).toLocaleString('en-US')} bytes per connection`,
    );
    return per;
  } finally {
    holder?.kill('SIGKILL');
    server.kill('SIGKILL');
    await sleep(500);
  }
}

const c10k = await measure('c10k ws-echo', (port) => [
  bin,
  'serve',
  '--app',
  'ws-echo',
  '--port',
  String(port),
  '--log-level',
  'warn',
  ...positionals,
]);
const ws = await measure('ws 8 (plain echo server)', (port) => [plainWs, String(port)]);
console.log(`c10k uses ${(ws / c10k).toFixed(1)}x less memory per idle WebSocket than ws`);
