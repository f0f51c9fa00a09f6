// Nothing lost (issue 8, item 4): `c10k serve` under load gets SIGTERM (graceful stop) or SIGHUP (rolling
// reload). Clients send numbered lines continuously, 8 in flight each; the test keeps count of every line
// sent before and after the signal and checks each answer. SIGTERM: every line sent before the signal is
// answered, in order, and the process exits 0. SIGHUP: the old workers end their connections at a message
// boundary (FIN right after the last answer), the client reconnects and sends again what had no answer
// (it was not processed), so every line is answered exactly once; and no connection attempt during the
// reload (reconnects and a stream of fresh connections) is refused.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { exited, startServe } from '../helpers/cli.ts';
import { eventually, sleep } from '../helpers/client.ts';
import { freshConnections, Sequencer } from './sequencer.ts';

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

const TARGETS: { name: string; args: string[] }[] = [
  { name: 'reactor (syscall)', args: ['--model', 'reactor', '--backend', 'syscall'] },
  { name: 'reactor (node)', args: ['--model', 'reactor', '--backend', 'node'] },
  {
    name: 'multi-reactor (syscall, shared)',
    args: ['--model', 'multi-reactor', '--backend', 'syscall', '--workers', '2', '--balance', 'shared'],
  },
  {
    name: 'multi-reactor (node, reuseport)',
    args: ['--model', 'multi-reactor', '--backend', 'node', '--workers', '2', '--balance', 'reuseport'],
  },
];

const CLIENTS = 20;

describe('signals under load', { concurrency: false, timeout: 120_000 }, () => {
  for (const target of TARGETS) {
    test(`SIGTERM under load, ${target.name}: every line sent before the signal is answered, exit 0`, async (t) => {
      const { child, port } = await startServe([
        '--app',
        'line-echo',
        '--port',
        '0',
        '--drain-timeout',
        '5s',
        ...target.args,
      ]);
      children.push(child);
      const clients = Array.from({ length: CLIENTS }, (_, i) => new Sequencer(i, port, false));
      await Promise.all(clients.map((c) => c.start()));
      await sleep(300);
      for (const c of clients) c.markSignal();
      const signalled = Date.now();
      child.kill('SIGTERM');
      await sleep(200); // lines keep coming after the signal
      await Promise.all(clients.map((c) => c.finish()));
      const code = await exited(child);
      const before = clients.reduce((n, c) => n + c.sentBeforeSignal, 0);
      const sentAfter = clients.reduce((n, c) => n + c.sent - c.sentBeforeSignal, 0);
      const answeredAfter = clients.reduce((n, c) => n + c.answers.size - c.sentBeforeSignal, 0);
      t.diagnostic(
        `${before} lines sent before SIGTERM, all answered; ${sentAfter} after it, ${answeredAfter} answered; exit ${code} ${Date.now() - signalled} ms after the signal`,
      );
      for (const c of clients) {
        assert.deepEqual(c.failures, []);
        assert.ok(c.answeredOnce(c.sentBeforeSignal), `client ${c.id} lost a line sent before the signal`);
      }
      assert.equal(code, 0);
      for (const c of clients) c.close();
    });
  }

  for (const balance of ['shared', 'reuseport'] as const) {
    test(`SIGHUP under load, multi-reactor (syscall, ${balance}): every line answered exactly once, no connection refused`, async (t) => {
      const { child, port, stderr } = await startServe([
        '--app',
        'line-echo',
        '--port',
        '0',
        '--model',
        'multi-reactor',
        '--backend',
        'syscall',
        '--workers',
        '2',
        '--balance',
        balance,
      ]);
      children.push(child);
      const clients = Array.from({ length: CLIENTS }, (_, i) => new Sequencer(i, port, true));
      await Promise.all(clients.map((c) => c.start()));
      // And a stream of fresh connections, one line each.
      const stream = freshConnections(port, 4);
      await sleep(300);
      for (const c of clients) c.markSignal();
      child.kill('SIGHUP');
      await eventually(() => /reloaded 2 workers/.test(stderr()), 20_000, 'the reload to finish');
      await sleep(300);
      await stream.stop();
      await Promise.all(clients.map((c) => c.finish()));
      const sent = clients.reduce((n, c) => n + c.sent, 0);
      const before = clients.reduce((n, c) => n + c.sentBeforeSignal, 0);
      const reconnects = clients.reduce((n, c) => n + c.reconnects, 0);
      t.diagnostic(
        `${before} lines sent before SIGHUP, ${sent} in all, every one answered once; ${reconnects} reconnects after a worker's FIN; ${stream.opened()} fresh connections during the reload, ${stream.failures.length} refused`,
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
  }
});
