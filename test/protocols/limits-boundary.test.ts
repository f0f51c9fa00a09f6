// Every limit of every built-in codec at exactly the limit and one byte (or one item) past it, whole in one
// read, cut once at every position and fed byte by byte (the way a connection feeds them: each chunk is
// scribbled over after push() returns). At the limit every split must decode the same messages; one past
// it every split must throw a ProtocolError naming the limit. Limits are small here so that the
// quadratic number of splits stays cheap; the code paths are the ones the defaults take.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolError } from '../../src/protocols/codec.ts';
import { type HttpOptions, type HttpRequest, httpCodec } from '../../src/protocols/http.ts';
import { length, line } from '../../src/protocols/index.ts';
import { type ProxyOptions, proxyPreface } from '../../src/protocols/proxy.ts';
import { type RespOptions, respCodec } from '../../src/protocols/resp.ts';
import { everySplit, feed, sameMessages } from './helpers.ts';

const b = (s: string) => Buffer.from(s, 'latin1');
const describeSplit = (chunks: readonly Buffer[]) => chunks.map((c) => c.length).join('+');

/** `decode` must give `expected` for the input whole, at every single cut and byte by byte. */
function acceptsEverySplit(
  what: string,
  decode: (chunks: Buffer[]) => unknown,
  input: Buffer,
  expected: unknown,
) {
  for (const chunks of everySplit(input)) {
    let got: unknown;
    try {
      got = decode(chunks);
    } catch (err) {
      assert.fail(`${what}: refused at the limit, split ${describeSplit(chunks)}: ${(err as Error).message}`);
    }
    if (!sameMessages(got, expected)) {
      assert.fail(`${what}: split ${describeSplit(chunks)} decoded ${JSON.stringify(got)}`);
    }
  }
}

/** `decode` must throw a ProtocolError matching `error` for the input whole, at every cut, byte by byte. */
function refusesEverySplit(
  what: string,
  decode: (chunks: Buffer[]) => unknown,
  input: Buffer,
  error: RegExp,
) {
  for (const chunks of everySplit(input)) {
    let got: unknown;
    try {
      got = decode(chunks);
    } catch (err) {
      assert.ok(err instanceof ProtocolError, `${what}: split ${describeSplit(chunks)} threw ${err}`);
      assert.match(err.message, error, `${what}: split ${describeSplit(chunks)}`);
      continue;
    }
    assert.fail(
      `${what}: one past the limit accepted, split ${describeSplit(chunks)}: decoded ${JSON.stringify(got)}`,
    );
  }
}

const strings = (messages: unknown[]) => (messages as Buffer[]).map((m) => m.toString('latin1'));

// ---- line -------------------------------------------------------------------------------------------------

test('line: maxLineBytes at the limit and one past, LF and CRLF, with stripCR on and off', () => {
  const M = 24;
  const x = (n: number) => 'x'.repeat(n);
  const strip = (chunks: Buffer[]) => strings(feed(line({ maxLineBytes: M }), chunks));
  const keepCR = (chunks: Buffer[]) => strings(feed(line({ maxLineBytes: M, stripCR: false }), chunks));
  const tooLong = new RegExp(`line longer than ${M} bytes`);
  // Between two short lines, so the long one is met both inside a chunk and assembled across chunks.
  for (const eol of ['\n', '\r\n']) {
    const name = `stripCR, ${JSON.stringify(eol)}`;
    acceptsEverySplit(name, strip, b(`a\n${x(M)}${eol}z\n`), ['a', x(M), 'z']);
    refusesEverySplit(name, strip, b(`a\n${x(M + 1)}${eol}z\n`), tooLong);
    // A lone line: the whole read is the line itself.
    acceptsEverySplit(name, strip, b(`${x(M)}${eol}`), [x(M)]);
    refusesEverySplit(name, strip, b(`${x(M + 1)}${eol}`), tooLong);
  }
  // Without stripCR the '\r' is part of the line and counts.
  acceptsEverySplit('keep CR', keepCR, b(`a\n${x(M)}\nz\n`), ['a', x(M), 'z']);
  acceptsEverySplit('keep CR', keepCR, b(`a\n${x(M - 1)}\r\nz\n`), ['a', `${x(M - 1)}\r`, 'z']);
  refusesEverySplit('keep CR', keepCR, b(`a\n${x(M)}\r\nz\n`), tooLong);
  refusesEverySplit('keep CR', keepCR, b(`a\n${x(M + 1)}\nz\n`), tooLong);
});

test('line: a partial line is held up to the limit and refused one byte past it, before its newline', () => {
  const M = 24;
  const x = (n: number) => 'x'.repeat(n);
  // stripCR keeps one byte of slack for a '\r' that the newline would strip; without it, none.
  for (const [stripCR, held] of [
    [true, M + 1],
    [false, M],
  ] as const) {
    const codec = line({ maxLineBytes: M, stripCR });
    const decode = (chunks: Buffer[]) => strings(feed(codec, chunks));
    acceptsEverySplit(`stripCR ${stripCR}`, decode, b(`a\n${x(held)}`), ['a']);
    refusesEverySplit(`stripCR ${stripCR}`, decode, b(`a\n${x(held + 1)}`), /line longer than 24 bytes/);
    const d = codec.decoder();
    d.push(b(x(held)), () => assert.fail('no newline yet'));
    assert.equal(d.buffered, held);
  }
  // The held '\r' slack is for a '\r' only: a line of M + 1 bytes that ends otherwise is refused.
  refusesEverySplit(
    'stripCR, M + 1 held',
    (chunks) => feed(line({ maxLineBytes: M }), chunks),
    b(`${x(M + 1)}\n`),
    /line longer/,
  );
});

// ---- length -----------------------------------------------------------------------------------------------

test('length: maxFrameBytes at the limit and one past, and a limit of 0', () => {
  const frame = (n: number) => {
    const out = Buffer.alloc(4 + n, 0x61 + (n % 26));
    out.writeUInt32BE(n, 0);
    return out;
  };
  const M = 20;
  const decode = (max: number) => (chunks: Buffer[]) => strings(feed(length({ maxFrameBytes: max }), chunks));
  const body = (n: number) => String.fromCharCode(0x61 + (n % 26)).repeat(n);
  acceptsEverySplit('frame', decode(M), Buffer.concat([frame(1), frame(M), frame(2)]), [
    body(1),
    body(M),
    body(2),
  ]);
  acceptsEverySplit('lone frame', decode(M), frame(M), [body(M)]);
  refusesEverySplit(
    'frame',
    decode(M),
    Buffer.concat([frame(1), frame(M + 1), frame(2)]),
    /frame of 21 bytes exceeds the limit of 20/,
  );
  // Refused from the header alone: the payload never has to arrive.
  refusesEverySplit('header only', decode(M), frame(M + 1).subarray(0, 4), /exceeds the limit of 20/);
  acceptsEverySplit('limit 0', decode(0), Buffer.concat([frame(0), frame(0)]), ['', '']);
  refusesEverySplit('limit 0', decode(0), Buffer.concat([frame(0), frame(1)]), /frame of 1 bytes exceeds/);
});

// ---- RESP -------------------------------------------------------------------------------------------------

const cmd = (...args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;
const resp = (options: RespOptions) => (chunks: Buffer[]) =>
  (feed(respCodec(options), chunks) as Buffer[][]).map((args) => args.map((a) => a.toString('latin1')));

test('resp: maxArgs at the limit and one past, multibulk and inline', () => {
  const M = 4;
  const args = (n: number) => Array.from({ length: n }, (_, i) => `a${i}`);
  const decode = resp({ maxArgs: M });
  acceptsEverySplit('multibulk', decode, b(cmd('PING') + cmd(...args(M)) + cmd('x')), [
    ['PING'],
    args(M),
    ['x'],
  ]);
  refusesEverySplit('multibulk', decode, b(cmd('PING') + cmd(...args(M + 1))), /invalid multibulk length/);
  acceptsEverySplit('inline', decode, b(`PING\r\n${args(M).join(' ')}\r\nx\r\n`), [['PING'], args(M), ['x']]);
  refusesEverySplit('inline', decode, b(`PING\r\n${args(M + 1).join(' ')}\r\n`), /too many arguments/);
});

test('resp: maxBulkBytes at the limit and one past, refused from the header alone', () => {
  const M = 20;
  const decode = resp({ maxBulkBytes: M });
  const big = 'v'.repeat(M);
  acceptsEverySplit('bulk', decode, b(cmd('SET', 'k', big) + cmd('GET', 'k')), [
    ['SET', 'k', big],
    ['GET', 'k'],
  ]);
  acceptsEverySplit('lone bulk', decode, b(cmd(big)), [[big]]);
  refusesEverySplit('bulk', decode, b(cmd('SET', 'k', `${big}v`)), /invalid bulk length/);
  refusesEverySplit(
    'header only',
    decode,
    b(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${M + 1}\r\n`),
    /invalid bulk length/,
  );
});

test('resp: maxInlineBytes at the limit and one past (the line before its LF, a CR included, as Redis counts)', () => {
  const M = 24;
  const decode = resp({ maxInlineBytes: M });
  const words = (n: number) => `SET k ${'v'.repeat(n - 6)}`; // n bytes
  acceptsEverySplit('CRLF', decode, b(`PING\r\n${words(M - 1)}\r\nPING\r\n`), [
    ['PING'],
    ['SET', 'k', 'v'.repeat(M - 7)],
    ['PING'],
  ]);
  refusesEverySplit('CRLF', decode, b(`PING\r\n${words(M)}\r\nPING\r\n`), /too big inline request/);
  acceptsEverySplit('LF', decode, b(`${words(M)}\n`), [['SET', 'k', 'v'.repeat(M - 6)]]);
  refusesEverySplit('LF', decode, b(`${words(M + 1)}\n`), /too big inline request/);
  // Unterminated: M bytes are held waiting for the newline, M + 1 are refused before it comes.
  acceptsEverySplit('partial', decode, b(`PING\r\n${words(M)}`), [['PING']]);
  refusesEverySplit('partial', decode, b(`PING\r\n${words(M + 1)}`), /too big inline request/);
});

test('resp: a `*`/`$` header line is held up to 32 bytes and refused one past, before its LF', () => {
  const decode = resp({});
  acceptsEverySplit('held', decode, b(`*1\r\n$${'0'.repeat(31)}`), []);
  refusesEverySplit('refused', decode, b(`*1\r\n$${'0'.repeat(32)}`), /invalid bulk length/);
  acceptsEverySplit('held', decode, b(`*${'0'.repeat(31)}`), []);
  refusesEverySplit('refused', decode, b(`*${'0'.repeat(32)}`), /invalid multibulk length/);
});

test('resp: maxCommandBytes at the limit and one past, whole or split alike', () => {
  // A command costs each argument's bytes plus its length's (1 byte each here): 3 + (M - 3) = M.
  const M = 20;
  const decode = resp({ maxCommandBytes: M });
  acceptsEverySplit('at', decode, b(cmd('ab', 'c'.repeat(M - 4))), [['ab', 'c'.repeat(M - 4)]]);
  refusesEverySplit('past', decode, b(cmd('ab', 'c'.repeat(M - 3))), /command too big/);
});

// ---- HTTP -------------------------------------------------------------------------------------------------

const httpDecode = (options: HttpOptions) => (chunks: Buffer[]) =>
  (feed(httpCodec(options), chunks) as HttpRequest[]).map(
    (r) => `${r.method} ${r.target} ${[...r.headers].map(([k, v]) => `${k}=${v}`).join(',')} [${r.body}]`,
  );

/** A ProtocolError whose reply is an HTTP response with this status and which names the limit. */
const status = (code: number, why: string) => new RegExp(`^HTTP ${code}: ${why}`);

test('http: maxRequestLineBytes at the limit and one past, CRLF and bare LF', () => {
  const M = 40;
  const decode = httpDecode({ maxRequestLineBytes: M });
  const requestLine = (n: number) => `GET /${'p'.repeat(n - 'GET / HTTP/1.1'.length)} HTTP/1.1`; // n bytes
  const target = (n: number) => `/${'p'.repeat(n - 'GET / HTTP/1.1'.length)}`;
  for (const eol of ['\r\n', '\n']) {
    const name = JSON.stringify(eol);
    const host = `Host: h${eol}`; // HTTP/1.1 requires it (RFC 9112 §3.2); not part of the request line
    acceptsEverySplit(
      name,
      decode,
      b(`GET /a HTTP/1.1${eol}${host}${eol}${requestLine(M)}${eol}${host}${eol}`),
      ['GET /a host=h []', `GET ${target(M)} host=h []`],
    );
    refusesEverySplit(
      name,
      decode,
      b(`GET /a HTTP/1.1${eol}${host}${eol}${requestLine(M + 1)}${eol}${host}${eol}`),
      status(414, 'request line longer than 40 bytes'),
    );
  }
});

test('http: a partial request line is held up to the limit and a CR, and refused one byte past, before its LF', () => {
  const decode = httpDecode({ maxRequestLineBytes: 40 });
  const requestLine = `GET /${'p'.repeat(40 - 'GET / HTTP/1.1'.length)} HTTP/1.1`;
  acceptsEverySplit('request line', decode, b(`${requestLine}\r`), []);
  refusesEverySplit('request line', decode, b(`${requestLine}\r\r`), status(414, 'request line'));
});

test('http: maxHeaderBytes at the limit and one past (request line and field lines, each with its CRLF)', () => {
  const M = 64;
  const decode = httpDecode({ maxHeaderBytes: M });
  const head = 'GET / HTTP/1.1\r\nHost: h\r\n'; // 25 bytes
  const field = (n: number) => `X: ${'v'.repeat(n - 5)}\r\n`; // n bytes
  const fill = M - head.length;
  for (const eol of ['\r\n', '\n']) {
    const name = `final empty line ${JSON.stringify(eol)}`;
    acceptsEverySplit(name, decode, b(`${head}${field(fill)}${eol}`), [
      `GET / host=h,x=${'v'.repeat(fill - 5)} []`,
    ]);
    refusesEverySplit(
      name,
      decode,
      b(`${head}${field(fill + 1)}${eol}`),
      status(431, 'header fields larger than 64'),
    );
  }
  // Two fields that reach the limit together.
  acceptsEverySplit('two fields', decode, b(`${head}${field(10)}${field(fill - 10)}\r\n`), [
    `GET / host=h,x=${'v'.repeat(5)},x=${'v'.repeat(fill - 15)} []`,
  ]);
  refusesEverySplit(
    'two fields',
    decode,
    b(`${head}${field(10)}${field(fill - 9)}\r\n`),
    status(431, 'header'),
  );
});

test('http: maxHeaders at the limit and one past', () => {
  const M = 3;
  const decode = httpDecode({ maxHeaders: M });
  // Host (required in HTTP/1.1) is the first of the M fields
  const fields = (n: number) =>
    `Host: h\r\n${Array.from({ length: n - 1 }, (_, i) => `f${i}: ${i}\r\n`).join('')}`;
  const names = (n: number) => ['host=h', ...Array.from({ length: n - 1 }, (_, i) => `f${i}=${i}`)].join(',');
  acceptsEverySplit(
    'fields',
    decode,
    b(`GET / HTTP/1.1\r\n${fields(M)}\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n`),
    [`GET / ${names(M)} []`, 'GET /2 host=h []'],
  );
  refusesEverySplit(
    'fields',
    decode,
    b(`GET / HTTP/1.1\r\n${fields(M + 1)}\r\n`),
    status(431, 'more than 3 header fields'),
  );
});

test('http: maxBodyBytes at the limit and one past, Content-Length and chunked', () => {
  const M = 20;
  const decode = httpDecode({ maxBodyBytes: M });
  const body = (n: number) => 'b'.repeat(n);
  const sized = (n: number) => `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${n}\r\n\r\n${body(n)}`;
  acceptsEverySplit('content-length', decode, b(`${sized(M)}GET / HTTP/1.1\r\nHost: h\r\n\r\n`), [
    `POST / host=h,content-length=${M} [${body(M)}]`,
    'GET / host=h []',
  ]);
  refusesEverySplit('content-length', decode, b(sized(M + 1)), status(413, 'body larger than 20 bytes'));
  // Refused from the headers alone.
  refusesEverySplit('content-length header', decode, b(sized(M + 1).slice(0, -(M + 1))), status(413, 'body'));
  const chunked = (n: number) =>
    `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n${body(5)}\r\n${(n - 5).toString(16)}\r\n${body(n - 5)}\r\n0\r\n\r\n`;
  acceptsEverySplit('chunked', decode, b(chunked(M)), [
    `POST / host=h,transfer-encoding=chunked [${body(M)}]`,
  ]);
  refusesEverySplit('chunked', decode, b(chunked(M + 1)), status(413, 'body larger than 20 bytes'));
});

test('http: a chunk-size line at 1024 bytes and one past', () => {
  const decode = httpDecode({});
  const sizeLine = (n: number) => `3;e=${'x'.repeat(n - 4)}`; // n bytes
  const request = (n: number) =>
    `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${sizeLine(n)}\r\nabc\r\n0\r\n\r\n`;
  // 1024-byte lines split at every position are ~1,100 decodes each: cheap enough.
  acceptsEverySplit('size line', decode, b(request(1024)), ['POST / host=h,transfer-encoding=chunked [abc]']);
  refusesEverySplit('size line', decode, b(request(1025)), status(400, 'chunk size line too long'));
});

// ---- PROXY ------------------------------------------------------------------------------------------------

/** Feed the preface until it is done; the header's fields and the bytes that followed it. */
const preface = (options: ProxyOptions) => (chunks: Buffer[]) => {
  const p = proxyPreface(options);
  const rest: string[] = [];
  let header: unknown;
  for (const chunk of chunks) {
    const scratch = Buffer.from(chunk);
    if (header !== undefined) rest.push(scratch.toString('latin1'));
    else {
      const r = p.push(scratch);
      if (r.state === 'done') {
        header = { ...r.header };
        rest.push(r.rest.toString('latin1'));
      }
    }
    scratch.fill(0xee);
  }
  return { header, rest: rest.join('') };
};

test('proxy v1: a header line of 107 bytes (CRLF included) is read, 108 refused', () => {
  const decode = preface({});
  const v1 = (n: number) => `PROXY UNKNOWN ${'f'.repeat(n - 16)}\r\n`; // n bytes
  assert.equal(v1(107).length, 107);
  acceptsEverySplit('v1', decode, b(`${v1(107)}hello`), {
    header: { version: 1, command: 'PROXY', family: 'unknown' },
    rest: 'hello',
  });
  refusesEverySplit('v1', decode, b(`${v1(108)}hello`), /v1 header longer than 107 bytes/);
  // 107 bytes without their LF cannot be a header: refused without waiting for more.
  acceptsEverySplit('v1 partial', decode, b(v1(107).slice(0, 106)), { header: undefined, rest: '' });
  refusesEverySplit('v1 partial', decode, b(`${v1(108)}`.slice(0, 107)), /v1 header longer than 107 bytes/);
});

test('proxy v2: maxV2Length at the limit and one past, refused from the fixed header alone', () => {
  const M = 20;
  const decode = preface({ maxV2Length: M });
  // PROXY over TCP/IPv4: 12 address bytes, then TLVs padding the block to n bytes.
  const v2 = (n: number) => {
    const out = Buffer.alloc(16 + n);
    b('\r\n\r\n\0\r\nQUIT\n').copy(out, 0);
    out[12] = 0x21;
    out[13] = 0x11;
    out.writeUInt16BE(n, 14);
    out.set([127, 0, 0, 9, 127, 0, 0, 1], 16);
    out.writeUInt16BE(4242, 24);
    out.writeUInt16BE(7000, 26);
    out[28] = 0x04; // PP2_TYPE_NOOP with the rest as its value
    out.writeUInt16BE(n - 15, 29);
    return out;
  };
  acceptsEverySplit('v2', decode, Buffer.concat([v2(M), b('hello')]), {
    header: {
      version: 2,
      command: 'PROXY',
      family: 'IPv4',
      source: { address: '127.0.0.9', port: 4242 },
      destination: { address: '127.0.0.1', port: 7000 },
    },
    rest: 'hello',
  });
  refusesEverySplit(
    'v2',
    decode,
    Buffer.concat([v2(M + 1), b('hello')]),
    /v2 header of 21 bytes exceeds the limit of 20/,
  );
  refusesEverySplit('v2 fixed header', decode, v2(M + 1).subarray(0, 16), /exceeds the limit/);
});
