// c10k serve and the address it is given: a host name works on both backends (resolved first, as
// node:net does), a second multi-reactor on a busy port fails as every other model does instead of
// joining the first one's SO_REUSEPORT group, a second Ctrl-C stops at once, SIGQUIT is left to its default.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BIN, exited, NODE, runCli, startServe } from '../helpers/cli.ts';
import { TestClient } from '../helpers/client.ts';

function alive(pid: string): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

async function stop(child: Awaited<ReturnType<typeof startServe>>['child']): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await exited(child);
}

for (const backend of ['syscall', 'node']) {
  test(`--host localhost (${backend} backend): serves on the address the name resolves to`, async () => {
    for (const model of ['reactor', 'multi-reactor']) {
      const s = await startServe([
        '--app',
        'echo',
        '--port',
        '0',
        '--host',
        'localhost',
        '--backend',
        backend,
        '--model',
        model,
        '--workers',
        '2',
      ]);
      try {
        assert.match(s.stderr(), / on (127\.0\.0\.1|::1):\d+/, s.stderr());
        const host = /on (127\.0\.0\.1|::1):/.exec(s.stderr())![1];
        const client = await TestClient.open(s.port, host);
        client.write('named');
        await client.waitFor(5);
        assert.equal(client.data().toString(), 'named');
        client.close();
      } finally {
        await stop(s.child);
      }
    }
  });

  test(`two multi-reactor servers on one port (${backend} backend): the second fails with "port in use", exit 1`, async () => {
    const first = await startServe([
      '--app',
      'echo',
      '--port',
      '0',
      '--backend',
      backend,
      '--model',
      'multi-reactor',
      '--workers',
      '2',
    ]);
    try {
      for (const model of ['multi-reactor', 'reactor']) {
        const r = await runCli([
          'serve',
          '--app',
          'echo',
          '--port',
          String(first.port),
          '--backend',
          backend,
          '--model',
          model,
          '--workers',
          '2',
        ]);
        assert.equal(r.code, 1, `${model}: ${r.stderr}`);
        assert.equal(r.stderr, `c10k serve: port ${first.port} is already in use on 127.0.0.1\n`);
      }
      // and the first still serves
      const client = await TestClient.open(first.port);
      client.write('still here');
      await client.waitFor(10);
      client.close();
    } finally {
      await stop(first.child);
    }
  });
}

test('a name that does not resolve is a usage error, in the same words for serve and load', async () => {
  for (const [verb, args] of [
    ['serve', ['--app', 'echo']],
    ['load', ['-p', '7000']],
  ] as const) {
    const r = await runCli([verb, ...args, '--host', 'no-such-host.invalid']);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `c10k ${verb}: --host needs an address or a name that resolves, got 'no-such-host.invalid' (see 'c10k ${verb} --help')\n`,
    );
  }
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`a second ${signal} during the drain stops at once: exit 128 + signal, workers gone`, async () => {
    for (const model of ['reactor', 'multi-reactor']) {
      const s = await startServe(
        ['--app', 'line-echo', '--port', '0', '--model', model, '--workers', '2', '--drain-timeout', '60s'],
        15_000,
      );
      const client = await TestClient.open(s.port);
      try {
        // a connection in the middle of a message keeps the drain waiting
        client.write('half a line');
        await new Promise((r) => setTimeout(r, 200));
        const pid = s.child.pid!;
        const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean);
        assert.equal(children.length, model === 'reactor' ? 0 : 2, `${model}: children ${children}`);
        s.child.kill(signal);
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(s.child.exitCode, null, `${model}: the first ${signal} must drain, not exit`);
        s.child.kill(signal);
        assert.equal(await exited(s.child), signal === 'SIGINT' ? 130 : 143, s.stderr());
        for (let i = 0; i < 40 && children.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(children.filter(alive), [], `${model}: workers still running`);
        assert.match(s.stderr(), new RegExp(`${signal} again: stopping now`));
        await client.waitEnded(5000);
      } finally {
        client.close();
        await stop(s.child);
      }
    }
  });
}

test('SIGQUIT is not handled: its default action ends the server at once (as the README says)', async () => {
  // no core file: the default action of SIGQUIT dumps one where ulimit -c allows
  const child = spawn(
    'sh',
    ['-c', 'ulimit -c 0 && exec "$0" "$@"', NODE, BIN, 'serve', '--app', 'echo', '--port', '0'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/serving/.test(stderr)) resolve();
    });
    child.on('exit', () => reject(new Error(`serve exited: ${stderr}`)));
  });
  child.kill('SIGQUIT');
  await exited(child);
  assert.equal(child.signalCode, 'SIGQUIT');
  assert.doesNotMatch(stderr, /stopping/);
});
