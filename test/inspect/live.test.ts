// Live test on loopback: a child holds a listener (backlog 5) that never accepts; the inspector must see
// the accept queue fill (3, then backlog + 1 = 6), the backlog (via sock_diag), the owner pid/fd, and
// ListenOverflows rise once the queue is full. Bounded by timeouts; everything is closed at the end.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../../src/cli/args.ts';
import { run } from '../../src/cli/inspect.ts';
import { inspect, type Snapshot } from '../../src/inspect/snapshot.ts';
import { type RawListener, startRawListener } from './raw-listener.ts';

let raw: RawListener;
const clients: net.Socket[] = [];

before(async () => {
  raw = await startRawListener(5);
});
after(async () => {
  for (const c of clients) c.destroy();
  await raw?.close();
});

function connect(n: number): void {
  for (let i = 0; i < n; i++) {
    const c = net.connect({ port: raw.port, host: '127.0.0.1' });
    c.on('error', () => {});
    clients.push(c);
  }
}

async function until(pred: (s: Snapshot) => boolean, opts: { netlink?: boolean } = {}): Promise<Snapshot> {
  const deadline = Date.now() + 15_000; // a deadline only: a loaded box makes each inspect() slow
  let s = await inspect({ port: raw.port, sockets: true, ...opts });
  while (!pred(s) && Date.now() < deadline) {
    await sleep(50);
    s = await inspect({ port: raw.port, sockets: true, ...opts });
  }
  return s;
}

test('accept queue, backlog, owner, then overflow', { timeout: 90_000 }, async () => {
  connect(3);
  const s = await until((x) => x.listeners[0]?.acceptQueue === 3);
  assert.equal(s.listeners.length, 1);
  const l = s.listeners[0];
  assert.equal(l.acceptQueue, 3);
  assert.equal(l.address, '127.0.0.1');
  assert.deepEqual(l.owners, [{ pid: raw.pid, fd: raw.fd }]);
  if (s.source === 'sock_diag') assert.equal(l.backlog, 5);
  assert.match(l.explain[0], /^accept queue 3(\/5)?: 3 clients finished the handshake/);
  assert.equal(s.states.ESTABLISHED, 3); // queued, not accepted: no inode, no owner
  assert.equal(s.sockets!.length, 3);
  assert.ok(s.sockets!.every((k) => k.owner === null && k.localPort === raw.port));
  const proc = s.processes.find((p) => p.pid === raw.pid)!;
  assert.equal(proc.role, 'listener');
  assert.equal(proc.listeners, 1);
  assert.ok(proc.fds! > 0 && proc.rss! > 0);

  // the /proc-only path sees the same queue but not the backlog
  const p = await until((x) => x.listeners[0]?.acceptQueue === 3, { netlink: false });
  assert.equal(p.source, 'procfs');
  assert.equal(p.listeners[0].acceptQueue, 3);
  assert.equal(p.listeners[0].backlog, null);
  assert.ok(p.missing.some((m) => m.includes('backlog')));

  // by pid: the same listener and its queued connections
  const byPid = await inspect({ pid: raw.pid });
  assert.equal(byPid.listeners[0]?.port, raw.port);
  assert.equal(byPid.connections, 3);

  // fill to backlog + 1 and overflow
  const before = s.counters.ListenOverflows;
  connect(5);
  const o = await until((x) => x.counters.ListenOverflows > before && x.listeners[0]?.acceptQueue === 6);
  assert.equal(o.listeners[0].acceptQueue, 6);
  assert.ok(o.counters.ListenOverflows > before, 'ListenOverflows rose');
  if (o.source === 'sock_diag') {
    assert.ok(o.listeners[0].drops! > 0);
    assert.ok(o.listeners[0].explain.some((e) => e.includes('full')));
  }
});

test('cli: arguments and JSON output', { timeout: 10_000 }, async () => {
  const err = process.stderr.write;
  const outw = process.stdout.write;
  let out = '';
  let errText = '';
  process.stderr.write = ((c: string) => {
    errText += c;
    return true;
  }) as typeof process.stderr.write;
  process.stdout.write = ((c: string) => {
    out += c;
    return true;
  }) as typeof process.stdout.write;
  try {
    // usage errors are thrown for bin/c10k.ts to print as one line with exit 2
    const usage = (args: string[], pattern: RegExp) =>
      assert.rejects(run(args), (e: Error) => e instanceof UsageError && pattern.test(e.message));
    await usage([], /^--port or --pid is required/);
    await usage(['--port', '0'], /^--port needs a whole number from 1 to 65535, got '0'$/);
    await usage(['--port', '80', '--web'], /^--web needs a value$/);
    await usage(
      ['--port', '80', '--web', '0.0.0.0:7070'],
      /--web 0\.0\.0\.0:7070 is not a loopback address: give --token T/,
    );
    await usage(
      ['--port', '80', '--status-url', 'nope'],
      /^--status-url needs an http:\/\/ URL, got 'nope'$/,
    );
    await usage(['--nope'], /^unknown option '--nope'$/);
    await usage(
      ['--port', '1', '--interval', '50ms'],
      /^--interval needs a duration .*at least 100ms, got '50ms'$/,
    );
    assert.equal(errText, '');
    assert.equal(await run(['--help']), 0);
    out = '';
    assert.equal(await run(['--port', String(raw.port), '--json']), 0);
    const snap = JSON.parse(out) as Snapshot;
    assert.equal(snap.port, raw.port);
    assert.equal(snap.listeners.length, 1);
    out = '';
    assert.equal(await run(['--port', String(raw.port), '--sockets']), 0);
    assert.match(out, /ACCEPT-Q/);
    assert.match(out, new RegExp(`127\\.0\\.0\\.1:${raw.port}`));
  } finally {
    process.stderr.write = err;
    process.stdout.write = outw;
  }
});
