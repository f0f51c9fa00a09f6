import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolError } from '../../src/protocols/codec.ts';
import { resp, respCodec } from '../../src/protocols/resp.ts';
import { decodeEverySplit, feed, str } from './helpers.ts';

const cmd = (...args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

test('arrays of bulk strings and inline commands, pipelined, at every split', () => {
  const input = Buffer.from(
    cmd('SET', 'key', 'value') +
      'PING\r\n' +
      cmd('GET', 'key') +
      '  ECHO   hello \t world\r\n' +
      '\r\n' + // an empty inline line is ignored
      '*0\r\n*-1\r\n' + // ignored, as Redis does
      cmd('SET', 'bin', 'a\r\nb\0c') +
      cmd('') +
      'QUIT\n',
  );
  const got = decodeEverySplit(respCodec(), input).map(str);
  assert.deepEqual(got, [
    ['SET', 'key', 'value'],
    ['PING'],
    ['GET', 'key'],
    ['ECHO', 'hello', 'world'],
    ['SET', 'bin', 'a\r\nb\0c'],
    [''],
    ['QUIT'],
  ]);
});

test('commands inside one chunk are views of it; split ones are owned copies', () => {
  const decoder = respCodec().decoder();
  const chunk = Buffer.from(cmd('GET', 'k') + cmd('SET', 'a', 'b').slice(0, 12));
  const seen: Buffer[][] = [];
  decoder.push(chunk, (args) => seen.push(args));
  assert.equal(seen.length, 1);
  assert.equal(seen[0][1].buffer, chunk.buffer);
  assert.ok(decoder.buffered > 0);
  chunk.fill(0); // the caller reuses its buffer
  decoder.push(Buffer.from(cmd('SET', 'a', 'b').slice(12)), (args) => seen.push(args));
  assert.deepEqual(str(seen[1]), ['SET', 'a', 'b']);
  assert.equal(decoder.buffered, 0);
});

test('a large bulk arriving in pieces', () => {
  const big = 'x'.repeat(100_000);
  const input = Buffer.from(cmd('SET', 'k', big) + cmd('GET', 'k'));
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += 1000) chunks.push(input.subarray(i, i + 1000));
  const got = feed(respCodec(), chunks);
  assert.equal(got.length, 2);
  assert.equal(got[0][2].toString(), big);
  assert.deepEqual(str(got[1]), ['GET', 'k']);
});

function rejects(input: string, options: Parameters<typeof respCodec>[0], reply: RegExp) {
  // Whole and byte by byte: the error comes either way, with a RESP error reply.
  for (const chunks of [[Buffer.from(input)], [...Buffer.from(input)].map((b) => Buffer.from([b]))]) {
    assert.throws(
      () => feed(respCodec(options), chunks),
      (error: unknown) => {
        assert.ok(error instanceof ProtocolError, String(error));
        const text = Buffer.from(error.reply!).toString();
        assert.match(text, /^-ERR Protocol error: .*\r\n$/);
        assert.match(text, reply);
        return true;
      },
    );
  }
}

test('limits and malformed input produce RESP error replies', () => {
  rejects('*3\r\n', { maxArgs: 2 }, /invalid multibulk length/);
  rejects('*x\r\n', {}, /invalid multibulk length/);
  rejects(`*${'9'.repeat(40)}\r\n`, {}, /invalid multibulk length/);
  rejects('*1\r\n$11\r\n', { maxBulkBytes: 10 }, /invalid bulk length/);
  rejects('*1\r\n$-1\r\n', {}, /invalid bulk length/);
  rejects('*1\r\n+OK\r\n', {}, /expected '\$', got '\+'/);
  rejects('*1\r\n$3\r\nabcd\r\n', {}, /expected CRLF after bulk/);
  rejects('*1\r\n$3\nabc\r\n', {}, /invalid bulk length/);
  rejects(`${'A'.repeat(100)}\r\n`, { maxInlineBytes: 64 }, /too big inline request/);
  rejects(`${'A'.repeat(100)}`, { maxInlineBytes: 64 }, /too big inline request/);
  rejects(cmd('a', 'b', 'c', 'd').slice(0, -1), { maxCommandBytes: 2 }, /command too big/);
  rejects('a b c\r\n', { maxArgs: 2 }, /too many arguments/);
});

test('buffered stays within the limits while a command is incomplete', () => {
  const decoder = respCodec({ maxBulkBytes: 1 << 20 }).decoder();
  decoder.push(Buffer.from('*1\r\n$1048576\r\n'), () => {});
  decoder.push(Buffer.alloc(1000, 0x61), () => {});
  assert.equal(decoder.buffered, 1000 + 3, 'the bytes received and the length they will be kept with');
});

test('reply builders', () => {
  assert.equal(resp.simple('OK').toString(), '+OK\r\n');
  assert.equal(resp.simple('a\r\nb').toString(), '+a  b\r\n');
  assert.equal(resp.error('ERR nope').toString(), '-ERR nope\r\n');
  assert.equal(resp.integer(0).toString(), ':0\r\n');
  assert.equal(resp.integer(-12345).toString(), ':-12345\r\n');
  assert.equal(resp.integer(2n ** 62n).toString(), `:${2n ** 62n}\r\n`);
  assert.equal(resp.bulk(null).toString(), '$-1\r\n');
  assert.equal(resp.bulk('héllo').toString(), '$6\r\nhéllo\r\n');
  assert.equal(resp.bulk(Buffer.from('a\r\n')).toString(), '$3\r\na\r\n\r\n');
  assert.equal(resp.array([]).toString(), '*0\r\n');
  assert.equal(resp.array(null).toString(), '*-1\r\n');
  assert.equal(resp.array([resp.integer(1), resp.bulk('x')]).toString(), '*2\r\n:1\r\n$1\r\nx\r\n');
  assert.equal(resp.bulks(['a', null]).toString(), '*2\r\n$1\r\na\r\n$-1\r\n');
  const codec = respCodec();
  const b = resp.OK;
  assert.equal(codec.encode(b), b);
  assert.throws(() => respCodec({ maxArgs: 0 }), RangeError);
});
