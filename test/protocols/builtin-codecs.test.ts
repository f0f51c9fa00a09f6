import assert from 'node:assert/strict';
import { test } from 'node:test';
import { length, line, ProtocolError, raw } from '../../src/protocols/index.ts';
import { prng } from '../helpers/client.ts';

/** Feed `stream` in random pieces; return the decoded messages as strings (copied at emit time). */
function decodeSplit(codec: ReturnType<typeof line>, stream: Buffer, seed: number, maxPiece = 17): string[] {
  const decoder = codec.decoder();
  const out: string[] = [];
  const random = prng(seed);
  for (let at = 0; at < stream.length; ) {
    const n = 1 + Math.floor(random() * maxPiece);
    // A scratch buffer reused for every piece, as the syscall backend's read buffer is.
    const scratch = Buffer.alloc(n);
    stream.copy(scratch, 0, at, at + n);
    decoder.push(scratch.subarray(0, Math.min(n, stream.length - at)), (m) => out.push(m.toString()));
    scratch.fill(0);
    at += n;
  }
  return out;
}

test('line: lines come out whole at any split, CRLF stripped, empty lines kept', () => {
  const input = Buffer.from('alpha\r\nbeta\n\ngamma with spaces\nlast\n');
  for (let seed = 1; seed < 200; seed++) {
    assert.deepEqual(decodeSplit(line(), input, seed), ['alpha', 'beta', '', 'gamma with spaces', 'last']);
  }
  assert.equal(line().decoder().buffered, 0);
});

test('line: a line over the limit is a ProtocolError, also when it arrives in pieces', () => {
  const codec = line({ maxLineBytes: 10 });
  assert.deepEqual(decodeSplit(codec, Buffer.from('0123456789\n'), 1), ['0123456789']);
  assert.throws(() => decodeSplit(codec, Buffer.from('0123456789A\n'), 1, 3), ProtocolError);
  assert.throws(() => codec.decoder().push(Buffer.from('0123456789AB\n'), () => {}), /longer than 10 bytes/);
  const d = codec.decoder();
  assert.throws(() => {
    for (let i = 0; i < 20; i++) d.push(Buffer.from('x'), () => {});
  }, ProtocolError);
});

test('line: buffered reports the partial line', () => {
  const d = line().decoder();
  d.push(Buffer.from('abc'), () => assert.fail('no line yet'));
  assert.equal(d.buffered, 3);
  const got: string[] = [];
  d.push(Buffer.from('def\n'), (m) => got.push(m.toString()));
  assert.deepEqual(got, ['abcdef']);
  assert.equal(d.buffered, 0);
});

test('line: encode adds exactly one newline', () => {
  const codec = line();
  assert.equal(codec.encode('hi').toString(), 'hi\n');
  assert.equal(codec.encode('hi\n').toString(), 'hi\n');
  assert.equal(codec.encode(Buffer.from('hi')).toString(), 'hi\n');
});

test('length: frames round-trip at any split, including empty frames', () => {
  const codec = length();
  const frames = ['', 'a', 'hello world', 'x'.repeat(70_000), ''];
  const stream = Buffer.concat(frames.map((f) => codec.encode(f) as Buffer));
  for (let seed = 1; seed < 50; seed++) assert.deepEqual(decodeSplit(codec, stream, seed, 5000), frames);
  assert.deepEqual(decodeSplit(codec, stream, 7, 1), frames);
});

test('length: an announced length over the limit is refused before the payload arrives', () => {
  const d = length({ maxFrameBytes: 100 }).decoder();
  const header = Buffer.alloc(4);
  header.writeUInt32BE(101);
  assert.throws(() => d.push(header, () => {}), /frame of 101 bytes exceeds the limit of 100/);
  assert.throws(() => length({ maxFrameBytes: -1 }), RangeError);
});

test('raw: each chunk is one message, no copy', () => {
  const chunk = Buffer.from('abc');
  let seen: Buffer | undefined;
  raw.decoder().push(chunk, (m) => (seen = m));
  assert.equal(seen, chunk);
  assert.equal(raw.encode(chunk), chunk);
});
