// c10k inspect from the command line: durations with units, and a port or pid with nothing there said
// so with exit 1 (as `ss` users would otherwise stare at an empty table).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';

const server = createServer();
let port = 0;
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
after(() => new Promise((resolve) => server.close(resolve)));

test('a port with nothing on it: one line saying so, exit 1', async () => {
  // a privileged port nothing here serves: an ephemeral one just freed can still carry TIME_WAIT sockets
  // of other tests (bind(0) may hand those out), which inspect rightly shows
  const free = 2;
  for (const extra of [[], ['--json'], ['--watch']]) {
    const r = await runCli(['inspect', '--port', String(free), ...extra]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `c10k inspect: nothing listens on port ${free} and no socket uses it\n`);
    assert.equal(r.stdout, '');
  }
});

test('a pid with no process: one line saying so, exit 1', async () => {
  const r = await runCli(['inspect', '--pid', '999999999']);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, 'c10k inspect: no process with pid 999999999\n');
});

test('a port with a listener: the report, exit 0; --interval takes units', async () => {
  for (const interval of ['2s', '500ms', '1']) {
    const r = await runCli(['inspect', '-p', String(port), '--interval', interval]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`c10k inspect port ${port}`));
    assert.match(r.stdout, new RegExp(`127\\.0\\.0\\.1:${port}`));
  }
  const pid = await runCli(['inspect', '--pid', String(process.pid), '--json']);
  assert.equal(pid.code, 0, pid.stderr);
  assert.equal(JSON.parse(pid.stdout).pid, process.pid);
});

test('--interval below 100ms or without a number is a usage error', async () => {
  for (const interval of ['20ms', '0', 'often', '2x']) {
    const r = await runCli(['inspect', '--port', String(port), '--interval', interval]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `c10k inspect: --interval needs a duration like 500ms, 10s or 2m, at least 100ms, got '${interval}' (see 'c10k inspect --help')\n`,
    );
  }
  const both = await runCli(['inspect']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /^c10k inspect: --port or --pid is required/);
});
