// The proactor under `c10k serve` signals, as test/faults/signals.test.ts checks the reactors: SIGTERM
// under load answers every line sent before the signal and exits 0 (proactor and multi-proactor); SIGHUP
// reloads multi-proactor's workers with every line answered exactly once and no connection refused.
// Skipped, with the reason, without io_uring.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { ioUringSupport, syscallBackendAvailable } from '../../src/sys/index.ts';
import { exited, startServe } from '../helpers/cli.ts';
import { eventually, sleep } from '../helpers/client.ts';
import { freshConnections, Sequencer } from './sequencer.ts';

const support = syscallBackendAvailable() ? ioUringSupport() : { ok: false, reason: 'no syscall backend' };
const skip = support.ok ? false : `io_uring unavailable: ${support.reason}`;

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

const CLIENTS = 20;

describe('proactor signals under load', { concurrency: false, timeout: 120_000, skip }, () => {
  for (const args of [
    ['--model', 'proactor'],
    ['--model', 'multi-proactor', '--workers', '2', '--balance', 'shared'],
  ]) {
    test(`SIGTERM under load, ${args.join(' ')}: every line sent before the signal is answered, exit 0`, async (t) => {
      const { child, port } = await startServe([
        '--app',
        'line-echo',
        '--port',
        '0',
        '--drain-timeout',
        '5s',
        ...args,
      ]);
      children.push(child);
      const clients = Array.from({ length: CLIENTS }, (_, i) => new Sequencer(i, port, false));
      await Promise.all(clients.map((c) => c.start()));
      await sleep(300);
      for (const c of clients) c.markSignal();
      child.kill('SIGTERM');
      await sleep(200);
      await Promise.all(clients.map((c) => c.finish()));
      const code = await exited(child);
      const before = clients.reduce((n, c) => n + c.sentBeforeSignal, 0);
      t.diagnostic(`${before} lines sent before SIGTERM, all answered; exit ${code}`);
      for (const c of clients) {
        assert.deepEqual(c.failures, []);
        assert.ok(c.answeredOnce(c.sentBeforeSignal), `client ${c.id} lost a line sent before the signal`);
      }
      assert.equal(code, 0);
      for (const c of clients) c.close();
    });
  }

  test('SIGHUP under load, multi-proactor (reuseport): every line answered exactly once, no connection refused', async (t) => {
    const { child, port, stderr } = await startServe([
      '--app',
      'line-echo',
      '--port',
      '0',
      '--model',
      'multi-proactor',
      '--workers',
      '2',
      '--balance',
      'reuseport',
    ]);
    children.push(child);
    const clients = Array.from({ length: CLIENTS }, (_, i) => new Sequencer(i, port, true));
    await Promise.all(clients.map((c) => c.start()));
    const stream = freshConnections(port, 4);
    await sleep(300);
    for (const c of clients) c.markSignal();
    child.kill('SIGHUP');
    await eventually(() => /reloaded 2 workers/.test(stderr()), 20_000, 'the reload to finish');
    await sleep(300);
    await stream.stop();
    await Promise.all(clients.map((c) => c.finish()));
    const sent = clients.reduce((n, c) => n + c.sent, 0);
    const reconnects = clients.reduce((n, c) => n + c.reconnects, 0);
    t.diagnostic(
      `${sent} lines, every one answered once; ${reconnects} reconnects; ${stream.opened()} fresh connections during the reload, ${stream.failures.length} refused`,
    );
    for (const c of clients) {
      assert.deepEqual(c.failures, []);
      assert.ok(c.answeredOnce(c.sent), `client ${c.id}: a line unanswered or answered twice`);
    }
    assert.deepEqual(stream.failures, []);
    assert.ok(stream.opened() > 0, 'no fresh connection was made during the reload');
    assert.ok(reconnects >= CLIENTS, 'the old workers did not hand their clients over');
    for (const c of clients) c.close();
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0);
  });
});
