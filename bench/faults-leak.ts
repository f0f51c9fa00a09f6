// Leaks, at volume (issue 8, item 6): open and close 1,000,000 connections in waves against a reactor in
// its own process and compare its RSS, V8 heap (after a full GC) and descriptor count before and after.
// usage: node bench/faults-leak.ts [total=1000000] [waves=20] [fleets=4] [backends=syscall,node]
// Each connection: connect (from one of 64 loopback sources 127.40.g.x), send a line, read the echo,
// close (FIN and RST in turn). A first wave of total/waves warms up what is built once (caches, pools,
// JIT); the baseline is taken after it. Prints each wave (rate, the server's RSS and fds) and a verdict:
// RSS and heap within 10% of the baseline, no descriptor left. Before and after are measured after V8's
// memory-reducing GC (see test/faults/server-child.ts); the per-wave RSS is as it runs, without one: it
// climbs to V8's heap high-water mark within a few waves, then stays flat.
import { fdCount, MiB, rssBytes, runWaves, startFleet, startServerChild } from '../test/faults/helpers.ts';

const total = Number(process.argv[2] ?? 1_000_000);
const waves = Number(process.argv[3] ?? 20);
const fleetCount = Number(process.argv[4] ?? 4);
const backends = (process.argv[5] ?? 'syscall,node').split(',') as ('syscall' | 'node')[];
const perWave = Math.ceil(total / waves);
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
const pct = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)}%`;

const verdicts: Record<string, unknown>[] = [];
for (const backend of backends) {
  console.log(
    `\n${backend}: ${total.toLocaleString()} connections in ${waves} waves of ${perWave.toLocaleString()}, ${fleetCount} client processes`,
  );
  const server = await startServerChild({ app: 'echo', backend, port: 0 }, { gc: true });
  const fleets = Array.from({ length: fleetCount }, startFleet);
  try {
    const cold = await server.probe(true);
    await runWaves(server, fleets, 1, perWave, 100);
    const waitIdle = async () => {
      for (let i = 0; i < 200 && (await server.probe()).stats.active > 0; i++)
        await new Promise((r) => setTimeout(r, 50));
    };
    await waitIdle();
    const base = await server.probe(true);
    const show = (p: typeof base) =>
      `RSS ${mib(p.rss)}, heap ${mib(p.heapUsed)} used of ${mib(p.heapTotal)}, external ${mib(p.external)}, fds ${p.fds}`;
    console.log(`  cold: ${show(cold)}`);
    console.log(`  after the warm-up wave (baseline): ${show(base)}`);
    const started = Date.now();
    const result = await runWaves(server, fleets, waves, perWave, 100, (w, done, failed, ms) => {
      console.log(
        `  wave ${String(w + 1).padStart(2)}: ${done} done, ${failed} failed, ${ms} ms (${Math.round(done / (ms / 1000))}/s); server RSS ${mib(rssBytes(server.pid))}, fds ${fdCount(server.pid)}`,
      );
    });
    const seconds = (Date.now() - started) / 1000;
    await waitIdle();
    const end = await server.probe(true);
    console.log(`  after all waves, after a full GC: ${show(end)}`);
    const verdict = {
      backend,
      connections: result.done,
      failed: result.failed,
      'conn/s': Math.round(result.done / seconds),
      'RSS before': mib(base.rss),
      'RSS after': mib(end.rss),
      'RSS change': pct(base.rss, end.rss),
      'heap before': mib(base.heapUsed),
      'heap after': mib(end.heapUsed),
      'heap change': pct(base.heapUsed, end.heapUsed),
      'fds before': base.fds,
      'fds after': end.fds,
      ok:
        result.failed === 0 &&
        end.fds === base.fds &&
        Math.abs(end.rss - base.rss) <= 0.1 * base.rss &&
        Math.abs(end.heapUsed - base.heapUsed) <= 0.1 * base.heapUsed,
    };
    if (result.failed > 0) console.log(`  failures: ${JSON.stringify(result.errors)}`);
    console.log(`  closes: ${JSON.stringify(end.stats.closed)}`);
    verdicts.push(verdict);
  } finally {
    for (const f of fleets) f.kill();
    await server.close();
  }
}
console.table(verdicts);
process.exitCode = verdicts.every((v) => v.ok) ? 0 : 1;
