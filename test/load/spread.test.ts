// README, load: "Past 10,000 connections it spreads them over source addresses 127.0.0.2…, past one
// process's open-files limit over several processes, and merges their HDR histograms." Two real runs of
// `c10k load` as a user starts it: 10,001 held connections, which a server sees arrive from 127.0.0.2 and
// 127.0.0.3 and never from 127.0.0.1; and 2,500 echo connections under `ulimit -n 1024`, which one
// process cannot hold, spread over processes with every connection established and every byte verified.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { serve } from '../../src/index.ts';
import { BIN, NODE } from '../helpers/cli.ts';

/** The parts of `c10k load --json` read here. */
interface Report {
  processes: number;
  sources: string[];
  connections: { established: number; failed: { total: number } };
  messages: number;
  mismatches: number;
  latencyUs: { count: number };
  connectTimeUs: { count: number };
}

/** `sh -c 'ulimit ...; exec c10k load ARGS --json'`: exit code and the parsed report. */
function load(
  args: string[],
  shellPrefix = '',
): Promise<{ code: number | null; json: Report; stderr: string }> {
  const quoted = [NODE, BIN, 'load', ...args, '--json'].map((a) => `'${a}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `${shellPrefix}exec ${quoted}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`c10k load ${args.join(' ')} did not finish in 120 s: ${err}`));
    }, 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve({ code, json: JSON.parse(out), stderr: err });
      } catch {
        reject(new Error(`no JSON report (exit ${code}): ${err}${out.slice(0, 500)}`));
      }
    });
  });
}

test('past 10,000 connections, c10k load comes from 127.0.0.2 and 127.0.0.3', {
  timeout: 180_000,
}, async () => {
  const from = new Map<string, number>();
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    const a = s.remoteAddress ?? '?';
    from.set(a, (from.get(a) ?? 0) + 1);
    sockets.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const r = await load(['--port', String(port), '--connections', '10001', '--hold', '--duration', '300ms']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json.sources, ['127.0.0.2', '127.0.0.3']);
    assert.equal(r.json.connections.established, 10_001);
    assert.equal(r.json.connections.failed.total, 0);
    assert.deepEqual([...from.keys()].sort(), ['127.0.0.2', '127.0.0.3']);
    assert.equal(from.get('127.0.0.2')! + from.get('127.0.0.3')!, 10_001);
    for (const n of from.values()) assert.ok(n >= 4000, `uneven spread: ${JSON.stringify([...from])}`);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test('past its open-files limit (ulimit -n 1024), c10k load spreads 2,500 connections over processes', {
  timeout: 180_000,
}, async () => {
  const echo = await serve({ app: 'echo', port: 0 });
  try {
    const r = await load(
      ['--port', String(echo.port), '--connections', '2500', '--duration', '500ms'],
      'ulimit -n 1024 && ',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      r.json.processes >= 3,
      `${r.json.processes} processes for 2,500 connections at 1,024 files each`,
    );
    assert.equal(r.json.connections.established, 2500);
    assert.equal(r.json.connections.failed.total, 0, JSON.stringify(r.json.connections));
    assert.equal(r.json.mismatches, 0);
    assert.ok(r.json.messages > 0);
    // Merged histograms: one latency per message, from every process.
    assert.equal(r.json.latencyUs.count, r.json.messages);
    assert.equal(r.json.connectTimeUs.count, 2500);
  } finally {
    await echo.close();
  }
});
