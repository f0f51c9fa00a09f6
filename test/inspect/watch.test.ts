// `c10k inspect --watch` (README: "redraws every second"): run as a user runs it, against a listener that
// never accepts. The screen is cleared and redrawn on every refresh, and the frames follow the kernel
// (the accept queue goes from 0 to the clients that connected meanwhile) without re-running the command;
// Ctrl-C (SIGINT) ends it with exit code 0. `--watch --json` prints one object per refresh.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { BIN, NODE } from '../helpers/cli.ts';
import { type RawListener, startRawListener } from './raw-listener.ts';

const CLEAR = '\x1b[H\x1b[2J';
let raw: RawListener;
const clients: net.Socket[] = [];

before(async () => {
  raw = await startRawListener(16);
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

/** `c10k inspect ARGS`; `until(pred)` resolves once its output so far satisfies pred (or fails after 20 s). */
function inspectWatch(args: string[]) {
  const child = spawn(NODE, [BIN, 'inspect', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (d) => {
    out += d;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on('data', (d) => (err += d));
  const code = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return {
    child,
    code,
    output: () => out,
    until: (pred: (out: string) => boolean, what: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`inspect --watch never showed ${what}:\n${out}${err}`)),
          20_000,
        );
        const check = () => {
          if (pred(out)) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      }),
  };
}

test('inspect --watch redraws as the accept queue fills, and Ctrl-C ends it with 0', {
  timeout: 60_000,
}, async () => {
  const before = clients.length;
  const w = inspectWatch(['--port', String(raw.port), '--watch', '--interval', '200ms']);
  try {
    const frames = () => w.output().split(CLEAR).slice(1);
    await w.until((o) => o.split(CLEAR).length > 1 && /accept queue 0\b/.test(o), 'an empty accept queue');
    connect(4);
    await w.until((o) => /accept queue 4\b/.test(o.split(CLEAR).at(-1) ?? ''), 'the 4 queued clients');
    const seen = frames();
    assert.ok(seen.length >= 2, `${seen.length} frames`);
    assert.ok(w.output().startsWith(CLEAR), 'every frame starts by clearing the screen');
    assert.match(seen[0], /accept queue 0\b/);
    assert.match(seen.at(-1)!, /accept queue 4\b/);
    w.child.kill('SIGINT');
    assert.equal(await w.code, 0);
  } finally {
    w.child.kill('SIGKILL');
    for (const c of clients.splice(before)) c.destroy();
  }
});

test('inspect --watch --json prints one object per refresh that follows the kernel', {
  timeout: 60_000,
}, async () => {
  const w = inspectWatch(['--port', String(raw.port), '--watch', '--json', '--interval', '200ms']);
  const objects = () =>
    w
      .output()
      .split('\n')
      .filter((l) => l.endsWith('}'))
      .map((l) => JSON.parse(l) as { listeners: { acceptQueue: number }[] });
  const queue = (o: { listeners: { acceptQueue: number }[] }) => o.listeners[0]?.acceptQueue;
  try {
    // The first test's clients may still sit in the queue (closed, never accepted): count from here.
    await w.until(() => objects().length > 0, 'a first refresh');
    const first = queue(objects()[0]);
    connect(3);
    await w.until(() => objects().some((o) => queue(o) === first + 3), `${first} + 3 queued clients`);
    assert.ok(objects().length >= 2);
    assert.doesNotMatch(w.output(), /\x1b\[/, 'no screen control in JSON');
    w.child.kill('SIGINT');
    assert.equal(await w.code, 0);
  } finally {
    w.child.kill('SIGKILL');
  }
});
