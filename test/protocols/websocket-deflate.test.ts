// permessage-deflate (RFC 7692): negotiation from the client's offers, compressed messages in (whole,
// fragmented, split at every point, with and without the client's context), refusals with their close
// codes, compressed messages out, and real peers: the `ws` client (context takeover, as browsers) and
// Node's built-in WebSocket against a running server on both backends, and Chromium.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { constants, createDeflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';
import { WebSocket } from 'ws';
import { defineApp, memoryLogger, serve } from '../../src/index.ts';
import {
  OP_BINARY,
  OP_CONTINUATION,
  OP_PING,
  OP_TEXT,
  type WebSocketOptions,
  type WsMessage,
  websocket,
} from '../../src/protocols/websocket.ts';
import { DeflateSession, inflate, negotiateDeflate } from '../../src/protocols/websocket-deflate.ts';
import { browserUnavailable, launchBrowser } from '../helpers/browser.ts';
import { FakePeer, maskedFrame as m, run, splits, upgradeRequest } from './ws-harness.ts';

const RSV1 = 4; // maskedFrame's rsv argument: bit 0x40 of the first byte
const ON: WebSocketOptions = { perMessageDeflate: true };
const OFFER = 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n';

/** One message compressed on its own, its 00 00 ff ff tail stripped (what a client sends). */
function squeeze(payload: string | Buffer): Buffer {
  const out = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** Messages compressed as one stream (the client keeps its context): each one's bytes, tail stripped. */
async function stream(messages: string[]): Promise<Buffer[]> {
  const d = createDeflateRaw();
  const out: Buffer[] = [];
  for (const msg of messages) {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    d.on('data', onData);
    d.write(msg);
    await new Promise<void>((r) => d.flush(constants.Z_SYNC_FLUSH, () => r()));
    d.off('data', onData);
    const all = Buffer.concat(chunks);
    out.push(all.subarray(0, all.length - 4));
  }
  d.close();
  return out;
}

const text = (o: { messages: { data: Buffer }[] }) => o.messages.map((x) => x.data.toString());

describe('permessage-deflate: negotiation', () => {
  test('the first valid offer is taken; server_no_context_takeover always, the rest echoed', () => {
    assert.equal(
      negotiateDeflate(['permessage-deflate'])?.response,
      'permessage-deflate; server_no_context_takeover',
    );
    const r = negotiateDeflate([
      'x-webkit-deflate-frame, permessage-deflate; client_max_window_bits; client_no_context_takeover',
    ]);
    assert.equal(r?.response, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    assert.equal(r?.session.clientNoTakeover, true);
    const bits = negotiateDeflate([
      'permessage-deflate; server_max_window_bits="10"; client_max_window_bits=12',
    ]);
    assert.equal(bits?.response, 'permessage-deflate; server_no_context_takeover; server_max_window_bits=10');
    assert.equal(bits?.session.serverBits, 10);
  });

  test('invalid offers are declined, and a later valid one is taken', () => {
    for (const bad of [
      'permessage-deflate; server_max_window_bits', // a value is required
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=8', // zlib cannot keep to it: declined
      'permessage-deflate; client_max_window_bits=7',
      'permessage-deflate; client_no_context_takeover=1',
      'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
      'permessage-deflate; mystery',
      'permessage-deflate;',
    ]) {
      assert.equal(negotiateDeflate([bad]), null, bad);
      assert.equal(
        negotiateDeflate([`${bad}, permessage-deflate; client_no_context_takeover`])?.response,
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
        bad,
      );
    }
    assert.equal(negotiateDeflate(['x-other']), null);
  });

  test('the 101 names the extension only when enabled and offered', () => {
    const on = run([upgradeRequest(OFFER)], ON).peer.writes[0]!.toString();
    assert.match(on, /\r\nsec-websocket-extensions: permessage-deflate; server_no_context_takeover\r\n/);
    const off = run([upgradeRequest(OFFER)]).peer.writes[0]!.toString();
    assert.doesNotMatch(off, /extensions/i);
    assert.doesNotMatch(run([upgradeRequest()], ON).peer.writes[0]!.toString(), /extensions/i);
  });
});

describe('permessage-deflate: compressed messages in', () => {
  test('a whole compressed text and binary message, at every split', () => {
    const big = 'hello, compressed world '.repeat(40);
    const bin = Buffer.alloc(700, 0x5a);
    const input = Buffer.concat([
      upgradeRequest(OFFER),
      m(OP_TEXT, squeeze(big), true, undefined, RSV1),
      m(OP_BINARY, squeeze(bin), true, undefined, RSV1),
      m(OP_TEXT, 'plain'),
    ]);
    for (const chunks of splits(input)) {
      const o = run(chunks, ON);
      assert.equal(o.error, undefined);
      assert.deepEqual(text(o), [big, bin.toString(), 'plain']);
      assert.deepEqual(
        o.messages.map((x) => x.binary),
        [false, true, false],
      );
    }
  });

  test('a fragmented compressed message: RSV1 on its first frame only', () => {
    const z = squeeze('fragmented and compressed ✓ '.repeat(10));
    const a = Math.floor(z.length / 3);
    const input = Buffer.concat([
      upgradeRequest(OFFER),
      m(OP_TEXT, z.subarray(0, a), false, undefined, RSV1),
      m(OP_PING, 'between'),
      m(OP_CONTINUATION, z.subarray(a, 2 * a), false),
      m(OP_CONTINUATION, z.subarray(2 * a), true),
    ]);
    for (const chunks of splits(input)) {
      const o = run(chunks, ON);
      assert.equal(o.error, undefined);
      assert.deepEqual(text(o), ['fragmented and compressed ✓ '.repeat(10)]);
    }
  });

  test("the client's context: a message that refers back to the last one (its window is kept)", async () => {
    const msgs = [
      'the quick brown fox jumps over the lazy dog',
      'the quick brown fox jumps over the lazy dog!',
    ];
    const [z1, z2] = await stream(msgs);
    assert.equal(inflateOrNull(z2!), null, 'the second message needs the first as its history');
    const input = Buffer.concat([
      upgradeRequest(OFFER),
      m(OP_TEXT, z1!, true, undefined, RSV1),
      m(OP_TEXT, z2!, true, undefined, RSV1),
    ]);
    for (const chunks of splits(input)) assert.deepEqual(text(run(chunks, ON)), msgs);
  });

  test("the client's window slides in one buffer of its own: every size, across 32 KiB, no buffer per message", async () => {
    // Messages that refer back (shared words, numbers that repeat), of sizes below, across and past the
    // 32 KiB window, so the window moves every way: kept whole, partly, replaced.
    const sizes = [40, 3000, 20_000, 40_000, 9000, 1, 32_768, 32_767, 500];
    const msgs: string[] = [];
    for (let i = 0; i < 60; i++) {
      let s = '';
      for (let k = 0; s.length < sizes[i % sizes.length]!; k++)
        s += `{"u":${(i * 31 + k) % 97},"t":"msg ${k % 13}"} `;
      msgs.push(s.slice(0, sizes[i % sizes.length]));
    }
    const zs = await stream(msgs);
    const session = new DeflateSession(false, 0);
    const buffers = new Set<Buffer>();
    zs.forEach((z, i) => {
      const out = inflate(session, z, 1 << 20);
      assert.ok(Buffer.isBuffer(out), `message ${i}: ${String(out)}`);
      assert.equal(out.toString(), msgs[i], `message ${i}`);
      buffers.add(session.window!);
    });
    assert.equal(session.windowLength, 1 << 15);
    assert.ok(buffers.size <= 6, `${buffers.size} window buffers for ${msgs.length} messages`);
    assert.equal(session.window!.length, 1 << 15, 'at most 32 KiB');
  });

  test('a short history keeps a small window buffer', async () => {
    const msgs = ['hello there, hello again', 'hello there, hello again and again'];
    const session = new DeflateSession(false, 0);
    for (const [i, z] of (await stream(msgs)).entries())
      assert.equal(String(inflate(session, z, 1 << 20)), msgs[i]);
    assert.equal(session.windowLength, msgs[0]!.length + msgs[1]!.length);
    assert.ok(session.window!.length <= 1024, `${session.window!.length} bytes held for a 58-byte history`);
  });

  test('refusals: RSV1 without the extension, on a continuation or a control frame, RSV2; bad data; too big', () => {
    const z = squeeze('x'.repeat(200));
    const cases: [string, Buffer[], number, WebSocketOptions][] = [
      ['not negotiated (no offer)', [upgradeRequest(), m(OP_TEXT, z, true, undefined, RSV1)], 1002, ON],
      ['not enabled', [upgradeRequest(OFFER), m(OP_TEXT, z, true, undefined, RSV1)], 1002, {}],
      [
        'RSV1 on a continuation',
        [
          upgradeRequest(OFFER),
          m(OP_TEXT, z, false, undefined, RSV1),
          m(OP_CONTINUATION, 'x', true, undefined, RSV1),
        ],
        1002,
        ON,
      ],
      ['RSV1 on a ping', [upgradeRequest(OFFER), m(OP_PING, 'p', true, undefined, RSV1)], 1002, ON],
      ['RSV2', [upgradeRequest(OFFER), m(OP_TEXT, 'x', true, undefined, 2)], 1002, ON],
      [
        'not DEFLATE',
        [upgradeRequest(OFFER), m(OP_TEXT, Buffer.from([0xff, 0xff, 0xff]), true, undefined, RSV1)],
        1007,
        ON,
      ],
      [
        'bad UTF-8 once inflated',
        [upgradeRequest(OFFER), m(OP_TEXT, squeeze(Buffer.from([0xc3, 0x28])), true, undefined, RSV1)],
        1007,
        ON,
      ],
    ];
    for (const [name, frames, code, options] of cases) {
      const o = run([Buffer.concat(frames)], options);
      assert.equal(o.closeCode, code, name);
    }
  });

  test('the message limit applies to the inflated size: exactly at it passes, one byte more is 1009', () => {
    const limit = 5000;
    const at = run(
      [upgradeRequest(OFFER), m(OP_BINARY, squeeze(Buffer.alloc(limit)), true, undefined, RSV1)],
      {
        ...ON,
        maxMessageBytes: limit,
      },
    );
    assert.equal(at.error, undefined);
    assert.equal(at.messages[0]!.data.length, limit);
    const past = run(
      [upgradeRequest(OFFER), m(OP_BINARY, squeeze(Buffer.alloc(limit + 1)), true, undefined, RSV1)],
      {
        ...ON,
        maxMessageBytes: limit,
      },
    );
    assert.equal(past.closeCode, 1009);
    // a zip bomb: 48,608 compressed bytes (under a 64 KiB limit) that would inflate to 50 MB, refused by
    // the inflation's own limit
    const bomb = squeeze(Buffer.alloc(50_000_000));
    assert.ok(bomb.length < 64 * 1024);
    const cut = run([upgradeRequest(OFFER), m(OP_BINARY, bomb, true, undefined, RSV1)], {
      ...ON,
      maxMessageBytes: 64 * 1024,
    });
    assert.equal(cut.closeCode, 1009);
    assert.match(cut.error!.message, /message larger than 65536 bytes once inflated/);
  });
});

function inflateOrNull(z: Buffer): Buffer | null {
  try {
    return inflateRawSync(Buffer.concat([z, Buffer.from([0, 0, 0xff, 0xff])]), {
      finishFlush: constants.Z_SYNC_FLUSH,
    });
  } catch {
    return null;
  }
}

describe('permessage-deflate: messages out', () => {
  test('from the threshold up a message goes out compressed (RSV1), below it plain; each inflates alone', () => {
    const codec = websocket({ perMessageDeflate: { threshold: 100 } });
    const peer = new FakePeer();
    codec.decoder(undefined, peer).push(upgradeRequest(OFFER), () => {});
    for (const [message, compressed] of [
      ['y'.repeat(99), false],
      ['y'.repeat(100), true],
      [Buffer.alloc(5000, 1), true],
    ] as const) {
      const out = Buffer.from(codec.encode(message, peer) as Buffer);
      assert.equal((out[0]! & 0x40) !== 0, compressed);
      assert.equal(out[0]! & 0x0f, typeof message === 'string' ? OP_TEXT : OP_BINARY);
      const len = out[1]! < 126 ? out[1]! : out.readUInt16BE(2);
      const payload = out.subarray(out.length - len);
      const back = compressed ? inflateOrNull(payload)! : payload;
      assert.deepEqual(back, Buffer.from(message));
    }
    // another connection that did not agree: plain frames
    assert.equal((codec.encode('y'.repeat(500), new FakePeer()) as Buffer)[0]! & 0x40, 0);
  });
});

for (const backend of ['syscall', 'node'] as const) {
  test(`real peers (${backend} backend): the ws client with its context and Node's WebSocket, both ways compressed`, async () => {
    const app = defineApp<WsMessage, WsMessage | string | Uint8Array>({
      protocol: websocket({ perMessageDeflate: { threshold: 64 } }),
      message(conn, message) {
        conn.send(message);
      },
    });
    const server = await serve({ app, port: 0, backend, logger: memoryLogger() });
    try {
      const client = new WebSocket(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: { threshold: 0 } });
      await new Promise((resolve, reject) => {
        client.once('open', resolve);
        client.once('error', reject);
      });
      assert.equal(client.extensions, 'permessage-deflate');
      // the ws client keeps its context: repeats compress into back-references to earlier messages
      const sent = [
        'a'.repeat(10),
        'chat line number one, hello',
        'chat line number one, hello',
        'é✓'.repeat(2000),
      ];
      sent.push(Buffer.alloc(70_000, 3).toString('latin1'));
      for (const msg of sent) {
        const got = await new Promise<string>((resolve) => {
          client.once('message', (data: Buffer) => resolve(data.toString()));
          client.send(msg);
        });
        assert.equal(got, msg);
      }
      client.close();
      // compressed both ways: far fewer bytes crossed the wire than the 144 KB of payload each way
      const payload = sent.reduce((n, x) => n + Buffer.byteLength(x), 0);
      const stats = await server.stats();
      assert.ok(
        stats.bytesIn < payload / 4 && stats.bytesOut < payload / 4,
        `${stats.bytesIn} ${stats.bytesOut} ${payload}`,
      );
      const builtin = new globalThis.WebSocket(`ws://127.0.0.1:${server.port}/`);
      await new Promise((resolve, reject) => {
        builtin.onopen = resolve;
        builtin.onerror = reject;
      });
      assert.match(builtin.extensions, /permessage-deflate/);
      const big = 'node websocket '.repeat(500);
      const echoed = await new Promise((resolve) => {
        builtin.onmessage = (e) => resolve(e.data);
        builtin.send(big);
      });
      assert.equal(echoed, big);
      builtin.close();
    } finally {
      await server.close();
    }
  });
}

test('Chromium: a page compresses with its context, the server inflates and answers compressed', async (t) => {
  const why = browserUnavailable();
  if (why) {
    t.skip(why);
    return;
  }
  const app = defineApp<WsMessage, WsMessage | string | Uint8Array>({
    protocol: websocket({ perMessageDeflate: { threshold: 64 } }),
    message(conn, message) {
      conn.send(message);
    },
  });
  const server = await serve({ app, port: 0, logger: memoryLogger() });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    // repeated lines: the browser's later messages refer back to its earlier ones (its window)
    const script = `(async () => {
      const ws = new WebSocket('ws://127.0.0.1:${server.port}/');
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
      const results = [];
      for (let i = 0; i < 20; i++) {
        const text = 'line ' + (i % 4) + ': ' + 'the same words again and again, ✓ '.repeat(1 + (i % 5) * 40);
        const got = await new Promise((resolve) => { ws.onmessage = (e) => resolve(e.data); ws.send(text); });
        results.push(got === text);
      }
      const extensions = ws.extensions;
      ws.close();
      return { extensions, ok: results.every(Boolean), n: results.length };
    })()`;
    const r = (await page.evaluate(script)) as { extensions: string; ok: boolean; n: number };
    assert.match(r.extensions, /permessage-deflate/);
    assert.deepEqual([r.ok, r.n], [true, 20]);
    const stats = await server.stats();
    // 20 messages of up to ~6 KB each way; compressed, a small fraction crosses the wire
    assert.ok(
      stats.bytesIn < 20_000 && stats.bytesOut < 20_000,
      `${stats.bytesIn} in, ${stats.bytesOut} out`,
    );
  } finally {
    await browser.close();
    await server.close();
  }
});
