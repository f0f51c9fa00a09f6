// A bench stopped by a signal (Ctrl-C, or a test runner's timeout) stops the server it started: the
// server runs in a process group of its own, which the signal to the bench does not reach.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { test } from 'node:test';
import { exited } from '../helpers/cli.ts';
import { eventually } from '../helpers/client.ts';

const NODE = process.execPath;
const BIN = new URL('../../bin/c10k.ts', import.meta.url).pathname;

function childrenOf(pid: number): { pid: number; args: string }[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => ({ pid: Number(m[1]), args: m[2] }));
  } catch {
    return []; // ps exits 1 when nothing matches
  }
}

function groupMembers(pgid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((p) => p > 0);
  } catch {
    return [];
  }
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`bench --ladder stopped by ${signal} while holding: its server and workers are gone`, async () => {
    const bench = spawn(
      NODE,
      [BIN, 'bench', '--ladder', '--connections', '300', '--hold', '60s', '--out', '/tmp'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    bench.stderr.on('data', (d) => (stderr += d));
    try {
      await eventually(() => /holding idle/.test(stderr), 60_000, 'the rung to hold its connections');
      const server = childrenOf(bench.pid!).find((c) => / serve /.test(c.args));
      assert.ok(server, `the bench's server among its children: ${JSON.stringify(childrenOf(bench.pid!))}`);
      assert.ok(groupMembers(server.pid).length >= 2, 'the server and its worker, in their own group');
      bench.kill(signal);
      const code = await exited(bench);
      assert.equal(code, signal === 'SIGTERM' ? 143 : 130, stderr);
      await eventually(() => groupMembers(server.pid).length === 0, 5000, 'the server group to be gone');
    } finally {
      if (bench.exitCode === null) bench.kill('SIGKILL');
    }
  });
}
