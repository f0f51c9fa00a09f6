// ws-chat: the chat rooms over WebSocket. Real peers: headless Chromium opens the page served at / (two
// pages in one room) and talks with another page, with a raw TCP line member and with Node's built-in
// WebSocket client; without Chromium those last two still run (the browser case skips with the reason).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { createChat } from '../../src/apps/chat.ts';
import { memoryLogger, type ServerHandle, serve } from '../../src/index.ts';
import { browserUnavailable, launchBrowser } from '../helpers/browser.ts';
import { eventually, TestClient } from '../helpers/client.ts';
import { freePort, missing } from '../peers/helpers.ts';
import { LineClient } from './line-client.ts';

const servers: ServerHandle[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function start(options: Partial<Parameters<typeof serve>[0]> = {}): Promise<ServerHandle> {
  // its own instance each in this process (a chat app serves once per process); workers load 'ws-chat'
  const server = await serve({
    app: createChat({ web: true }).app,
    port: 0,
    logger: memoryLogger(),
    ...options,
  });
  servers.push(server);
  return server;
}

/** A Node WebSocket member: every text message kept in order. */
class WsMember {
  readonly ws: WebSocket;
  readonly lines: string[] = [];
  private wake: (() => void) | null = null;
  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.onmessage = (e) => {
      this.lines.push(String(e.data));
      this.wake?.();
    };
  }
  static open(port: number): Promise<WsMember> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const m = new WsMember(ws);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(m);
      ws.onerror = () => reject(new Error('websocket error'));
    });
  }
  send(text: string): void {
    this.ws.send(text);
  }
  async waitFor(match: RegExp, timeoutMs = 20_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find((l) => match.test(l));
      if (found !== undefined) return found;
      if (Date.now() > until) throw new Error(`no line ${match} in ${JSON.stringify(this.lines)}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  }
}

/** A line member that speaks first (on the web port the welcome follows its first line). */
async function lineMember(port: number, nick: string, room: string): Promise<LineClient> {
  const c = await LineClient.open(port);
  c.send(`/nick ${nick}`);
  await c.next(/^\* welcome/);
  await c.next(/^\* you are now/);
  c.send(`/join ${room}`);
  await c.next(/^\* you joined/);
  return c;
}

test('ws-chat: the page at /, 404 elsewhere', async () => {
  const server = await start();
  const page = await fetch(`http://127.0.0.1:${server.port}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await page.text(), /new WebSocket/);
  assert.equal((await fetch(`http://127.0.0.1:${server.port}/nope`)).status, 404);
});

test('ws-chat: a WebSocket member and a raw TCP line member in one room hear each other', async () => {
  const server = await start();
  const w = await WsMember.open(server.port);
  await w.waitFor(/^\* welcome, guest\d+/);
  w.send('/nick wendy');
  w.send('/join lobby');
  await w.waitFor(/^\* you joined #lobby$/);
  const t = await lineMember(server.port, 'tom', 'lobby');
  await w.waitFor(/^\* tom joined #lobby$/);
  t.send('hello from tcp');
  assert.equal(await w.waitFor(/^<tom>/), '<tom> hello from tcp');
  w.send('hello from ws, é');
  assert.equal(await t.next(/^<wendy>/), '<wendy> hello from ws, é');
  const closed = new Promise<number>((resolve) => {
    w.ws.onclose = (e) => resolve(e.code);
  });
  w.send('/quit');
  assert.equal(await closed, 1000);
  assert.equal(await t.next(/^\* wendy left/), '* wendy left #lobby');
  t.socket.destroy();
});

test('ws-chat in Chromium: two pages and a raw TCP member talk in one room', async (t) => {
  const why = browserUnavailable();
  if (why) {
    t.skip(why);
    return;
  }
  const server = await start();
  const browser = await launchBrowser();
  try {
    const base = `http://127.0.0.1:${server.port}/`;
    const alice = await browser.newPage();
    const bob = await browser.newPage();
    await alice.goto(`${base}?room=lobby&nick=alice`);
    await bob.goto(`${base}?room=lobby&nick=bob`);
    // page-side conditions are strings: this file is type-checked without the DOM library
    const sees = (page: typeof alice, text: string) =>
      page.waitForFunction(
        `[...document.querySelectorAll('#log div')].some((d) => d.textContent === ${JSON.stringify(text)})`,
        null,
        { timeout: 20_000 },
      );
    await sees(alice, '* you joined #lobby');
    await sees(bob, '* you joined #lobby');
    const say = async (page: typeof alice, text: string) => {
      await page.fill('#input', text);
      await page.press('#input', 'Enter');
    };
    await say(alice, 'hi bob, from chromium');
    await sees(bob, '<alice> hi bob, from chromium');
    await say(bob, 'hi alice ✓');
    await sees(alice, '<bob> hi alice ✓');

    const tcp = await lineMember(server.port, 'carol', 'lobby');
    await sees(alice, '* carol joined #lobby');
    tcp.send('carol over raw tcp');
    await sees(alice, '<carol> carol over raw tcp');
    await sees(bob, '<carol> carol over raw tcp');
    await say(alice, 'and back to tcp');
    assert.equal(await tcp.next(/^<alice>/), '<alice> and back to tcp');
    tcp.socket.destroy();

    const stats = await server.stats();
    assert.equal(stats.closed['protocol-error'] ?? 0, 0);
  } finally {
    await browser.close();
  }
});

test('ws-chat: an oversize WebSocket message (past 4 KiB) closes that member with 1009, the room goes on', async () => {
  const server = await start();
  const a = await WsMember.open(server.port);
  const b = await WsMember.open(server.port);
  for (const m of [a, b]) m.send('/join big');
  await b.waitFor(/^\* you joined #big$/);
  const code = new Promise<number>((resolve) => {
    a.ws.onclose = (e) => resolve(e.code);
  });
  a.send('x'.repeat(4097));
  assert.equal(await code, 1009);
  const c = await TestClient.open(server.port);
  c.close();
  b.send('/who');
  await b.waitFor(/^\* in #big on this worker: guest\d+$/);
  b.ws.close();
});

test('ws-chat on a multi-reactor: WebSocket members on different workers hear each other', async () => {
  const server = await start({ app: 'ws-chat', model: 'multi-reactor', workers: 2 });
  const byPid = new Map<number, WsMember>();
  const extra: WsMember[] = [];
  for (let i = 0; i < 40 && byPid.size < 2; i++) {
    const m = await WsMember.open(server.port);
    m.send('/join lobby');
    await m.waitFor(/^\* you joined #lobby$/);
    m.send('/whoami');
    const pid = Number((await m.waitFor(/^\* nick=/)).split('pid=')[1]);
    if (byPid.has(pid)) extra.push(m);
    else byPid.set(pid, m);
  }
  assert.equal(byPid.size, 2, 'no two members landed on different workers');
  const [a, b] = [...byPid.values()];
  a.send('across workers');
  assert.match(await b.waitFor(/across workers/), /^<guest\d+> across workers$/);
  for (const m of [...byPid.values(), ...extra]) m.ws.close();
});

const noRedis = missing('redis-server', 'redis-server');

async function startRedis(): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  await eventually(
    async () => {
      try {
        await LineClient.open(port).then((c) => c.close());
        return true;
      } catch {
        return false;
      }
    },
    10_000,
    'redis-server up',
  );
  return { port, proc };
}

test('a ws-chat server and a line chat server on one Redis share rooms', { skip: noRedis }, async () => {
  const redis = await startRedis();
  try {
    const bus = `redis://127.0.0.1:${redis.port}`;
    const web = await start({ bus });
    const lines = await serve({ app: 'chat', port: 0, logger: memoryLogger(), bus });
    servers.push(lines);
    const w = await WsMember.open(web.port);
    w.send('/nick wes');
    w.send('/join world');
    await w.waitFor(/^\* you joined #world$/);
    const l = await LineClient.open(lines.port);
    await l.next(/^\* welcome/);
    l.send('/join world');
    await l.next(/^\* you joined/);
    // a subscription reaches redis a moment after /join: say it until it is heard
    let heard = false;
    for (let i = 0; i < 50 && !heard; i++) {
      w.send(`ping ${i}`);
      heard = await l.next(/^<wes> ping/, 100).then(
        () => true,
        () => false,
      );
    }
    assert.ok(heard, 'the line server never heard the ws-chat server');
    l.send('hello over redis');
    await w.waitFor(/^<guest\d+> hello over redis$/);
    w.ws.close();
    l.socket.destroy();
  } finally {
    redis.proc.kill('SIGKILL');
  }
});
