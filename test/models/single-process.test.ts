// README: "`singleProcess: true` makes the multi-worker models refuse an app whose state lives in one
// process (as `kv` does)". Through the command line, as a user meets it: every model that would run more
// than one copy refuses with one line naming the app, the model and the way out, and serves nothing; the
// single-process models, and a multi-process model with --workers 1, serve it (one state for all).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exited, runCli, startServe } from '../helpers/cli.ts';
import { TestClient } from '../helpers/client.ts';

const COUNTER = new URL('./apps/single-counter.ts', import.meta.url).pathname;

const refusing: [string, string[], number][] = [
  ['prefork', ['--workers', '2'], 2],
  ['thread-pool', ['--workers', '3'], 3],
  ['multi-reactor', ['--workers', '2'], 2],
  ['process-per-connection', [], 2],
];

for (const [app, label] of [
  ['kv', 'kv'],
  [COUNTER, COUNTER],
]) {
  for (const [model, extra, copies] of refusing) {
    test(`${app === 'kv' ? 'kv' : 'a singleProcess module'} under ${model} ${extra.join(' ')}: refused with one line`, async () => {
      const r = await runCli(['serve', '--app', app, '--model', model, ...extra, '--port', '0'], 30_000);
      assert.notEqual(r.code, 0, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(
        lines[0],
        new RegExp(
          `app '${label.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' keeps its state in one process \\(singleProcess\\): ` +
            `model '${model}' would run it in ${copies} copies; use --model reactor or iterative, or --workers 1`,
        ),
      );
      assert.doesNotMatch(r.stderr + r.stdout, /serving/);
    });
  }
}

/** Two clients, one after the other, count on one counter: 1, 2, 3. */
async function oneState(port: number): Promise<void> {
  const a = await TestClient.open(port);
  a.write('x\nx\n');
  assert.equal((await a.waitFor(4)).toString(), '1\n2\n');
  a.close();
  const b = await TestClient.open(port);
  b.write('x\n');
  assert.equal((await b.waitFor(2)).toString(), '3\n');
  b.close();
}

for (const args of [
  ['--model', 'reactor'],
  ['--model', 'iterative'],
  ['--model', 'multi-reactor', '--workers', '1'],
  ['--model', 'prefork', '--workers', '1'],
]) {
  test(`a singleProcess app is served under ${args.join(' ')}, one state for every client`, async () => {
    const { child, port } = await startServe(['--app', COUNTER, ...args, '--port', '0'], 30_000);
    try {
      await oneState(port);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
  });
}
