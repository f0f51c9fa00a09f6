// Every built-in decoder against the degenerate shapes a hostile client sends (issue 16, findings 1, 2
// and 5): empty parts, millions of tiny parts, deep nesting, noise that makes no progress. Each bound is
// tested at exactly the limit and one past it, whole in one read and split across reads, and what a
// decoder holds is reported in `buffered` (what the partial-message timeout watches).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Codec, ProtocolError } from '../../src/protocols/codec.ts';
import { httpCodec } from '../../src/protocols/http.ts';
import { length, line, raw } from '../../src/protocols/index.ts';
import { encodeProxyHeader, ProxyPreface } from '../../src/protocols/proxy.ts';
import { respCodec, respHeldOverhead } from '../../src/protocols/resp.ts';

const b = (s: string) => Buffer.from(s, 'latin1');

/** The input whole, in pieces of 7 bytes, and byte by byte (when short enough). */
function splits(input: Buffer): Buffer[][] {
  const ways = [[input], pieces(input, 7), pieces(input, 4096)];
  if (input.length <= 20_000) ways.push(pieces(input, 1));
  return ways;
}

function pieces(input: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i += size) out.push(input.subarray(i, i + size));
  return out;
}

interface Fed<M> {
  messages: M[];
  buffered: number;
}

/** Feed chunks as a connection does (each scribbled over after push); messages are counted, not kept. */
function run<M>(codec: Codec<M, never>, chunks: Buffer[], keep: (m: M) => unknown = (m) => m): Fed<unknown> {
  const decoder = codec.decoder();
  const messages: unknown[] = [];
  for (const chunk of chunks) {
    const scratch = Buffer.from(chunk);
    decoder.push(scratch, (m) => messages.push(keep(m)));
    scratch.fill(0xee);
  }
  return { messages, buffered: decoder.buffered };
}

function accepted<M>(codec: Codec<M, never>, input: Buffer, keep?: (m: M) => unknown): Fed<unknown>[] {
  return splits(input).map((chunks) => run(codec, chunks, keep));
}

function refused<M>(codec: Codec<M, never>, input: Buffer, why: RegExp): void {
  for (const chunks of splits(input)) {
    assert.throws(
      () => run(codec, chunks),
      (e: unknown) => e instanceof ProtocolError && why.test(e.message),
      `${chunks.length} chunks`,
    );
  }
}

const emptyArgs = (n: number) => b('$0\r\n\r\n'.repeat(n));
const shape = (args: Buffer[]) => `${args.length}:${args.map((a) => a.length).join(',')}`;

// ---- resp ----------------------------------------------------------------------------------------------

test('resp: an unfinished command of 65,535 empty arguments is held compactly and reported', () => {
  const input = Buffer.concat([b('*65536\r\n'), emptyArgs(65_535)]);
  for (const fed of accepted(respCodec(), input)) {
    assert.equal(fed.messages.length, 0);
    // Before: 0 (empty arguments counted no bytes), so neither bound nor timeout saw ~13 MB of objects.
    // Now each is held as its length, one byte.
    assert.equal(fed.buffered, 65_535 * respHeldOverhead(0));
  }
  const whole = accepted(respCodec(), Buffer.concat([input, emptyArgs(1)]), (a: Buffer[]) => shape(a));
  for (const fed of whole) {
    assert.deepEqual(fed.messages, [`65536:${Array(65_536).fill(0).join(',')}`]);
    assert.equal(fed.buffered, 0);
  }
});

test('resp: a command begun reports buffered > 0 from its header on', () => {
  for (const input of ['*3\r\n', '*3\r\n$3\r\n', '*2\r\n$0\r\n\r\n', '*1\r\n$5\r\n']) {
    for (const fed of accepted(respCodec(), b(input))) assert.ok(fed.buffered > 0, input);
  }
  assert.equal(run(respCodec(), [b('*1\r\n$0\r\n\r\n')]).buffered, 0);
});

test('resp: maxCommandBytes counts each held argument, empty or not (exactly at it, one past)', () => {
  const codec = respCodec({ maxCommandBytes: 1000 });
  // 1,000 empty arguments held = 1,000 x 1 byte (each one's length) = exactly 1000.
  const at = Buffer.concat([b('*2000\r\n'), emptyArgs(1000)]);
  for (const fed of accepted(codec, at)) assert.equal(fed.buffered, 1000);
  refused(codec, Buffer.concat([at, emptyArgs(1)]), /command too big/);
  // Bytes and arguments together: 2 arguments of 498 bytes = 2 x (498 + 2).
  assert.equal(respHeldOverhead(498), 2);
  const arg = (n: number, c: string) => `$${n}\r\n${c.repeat(n)}\r\n`;
  for (const fed of accepted(codec, b(`*3\r\n${arg(498, 'x')}${arg(498, 'y')}`)))
    assert.equal(fed.buffered, 1000);
  refused(codec, b(`*3\r\n${arg(498, 'x')}${arg(499, 'y')}`), /command too big/);
});

test('resp: maxArgs with empty arguments, exactly at it and one past', () => {
  const codec = respCodec({ maxArgs: 100 });
  for (const fed of accepted(codec, Buffer.concat([b('*100\r\n'), emptyArgs(100)]), shape))
    assert.deepEqual(fed.messages, [`100:${Array(100).fill(0).join(',')}`]);
  refused(codec, Buffer.concat([b('*101\r\n'), emptyArgs(101)]), /invalid multibulk length/);
  refused(codec, b(`${'a '.repeat(101)}\r\n`), /too many arguments/);
});

test('resp: a million tiny arguments in one command, and a million tiny commands', () => {
  const n = 1_000_000;
  const codec = respCodec({ maxArgs: n });
  const big = Buffer.concat([b(`*${n}\r\n`), b('$1\r\na\r\n'.repeat(n))]);
  for (const chunks of [[big], pieces(big, 65_536)]) {
    const fed = run(
      codec,
      chunks,
      (a: Buffer[]) => a.length === n && a.every((x) => x.length === 1 && x[0] === 0x61),
    );
    assert.deepEqual(fed.messages, [true]);
    assert.equal(fed.buffered, 0);
  }
  // Arriving a few bytes at a time, each read spilling an argument or two: linear, not a copy of all
  // that is held per read (that would be ~10^12 bytes copied here).
  const slow = run(codec, pieces(big, 7), (a: Buffer[]) => a.length);
  assert.deepEqual(slow.messages, [n]);
  const partial = run(codec, pieces(big.subarray(0, big.length - 3), 65_536));
  assert.equal(partial.buffered, (n - 1) * 2, 'held: each byte and its length');
  const many = b('*1\r\n$0\r\n\r\n'.repeat(n));
  let count = 0;
  const d = respCodec().decoder();
  for (const chunk of pieces(many, 65_536)) d.push(chunk, () => count++);
  assert.equal(count, n);
  assert.equal(d.buffered, 0);
});

test('resp: nesting is refused at the first nested array (clients send arrays of bulk strings only)', () => {
  refused(respCodec(), b('*1\r\n'.repeat(10_000)), /expected '\$'/);
  refused(respCodec(), b('*2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n'), /expected '\$'/);
});

test('resp: empty commands are noise: counted toward the timeout, bounded, cleared by a command', () => {
  const codec = respCodec({ maxInlineBytes: 64 });
  for (const fed of accepted(codec, b('\r\n'.repeat(32)))) assert.equal(fed.buffered, 64);
  refused(codec, b('\r\n'.repeat(33)), /too many empty commands/);
  for (const fed of accepted(codec, b('*0\r\n'.repeat(16)))) assert.equal(fed.buffered, 64);
  refused(codec, b('*-1\r\n'.repeat(13)), /too many empty commands/);
  for (const fed of accepted(codec, b(`${'\r\n'.repeat(30)}PING\r\n${'\r\n'.repeat(30)}`))) {
    assert.equal(fed.messages.length, 1);
    assert.equal(fed.buffered, 60);
  }
});

test('resp: maxBulkBytes and maxInlineBytes, exactly at them and one past', () => {
  const codec = respCodec({ maxBulkBytes: 10, maxInlineBytes: 64 });
  for (const fed of accepted(codec, b(`*1\r\n$10\r\n${'x'.repeat(10)}\r\n`), shape))
    assert.deepEqual(fed.messages, ['1:10']);
  refused(codec, b(`*1\r\n$11\r\n${'x'.repeat(11)}\r\n`), /invalid bulk length/);
  // An inline line of 64 bytes before its LF (the CR included), then one more.
  for (const fed of accepted(codec, b(`${'a'.repeat(63)}\r\n`), shape))
    assert.deepEqual(fed.messages, ['1:63']);
  refused(codec, b(`${'a'.repeat(64)}\r\n`), /too big inline request/);
});

// ---- http ----------------------------------------------------------------------------------------------

const GET = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

test('http: empty lines before a request line are noise: counted, bounded by the request-line limit', () => {
  const codec = httpCodec({ maxRequestLineBytes: 64 });
  // Before: buffered 0, so a client sending only CRLFs was never cut by the partial timeout.
  // One empty line is tolerated as nothing (RFC 9112 §2.2: some clients send a CRLF after a body).
  for (const fed of accepted(codec, b('\r\n'))) assert.equal(fed.buffered, 0);
  for (const fed of accepted(codec, b('\r\n\r\n'))) assert.equal(fed.buffered, 4);
  for (const fed of accepted(codec, b('\r\n'.repeat(32)))) assert.equal(fed.buffered, 64);
  for (const fed of accepted(codec, b(`${'\r\n'.repeat(32)}${GET}`))) {
    assert.equal(fed.messages.length, 1);
    assert.equal(fed.buffered, 0);
  }
  for (const fed of accepted(codec, b('\n'.repeat(64)))) assert.equal(fed.buffered, 64);
  refused(codec, b('\r\n'.repeat(33)), /HTTP 400: more than 64 bytes of empty lines/);
  refused(codec, b(`${'\r\n'.repeat(33)}${GET}`), /HTTP 400/);
});

test('http: a request line exactly at maxRequestLineBytes and one past', () => {
  const codec = httpCodec({ maxRequestLineBytes: 64 });
  const line = (n: number) =>
    b(`GET /${'a'.repeat(n - 'GET / HTTP/1.1'.length)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  for (const fed of accepted(codec, line(64))) assert.equal(fed.messages.length, 1);
  refused(codec, line(65), /HTTP 414/);
});

test('http: header fields, empty values too, exactly at maxHeaders and one past', () => {
  const codec = httpCodec({ maxHeaders: 100, maxHeaderBytes: 64 * 1024 });
  const head = (n: number) => b(`GET / HTTP/1.1\r\nHost: x\r\n${'a:\r\n'.repeat(n - 1)}\r\n`);
  for (const fed of accepted(codec, head(100), (r: { headers: { size: number } }) => r.headers.size))
    assert.deepEqual(fed.messages, [100]);
  refused(codec, head(101), /HTTP 431: more than 100 header fields/);
});

test('http: header bytes exactly at maxHeaderBytes and one past; trailers count too', () => {
  const codec = httpCodec({ maxHeaderBytes: 200 });
  // The request line and the fields with their CRLFs: 16 + 9 + (5 + 170) = 200.
  const at = b(`GET / HTTP/1.1\r\nHost: x\r\nx: ${'v'.repeat(170)}\r\n\r\n`);
  for (const fed of accepted(codec, at)) assert.equal(fed.messages.length, 1);
  refused(codec, b(`GET / HTTP/1.1\r\nHost: x\r\nx: ${'v'.repeat(171)}\r\n\r\n`), /HTTP 431/);
  const trailers = (n: number) =>
    b(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${'t:\r\n'.repeat(n)}\r\n`);
  refused(codec, trailers(1000), /HTTP 431/);
});

test('http: a chunked body of tiny chunks, exactly at maxBodyBytes and one past', () => {
  const codec = httpCodec({ maxBodyBytes: 1000 });
  const body = (n: number) =>
    b(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${'1\r\na\r\n'.repeat(n)}0\r\n\r\n`);
  for (const fed of accepted(codec, body(1000), (r: { body: Buffer }) => r.body.length))
    assert.deepEqual(fed.messages, [1000]);
  refused(codec, body(1001), /HTTP 413/);
  // A body in progress is reported.
  for (const fed of accepted(codec, body(500).subarray(0, -5))) assert.ok(fed.buffered >= 500);
});

test('http: Host is required on HTTP/1.1, once, and valid (RFC 9112 §3.2, RFC 9110 §7.2)', () => {
  const req = (version: string, ...hosts: string[]) =>
    b(`GET / HTTP/${version}\r\n${hosts.map((h) => `Host: ${h}\r\n`).join('')}\r\n`);
  const ok = (input: Buffer) => {
    for (const fed of accepted(httpCodec(), input)) assert.equal(fed.messages.length, 1, input.toString());
  };
  for (const host of [
    'example.com',
    'example.com:8080',
    'EXAMPLE.com:',
    '127.0.0.1',
    '127.0.0.1:80',
    '[::1]',
    '[::1]:8080',
    '[::ffff:1.2.3.4]',
    '[v1.fe80::a+en1]',
    'xn--bcher-kva.example',
    'a%20b',
    "a-b_c~d!$&'()*+,;=",
    '',
  ])
    ok(req('1.1', host));
  ok(req('1.0'));
  refused(httpCodec(), req('1.1'), /HTTP 400: no Host field/);
  refused(httpCodec(), req('1.1', 'a', 'a'), /HTTP 400: more than one Host field/);
  refused(httpCodec(), req('1.0', 'a', 'b'), /HTTP 400: more than one Host field/);
  for (const host of [
    'a b',
    'a/b',
    'a@b',
    'user@host',
    'a:b',
    'a:80:90',
    '[::1',
    '[::1]x',
    '[::g]',
    '[1::2::3]',
    '[v.x]',
    '%zz',
    'a%2',
    'a"b',
    'é',
    'a\\b',
  ])
    refused(httpCodec(), req('1.1', host), /HTTP 400: invalid Host field/);
});

// ---- line, length, raw ------------------------------------------------------------------------------------

test('line: exactly maxLineBytes and one past, CRLF or LF; a million empty lines hold nothing', () => {
  const codec = line({ maxLineBytes: 10 });
  for (const input of ['0123456789\n', '0123456789\r\n']) {
    for (const fed of accepted(codec, b(input), (m: Buffer) => m.toString()))
      assert.deepEqual(fed.messages, ['0123456789']);
  }
  refused(codec, b('0123456789A\n'), /longer than 10 bytes/);
  refused(codec, b('0123456789AB'), /longer than 10 bytes/);
  for (const fed of accepted(codec, b('0123456789'))) assert.equal(fed.buffered, 10);
  const d = line().decoder();
  let count = 0;
  for (const chunk of pieces(b('\n'.repeat(1_000_000)), 65_536)) d.push(chunk, () => count++);
  assert.equal(count, 1_000_000);
  assert.equal(d.buffered, 0);
  for (const fed of accepted(line(), b('\r'))) assert.equal(fed.buffered, 1);
});

test('length: exactly maxFrameBytes and one past; a header alone is reported; empty frames', () => {
  const frame = (n: number) => {
    const out = Buffer.alloc(4 + n, 0x61);
    out.writeUInt32BE(n);
    return out;
  };
  const codec = length({ maxFrameBytes: 100 });
  for (const fed of accepted(codec, frame(100), (m: Buffer) => m.length))
    assert.deepEqual(fed.messages, [100]);
  refused(codec, frame(101), /101 bytes exceeds the limit of 100/);
  // Before: a complete header with no payload yet reported 0, invisible to the partial timeout.
  for (const fed of accepted(codec, frame(100).subarray(0, 4))) assert.equal(fed.buffered, 4);
  for (const fed of accepted(codec, frame(100).subarray(0, 54))) assert.equal(fed.buffered, 54);
  const d = length().decoder();
  let count = 0;
  for (const chunk of pieces(Buffer.alloc(4 * 1_000_000), 65_536)) d.push(chunk, () => count++);
  assert.equal(count, 1_000_000);
  assert.equal(d.buffered, 0);
});

test('length: a header announcing a big frame does not reserve it (memory grows with the bytes sent)', () => {
  const before = process.memoryUsage().arrayBuffers;
  const decoders = Array.from({ length: 200 }, () => length().decoder());
  const head = Buffer.alloc(14);
  head.writeUInt32BE(1024 * 1024); // 1 MiB announced, 10 bytes sent
  for (const d of decoders) d.push(head, () => assert.fail());
  const grown = process.memoryUsage().arrayBuffers - before;
  // Before: 200 x 1 MiB reserved by 200 x 14 bytes sent.
  assert.ok(grown < 32 * 1024 * 1024, `${grown} bytes for 2,800 bytes sent`);
  assert.equal(decoders[0].buffered, 14);
});

test('raw: holds nothing, each read is one message', () => {
  for (const fed of accepted(raw, Buffer.alloc(100_000))) {
    assert.equal(fed.buffered, 0);
    assert.ok(fed.messages.length >= 1);
  }
});

// ---- proxy ------------------------------------------------------------------------------------------------

test('proxy: v1 exactly 107 bytes and one past, v2 exactly maxV2Length and one past, at every split', () => {
  const v1 = b(`PROXY TCP6 ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`);
  assert.equal(v1.length, 104);
  const v1At = b(`PROXY UNKNOWN ${'x'.repeat(107 - 16)}\r\n`);
  assert.equal(v1At.length, 107);
  const preface = (chunks: Buffer[], options = {}) => {
    const p = new ProxyPreface(options);
    let done = false;
    for (const c of chunks) {
      assert.equal(done, false);
      done = p.push(Buffer.from(c)).state === 'done';
      if (!done) assert.ok(p.buffered > 0 && p.buffered < 16 + 4096);
    }
    return done;
  };
  for (const input of [v1, v1At]) for (const chunks of splits(input)) assert.ok(preface(chunks));
  for (const chunks of splits(b(`PROXY UNKNOWN ${'x'.repeat(108 - 16)}\r\n`)))
    assert.throws(() => preface(chunks), /longer than 107 bytes/);
  const v2 = (n: number) => {
    const h = encodeProxyHeader({ version: 2, command: 'LOCAL', family: 'unknown' });
    h.writeUInt16BE(n, 14);
    return Buffer.concat([h, Buffer.alloc(n)]);
  };
  for (const chunks of splits(v2(512))) assert.ok(preface(chunks, { maxV2Length: 512 }));
  for (const chunks of splits(v2(513)))
    assert.throws(() => preface(chunks, { maxV2Length: 512 }), /513 bytes exceeds the limit of 512/);
});

// ---- limits from the server --------------------------------------------------------------------------------

test('the server-wide maxMessageBytes and maxMessageParts replace each codec bound of their kind', () => {
  const limits = { maxMessageBytes: 100, maxMessageParts: 3 };
  const fed = (codec: Codec<unknown, never>, input: string) => {
    const d = codec.decoder(limits);
    d.push(b(input), () => {});
  };
  assert.throws(() => fed(respCodec(), '*4\r\n'), /invalid multibulk length/);
  fed(respCodec(), '*3\r\n');
  assert.throws(() => fed(respCodec(), `*1\r\n$101\r\n`), /invalid bulk length/);
  assert.throws(() => fed(line(), `${'x'.repeat(101)}\n`), /longer than 100/);
  assert.throws(() => fed(length(), '\0\0\0\x65'), /101 bytes exceeds the limit of 100/);
  assert.throws(() => fed(httpCodec(), `GET / HTTP/1.1\r\nHost: x\r\n${'a:\r\n'.repeat(3)}\r\n`), /HTTP 431/);
  assert.throws(
    () => fed(httpCodec(), 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n'),
    /HTTP 413/,
  );
  fed(httpCodec(), 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n');
});
