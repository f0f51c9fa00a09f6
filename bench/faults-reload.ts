// Nothing lost, at volume (issue 8, item 4): `c10k serve --model multi-reactor` reloaded again and again
// (SIGHUP) under load, then stopped (SIGTERM). 20 clients send numbered lines continuously (8 in flight,
// reconnecting on a retiring worker's FIN and sending again what had no answer), and 4 loops open fresh
// connections one after another. Counts every line and every connection attempt; a line must be answered
// exactly once, no attempt refused.
// usage: node bench/faults-reload.ts [reloads=20] [targets=syscall/shared,syscall/reuseport,node/shared,node/reuseport]

import { freshConnections, Sequencer } from '../test/faults/sequencer.ts';
import { exited, startServe } from '../test/helpers/cli.ts';

const reloads = Number(process.argv[2] ?? 20);
const targets = (process.argv[3] ?? 'syscall/shared,syscall/reuseport,node/shared,node/reuseport').split(',');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rows: Record<string, unknown>[] = [];

for (const target of targets) {
  const [backend, balance] = target.split('/');
  const started = Date.now();
  const { child, port, stderr } = await startServe([
    '--app',
    'line-echo',
    '--port',
    '0',
    '--model',
    'multi-reactor',
    '--backend',
    backend,
    '--workers',
    '2',
    '--balance',
    balance,
  ]);
  const clients = Array.from({ length: 20 }, (_, i) => new Sequencer(i, port, true));
  await Promise.all(clients.map((c) => c.start()));
  const stream = freshConnections(port, 4);
  for (let r = 1; r <= reloads; r++) {
    child.kill('SIGHUP');
    while (stderr().split('reloaded 2 workers').length - 1 < r) await sleep(20);
  }
  await sleep(300);
  await stream.stop();
  await Promise.all(clients.map((c) => c.finish()));
  const lines = clients.reduce((n, c) => n + c.sent, 0);
  const exact = clients.every((c) => c.answeredOnce(c.sent));
  const failures = clients.flatMap((c) => c.failures);
  for (const c of clients) c.close();
  child.kill('SIGTERM');
  const code = await exited(child);
  const row = {
    target,
    reloads,
    seconds: Number(((Date.now() - started) / 1000).toFixed(1)),
    lines,
    'answered once': exact,
    reconnects: clients.reduce((n, c) => n + c.reconnects, 0),
    'fresh connections': stream.opened(),
    refused: stream.failures.length + failures.length,
    exit: code,
  };
  console.log(JSON.stringify(row), stream.failures.slice(0, 3), failures.slice(0, 3));
  rows.push(row);
}
console.table(rows);
process.exitCode = rows.every((r) => r['answered once'] && r.refused === 0 && r.exit === 0) ? 0 : 1;
