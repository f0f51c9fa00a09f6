import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exited, runCli, startServe } from '../helpers/cli.ts';
import { TestClient } from '../helpers/client.ts';

test('c10k --help and serve --help exit 0 and describe the options', async () => {
  const top = await runCli(['--help']);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /serve/);
  const serve = await runCli(['serve', '--help']);
  assert.equal(serve.code, 0);
  assert.match(serve.stdout, /--model/);
  assert.match(serve.stdout, /--backlog N/);
  assert.match(serve.stdout, /--exit-grace T/);
  assert.match(serve.stdout, /--restart-delay T/);
  assert.match(serve.stdout, /--read-batch N/);
});

test('bad arguments: one line naming the problem, non-zero exit', async () => {
  const cases: [string[], RegExp][] = [
    [['serve', '--app', 'echo', '--model', 'nope'], /--model needs one of .*got 'nope'/],
    [['serve', '--app', 'nope'], /--app needs a built-in app .*got 'nope'/],
    [['serve', '--app', 'echo', '--port', 'x'], /--port needs a whole number/],
    [['serve', '--app', 'echo', '--frobnicate'], /unknown option '--frobnicate'/],
    [['serve'], /--app is required/],
    [['serve', '--app', 'echo', '--idle-timeout', 'soon'], /--idle-timeout needs a duration/],
    [['serve', '--app', 'echo', '--exit-grace', 'later'], /--exit-grace needs a duration/],
    [
      ['serve', '--app', 'echo', '--read-batch', '0'],
      /--read-batch needs a whole number from 1 to 1024, got '0'/,
    ],
    [
      ['serve', '--app', 'echo', '--model', 'prefork', '--restart-delay', '2s', '--restart-delay-max', '1s'],
      /--restart-delay-max needs a duration >= --restart-delay \(2000ms\), got '1s'/,
    ],
    [
      ['serve', '--app', new URL('../../package.json', import.meta.url).pathname],
      /failed to load|no default export/,
    ],
    [['frob'], /unknown verb 'frob'/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(args);
    assert.notEqual(r.code, 0, `${args.join(' ')} exited 0`);
    assert.match(r.stderr, pattern, args.join(' '));
    assert.equal(
      r.stderr.trim().split('\n').length,
      1,
      `more than one line for ${args.join(' ')}: ${r.stderr}`,
    );
  }
});

test('a module without a default app is refused with its name', async () => {
  const r = await runCli(['serve', '--app', new URL('../helpers/client.ts', import.meta.url).pathname]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has no default export made with defineApp/);
});

for (const backend of ['syscall', 'node']) {
  test(`port in use (${backend} backend): a clear error`, async () => {
    const first = await startServe(['--app', 'echo', '--port', '0', '--backend', backend]);
    try {
      const r = await runCli(['serve', '--app', 'echo', '--port', String(first.port), '--backend', backend]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`port ${first.port} is already in use`));
    } finally {
      first.child.kill('SIGTERM');
      await exited(first.child);
    }
  });

  test(`SIGTERM (${backend} backend): the server answers what is in flight, closes and exits 0`, async () => {
    const { child, port } = await startServe(['--app', 'echo', '--port', '0', '--backend', backend]);
    const client = await TestClient.open(port);
    client.write('in flight');
    await client.waitFor(9);
    child.kill('SIGTERM');
    await client.waitEnded(5000);
    assert.equal(client.data().toString(), 'in flight');
    assert.equal(await exited(child), 0);
  });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // Ctrl-C in a terminal, or a service manager stopping a control group: every process gets the signal.
  test(`${signal} to the whole process group stops a multi-process server cleanly: exit 0, no error logged`, async () => {
    const { child, port, stderr } = await startServe(
      ['--app', 'echo', '--port', '0', '--model', 'multi-reactor', '--workers', '3', '--balance', 'shared'],
      15_000,
      true,
    );
    const client = await TestClient.open(port);
    client.write('hello');
    await client.waitFor(5);
    process.kill(-child.pid!, signal);
    assert.equal(await exited(child), 0);
    client.close();
    assert.doesNotMatch(stderr(), / error: /, stderr());
  });
}
