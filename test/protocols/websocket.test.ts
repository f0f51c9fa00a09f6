// The WebSocket codec against a case list in the categories of the Autobahn test suite (framing,
// pings/pongs, reserved bits, opcodes, fragmentation, UTF-8, close handling, limits) plus the handshake.
// Every case runs whole in one read, cut at every point (sampled for big inputs) and byte by byte, and must
// come out the same.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  closeFrame,
  frame,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  WsMessage,
  websocket,
} from '../../src/protocols/websocket.ts';
import {
  acceptKey,
  FakePeer,
  KEY,
  maskedFrame as m,
  type Outcome,
  run,
  splits,
  upgradeRequest,
  ws,
} from './ws-harness.ts';

const closePayload = (code: number, reason = '') => {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
};

interface Case {
  name: string;
  frames: Buffer[];
  options?: Parameters<typeof websocket>[0];
  /** Messages expected, in order: a string is a text message, a Buffer binary. */
  messages?: (string | Buffer)[];
  /** The close code the connection is refused with, if it is. */
  close?: number;
  /** Frames the codec writes by itself after the 101 (pongs, close replies), concatenated. */
  writes?: Buffer;
  /** The codec half-closes (after a close handshake). */
  ends?: boolean;
}

function check(c: Case, o: Outcome, how: string): void {
  const where = `${c.name} (${how})`;
  if (c.close !== undefined) {
    assert.ok(o.error, `${where}: expected a refusal with ${c.close}`);
    assert.equal(o.closeCode, c.close, `${where}: ${o.error.message}`);
  } else assert.equal(o.error, undefined, `${where}: ${o.error?.message}`);
  if (c.messages) {
    assert.deepEqual(
      o.messages.map((x) => (x.binary ? x.data.toString('hex') : `text:${x.data.toString()}`)),
      c.messages.map((x) => (typeof x === 'string' ? `text:${x}` : x.toString('hex'))),
      where,
    );
  }
  if (c.writes) assert.equal(o.peer.frames().toString('hex'), c.writes.toString('hex'), where);
  if (c.ends !== undefined) assert.equal(o.peer.ended, c.ends, where);
}

function runCase(c: Case): void {
  const input = ws(...c.frames);
  for (const chunks of splits(input))
    check(c, run(chunks, c.options), `${chunks.length} chunks, first ${chunks[0].length}`);
}

const bytes = (n: number, seed = 1) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
const text = (n: number) => 'abcdefghij'.repeat(Math.ceil(n / 10)).slice(0, n);

const CASES: Record<string, Case[]> = {
  framing: [
    { name: 'empty text', frames: [m(OP_TEXT, '')], messages: [''] },
    { name: 'text 125 bytes (7-bit length)', frames: [m(OP_TEXT, text(125))], messages: [text(125)] },
    { name: 'text 126 bytes (16-bit length)', frames: [m(OP_TEXT, text(126))], messages: [text(126)] },
    { name: 'binary 65535 bytes', frames: [m(OP_BINARY, bytes(65535))], messages: [bytes(65535)] },
    {
      name: 'binary 65536 bytes (64-bit length)',
      frames: [m(OP_BINARY, bytes(65536))],
      messages: [bytes(65536)],
    },
    {
      name: 'several messages in one read',
      frames: [m(OP_TEXT, 'one'), m(OP_BINARY, bytes(3)), m(OP_TEXT, 'three')],
      messages: ['one', bytes(3), 'three'],
    },
    { name: 'an unmasked client frame', frames: [frame(OP_TEXT, 'hi')], close: 1002 },
  ],
  'pings and pongs': [
    { name: 'ping, empty', frames: [m(OP_PING)], writes: frame(OP_PONG) },
    { name: 'ping with 125 bytes', frames: [m(OP_PING, bytes(125))], writes: frame(OP_PONG, bytes(125)) },
    { name: 'ping with 126 bytes', frames: [m(OP_PING, bytes(126))], close: 1002 },
    { name: 'fragmented ping', frames: [m(OP_PING, 'a', false)], close: 1002 },
    {
      name: 'unsolicited pong is ignored',
      frames: [m(OP_PONG, 'x'), m(OP_TEXT, 'after')],
      messages: ['after'],
      writes: Buffer.alloc(0),
    },
    {
      name: 'ten pings, each answered in order',
      frames: Array.from({ length: 10 }, (_, i) => m(OP_PING, `p${i}`)),
      writes: Buffer.concat(Array.from({ length: 10 }, (_, i) => frame(OP_PONG, `p${i}`))),
    },
  ],
  'reserved bits': [1, 2, 3, 4, 5, 6, 7].map((rsv) => ({
    name: `rsv ${rsv.toString(2).padStart(3, '0')}`,
    frames: [m(OP_TEXT, 'x'), m(rsv % 2 ? OP_TEXT : OP_PING, 'y', true, undefined, rsv)],
    messages: ['x'],
    close: 1002,
  })),
  opcodes: [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((op) => ({
    name: `opcode ${op}`,
    frames: [m(OP_TEXT, 'x'), m(op, 'y')],
    messages: ['x'],
    close: 1002,
  })),
  fragmentation: [
    {
      name: 'text in three fragments',
      frames: [m(OP_TEXT, 'frag', false), m(OP_CONTINUATION, 'men', false), m(OP_CONTINUATION, 'ted')],
      messages: ['fragmented'],
    },
    {
      name: 'binary, empty fragments around',
      frames: [m(OP_BINARY, '', false), m(OP_CONTINUATION, bytes(5), false), m(OP_CONTINUATION, '')],
      messages: [bytes(5)],
    },
    {
      name: 'ping between fragments',
      frames: [m(OP_TEXT, 'a', false), m(OP_PING, 'p'), m(OP_CONTINUATION, 'b')],
      messages: ['ab'],
      writes: frame(OP_PONG, 'p'),
    },
    { name: 'continuation with nothing to continue', frames: [m(OP_CONTINUATION, 'x')], close: 1002 },
    { name: 'a new message mid-message', frames: [m(OP_TEXT, 'a', false), m(OP_TEXT, 'b')], close: 1002 },
    { name: 'fin continuation first', frames: [m(OP_CONTINUATION, 'x', true)], close: 1002 },
  ],
  'utf-8': [
    { name: 'multi-byte text', frames: [m(OP_TEXT, 'κόσμε 𝄞 €')], messages: ['κόσμε 𝄞 €'] },
    ...[1, 2, 3].map((cut) => {
      const b = Buffer.from('a𝄞b');
      return {
        name: `a 4-byte code point cut across fragments after ${cut} of its bytes`,
        frames: [m(OP_TEXT, b.subarray(0, 1 + cut), false), m(OP_CONTINUATION, b.subarray(1 + cut))],
        messages: ['a𝄞b'],
      };
    }),
    { name: 'invalid byte 0xff', frames: [m(OP_TEXT, Buffer.from([0x61, 0xff]))], close: 1007 },
    { name: 'overlong "/"', frames: [m(OP_TEXT, Buffer.from([0xc0, 0xaf]))], close: 1007 },
    { name: 'a surrogate (U+D800)', frames: [m(OP_TEXT, Buffer.from([0xed, 0xa0, 0x80]))], close: 1007 },
    { name: 'past U+10FFFF', frames: [m(OP_TEXT, Buffer.from([0xf4, 0x90, 0x80, 0x80]))], close: 1007 },
    {
      name: 'truncated at the end of the message',
      frames: [m(OP_TEXT, Buffer.from([0x61, 0xe2, 0x82]))],
      close: 1007,
    },
    {
      name: 'truncated in the last fragment',
      frames: [m(OP_TEXT, Buffer.from([0x61]), false), m(OP_CONTINUATION, Buffer.from([0xe2, 0x82]))],
      close: 1007,
    },
    {
      name: 'binary is not checked',
      frames: [m(OP_BINARY, Buffer.from([0xff]))],
      messages: [Buffer.from([0xff])],
    },
  ],
  'close handling': [
    { name: 'close without a code', frames: [m(OP_CLOSE)], writes: frame(OP_CLOSE), ends: true },
    {
      name: 'close 1000 with a reason: answered with 1000, then nothing more is read',
      frames: [m(OP_CLOSE, closePayload(1000, 'bye')), m(OP_TEXT, 'ignored')],
      writes: closeFrame(1000),
      messages: [],
      ends: true,
    },
    ...[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].map((code) => ({
      name: `valid code ${code}`,
      frames: [m(OP_CLOSE, closePayload(code))],
      writes: closeFrame(code),
      ends: true,
    })),
    ...[0, 999, 1004, 1005, 1006, 1012, 1015, 1016, 1100, 2000, 2999, 5000, 65535].map((code) => ({
      name: `invalid code ${code}`,
      frames: [m(OP_CLOSE, closePayload(code))],
      close: 1002,
    })),
    { name: 'a one-byte close payload', frames: [m(OP_CLOSE, Buffer.from([3]))], close: 1002 },
    {
      name: 'a reason that is not UTF-8',
      frames: [m(OP_CLOSE, Buffer.concat([closePayload(1000), Buffer.from([0xff])]))],
      close: 1007,
    },
    { name: 'close of 126 bytes', frames: [m(OP_CLOSE, closePayload(1000, text(124)))], close: 1002 },
  ],
};

// Limits: exactly at each limit and one past, whole and split (run by runCase like every case).
const LIMIT = 300;
CASES.limits = [
  {
    name: 'a message of exactly maxMessageBytes',
    frames: [m(OP_BINARY, bytes(LIMIT))],
    options: { maxMessageBytes: LIMIT },
    messages: [bytes(LIMIT)],
  },
  {
    name: 'a message one past maxMessageBytes',
    frames: [m(OP_BINARY, bytes(LIMIT + 1))],
    options: { maxMessageBytes: LIMIT },
    close: 1009,
  },
  {
    name: 'fragments adding up to exactly maxMessageBytes',
    frames: [m(OP_TEXT, text(100), false), m(OP_CONTINUATION, text(LIMIT - 100))],
    options: { maxMessageBytes: LIMIT },
    messages: [text(100) + text(LIMIT - 100)],
  },
  {
    name: 'fragments adding up to one past maxMessageBytes',
    frames: [m(OP_TEXT, text(100), false), m(OP_CONTINUATION, text(LIMIT - 99))],
    options: { maxMessageBytes: LIMIT },
    close: 1009,
  },
  {
    name: 'a frame of exactly maxFrameBytes',
    frames: [m(OP_BINARY, bytes(100), false), m(OP_CONTINUATION, bytes(100))],
    options: { maxMessageBytes: LIMIT, maxFrameBytes: 100 },
    messages: [Buffer.concat([bytes(100), bytes(100)])],
  },
  {
    name: 'a frame one past maxFrameBytes',
    frames: [m(OP_BINARY, bytes(101))],
    options: { maxMessageBytes: LIMIT, maxFrameBytes: 100 },
    close: 1009,
  },
  {
    name: 'a 64-bit length past 2^53',
    frames: [Buffer.from([0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4])],
    close: 1009,
  },
];

describe('websocket codec: Autobahn categories', () => {
  for (const [category, cases] of Object.entries(CASES)) {
    describe(category, () => {
      for (const c of cases) test(c.name, () => runCase(c));
    });
  }
});

describe('websocket codec: handshake', () => {
  test('101 with the accept key of RFC 6455 section 1.3, then frames in the same read', () => {
    const o = run([ws(m(OP_TEXT, 'hi'))]);
    const head = o.peer.writes[0].toString('latin1');
    assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(head, /sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
    assert.equal(acceptKey(KEY), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    assert.deepEqual(
      o.messages.map((x) => x.data.toString()),
      ['hi'],
    );
  });

  test('the app sees path, headers and subprotocols, and picks one', () => {
    let seen: { path: string; protocols: string[]; origin?: string } | undefined;
    const o = run(
      [
        Buffer.concat([
          upgradeRequest('Origin: http://a\r\nSec-WebSocket-Protocol: chat, superchat\r\n', '/room/1?x=2'),
        ]),
      ],
      {
        upgrade(req) {
          seen = { path: req.path, protocols: req.protocols, origin: req.headers.get('origin') };
          return 'superchat';
        },
      },
    );
    assert.deepEqual(seen, { path: '/room/1', protocols: ['chat', 'superchat'], origin: 'http://a' });
    assert.match(o.peer.writes[0].toString(), /sec-websocket-protocol: superchat\r\n/);
  });

  test('the app refuses: 403, or its own status', () => {
    assert.equal(run([upgradeRequest()], { upgrade: () => false }).status, 403);
    assert.equal(run([upgradeRequest()], { upgrade: () => 404 }).status, 404);
  });

  test('open() runs after the 101 is written, so the app may send', () => {
    const o = run([upgradeRequest()], { open: (conn) => conn.write(frame(OP_TEXT, 'welcome')) });
    assert.match(o.peer.writes[0].toString(), /^HTTP\/1\.1 101/);
    assert.equal(o.peer.writes[1].toString('hex'), frame(OP_TEXT, 'welcome').toString('hex'));
  });

  const bad: [string, string, number][] = [
    [
      'no key',
      upgradeRequest()
        .toString()
        .replace(/Sec-WebSocket-Key: .*\r\n/, ''),
      400,
    ],
    ['a key of 15 bytes', upgradeRequest().toString().replace(KEY, 'AAAAAAAAAAAAAAAAAAAA'), 400],
    ['version 8', upgradeRequest().toString().replace('Version: 13', 'Version: 8'), 426],
    ['POST', upgradeRequest().toString().replace('GET', 'POST'), 405],
    ['HTTP/1.0', upgradeRequest().toString().replace('HTTP/1.1', 'HTTP/1.0'), 400],
    ['no Host', upgradeRequest().toString().replace('Host: example\r\n', ''), 400],
    [
      'Connection without Upgrade',
      upgradeRequest().toString().replace('keep-alive, Upgrade', 'keep-alive'),
      400,
    ],
    ['no Upgrade header (plain HTTP)', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 426],
    ['not HTTP', 'GARBAGE\r\n\r\n', 400],
  ];
  for (const [name, request, status] of bad) {
    test(`refused: ${name} -> ${status}`, () => {
      for (const chunks of splits(Buffer.from(request))) assert.equal(run(chunks).status, status, name);
    });
  }

  test('a plain HTTP request goes to the http() hook (keep-alive: then an upgrade on the same connection)', () => {
    const seen: string[] = [];
    const input = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      upgradeRequest(),
      m(OP_TEXT, 'hey'),
    ]);
    for (const chunks of splits(input)) {
      seen.length = 0;
      const o = run(chunks, { http: (req) => void seen.push(req.target) });
      assert.deepEqual(seen, ['/']);
      assert.deepEqual(
        o.messages.map((x) => x.data.toString()),
        ['hey'],
      );
    }
  });

  test('request head of exactly maxHandshakeBytes passes, one byte more is 431, whole and split', () => {
    const base = upgradeRequest('X-Pad: \r\n');
    const max = 600;
    const pad = (n: number) => upgradeRequest(`X-Pad: ${'p'.repeat(n)}\r\n`);
    const exact = pad(max - base.length);
    const over = pad(max - base.length + 1);
    assert.equal(exact.length, max);
    for (const chunks of splits(exact))
      assert.equal(run(chunks, { maxHandshakeBytes: max }).error, undefined);
    for (const chunks of splits(over)) assert.equal(run(chunks, { maxHandshakeBytes: max }).status, 431);
  });

  test('a fallback codec takes a stream that does not start with "GET "', async () => {
    const { line } = await import('../../src/protocols/line.ts');
    for (const input of ['hello\nworld\n', 'GE\n', 'G\n']) {
      for (const chunks of splits(Buffer.from(input))) {
        const o = run(chunks, { fallback: line() });
        assert.deepEqual(
          o.messages.map((x) => x.data.toString()),
          input.split('\n').slice(0, -1),
          input,
        );
      }
    }
  });
});

describe('websocket codec: zero copy', () => {
  test('a whole frame is emitted as a view of the read, and echoed from the same memory', () => {
    const codec = websocket();
    const peer = new FakePeer();
    const decoder = codec.decoder(undefined, peer);
    decoder.push(upgradeRequest(), () => {});
    const chunk = Buffer.concat([m(OP_TEXT, 'x'.repeat(64)), m(OP_BINARY, bytes(300))]);
    const echoed: Buffer[] = [];
    decoder.push(chunk, (msg) => {
      const w = msg as WsMessage;
      assert.equal(w.data.buffer, chunk.buffer, 'a view of the read');
      const out = codec.encode(w) as Buffer;
      assert.equal(out.buffer, chunk.buffer, 'the echo is a view of the read too');
      echoed.push(Buffer.from(out));
    });
    assert.equal(echoed[0].toString('hex'), frame(OP_TEXT, 'x'.repeat(64)).toString('hex'));
    assert.equal(echoed[1].toString('hex'), frame(OP_BINARY, bytes(300)).toString('hex'));
  });

  test('retain() copies (for async handlers)', () => {
    const codec = websocket();
    const data = Buffer.from('abc');
    const kept = codec.retain!(new WsMessage(false, data)) as WsMessage;
    data.fill(0);
    assert.equal(kept.text(), 'abc');
  });

  test('encode: a string is a text frame, bytes a binary frame', () => {
    const codec = websocket();
    assert.equal((codec.encode('hé') as Buffer).toString('hex'), frame(OP_TEXT, 'hé').toString('hex'));
    assert.equal((codec.encode(Buffer.from([1])) as Buffer)[0], 0x82);
  });
});

describe('websocket codec: the handshake fast path agrees with the general one', () => {
  test('open() after a fast-path upgrade sees the path and, during open(), the headers', () => {
    let seen: { path: string; target: string; origin?: string } | undefined;
    run([upgradeRequest('Origin: http://o\r\n', '/a/b?c=d')], {
      open(_conn, req) {
        seen = { path: req!.path, target: req!.target, origin: req!.headers.get('origin') };
      },
    });
    assert.deepEqual(seen, { path: '/a/b', target: '/a/b?c=d', origin: 'http://o' });
  });

  test('mutated upgrade requests: accepted or refused alike, with the same 101 bytes', () => {
    // An upgrade() hook that accepts everything forces the general path; without one, the fast path runs.
    const general = { upgrade: () => undefined };
    let x = 7;
    const rand = (n: number) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x % n;
    };
    const base = upgradeRequest('X-A: b\r\n').toString('latin1');
    const edits: ((s: string) => string)[] = [
      (s) => s.replace('Upgrade: websocket', 'Upgrade: WebSocket, h2c'),
      (s) => s.replace('Upgrade: websocket', 'Upgrade: websock'),
      (s) => s.replace('Connection: keep-alive, Upgrade', 'Connection: upgrade'),
      (s) => s.replace('Connection: keep-alive, Upgrade', 'Connection: keep-alive'),
      (s) => s.replace('Host: example\r\n', ''),
      (s) => s.replace('Version: 13', 'Version: 130'),
      (s) => s.replace(KEY, `${KEY.slice(0, 21)}B==`),
      (s) => s.replace(KEY, `${KEY.slice(0, 20)}!AA==`),
      (s) => s.replace('X-A: b', 'X A: b'),
      (s) => s.replace('X-A: b', 'X-A:\tb \t'),
      (s) => s.replace('X-A: b', 'X-A: \u0001'),
      (s) => s.replace('X-A: b', 'Content-Length: 0'),
      (s) => s.replace('X-A: b', 'Transfer-Encoding: chunked'),
      (s) => s.replace('X-A: b', `Sec-WebSocket-Key: ${KEY}`),
      (s) => s.replace('X-A: b', 'Sec-WebSocket-Protocol: chat'),
      (s) => s.replace('X-A: b', 'Sec-WebSocket-Extensions: permessage-deflate'),
      (s) => s.replace('GET /chat', 'GET /chat?x=1'),
      (s) => s.replace('HTTP/1.1', 'HTTP/1.0'),
      (s) => s.replace('GET', 'PUT'),
      (s) => s.replace('\r\nHost', '\nHost'),
      (s) => s.replace('sec-websocket-key', 'SEC-WEBSOCKET-KEY'),
      (s) => s.replaceAll(': ', ':'),
    ];
    for (let i = 0; i < 400; i++) {
      let s = base;
      for (let k = 1 + rand(3); k > 0; k--) s = edits[rand(edits.length)](s);
      const input = Buffer.from(s, 'latin1');
      const fast = run([input]);
      const slow = run([input], general);
      assert.equal(fast.status, slow.status, s);
      assert.equal(fast.error === undefined, slow.error === undefined, s);
      if (fast.error === undefined)
        assert.equal(fast.peer.writes[0].toString(), slow.peer.writes[0].toString(), s);
    }
  });
});
