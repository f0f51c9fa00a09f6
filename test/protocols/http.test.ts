import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolError } from '../../src/protocols/codec.ts';
import { type HttpOptions, type HttpRequest, httpCodec, response } from '../../src/protocols/http.ts';
import { decodeEverySplit, feed } from './helpers.ts';

const summary = (r: HttpRequest) => ({
  method: r.method,
  target: r.target,
  version: r.version,
  headers: [...r.headers],
  body: r.body.toString(),
  keepAlive: r.keepAlive,
});

test('pipelined requests with every kind of body, at every split', () => {
  const input = Buffer.from(
    'GET / HTTP/1.1\r\nHost: a\r\n\r\n' +
      '\r\n' + // a stray CRLF between requests is tolerated
      'POST /form?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-Two:  spaced value \t\r\n\r\nhello' +
      'PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: t\r\n\r\n' +
      'GET /lf HTTP/1.1\nHost: b\n\n' +
      'GET /ten HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' +
      'GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' +
      'GET /ignored HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  const got = decodeEverySplit(httpCodec(), input).map(summary);
  assert.deepEqual(got, [
    { method: 'GET', target: '/', version: '1.1', headers: [['host', 'a']], body: '', keepAlive: true },
    {
      method: 'POST',
      target: '/form?x=1',
      version: '1.1',
      headers: [
        ['host', 'x'],
        ['content-length', '5'],
        ['x-two', 'spaced value'],
      ],
      body: 'hello',
      keepAlive: true,
    },
    {
      method: 'PUT',
      target: '/c',
      version: '1.1',
      headers: [
        ['host', 'x'],
        ['transfer-encoding', 'chunked'],
      ],
      body: 'abcde',
      keepAlive: true,
    },
    { method: 'GET', target: '/lf', version: '1.1', headers: [['host', 'b']], body: '', keepAlive: true },
    {
      method: 'GET',
      target: '/ten',
      version: '1.0',
      headers: [['connection', 'keep-alive']],
      body: '',
      keepAlive: true,
    },
    {
      method: 'GET',
      target: '/last',
      version: '1.1',
      headers: [
        ['host', 'x'],
        ['connection', 'close'],
      ],
      body: '',
      keepAlive: false,
    },
  ]);
});

test('HTTP/1.0 closes by default; header lookup is case-insensitive', () => {
  const [r] = feed(httpCodec(), [Buffer.from('GET / HTTP/1.0\r\nX-Thing: 1\r\nx-thing: 2\r\n\r\n')]);
  assert.equal(r.keepAlive, false);
  assert.equal(r.headers.get('X-THING'), '1');
  assert.deepEqual(r.headers.getAll('x-Thing'), ['1', '2']);
  assert.equal(r.headers.has('nope'), false);
});

test('a body inside the chunk is a view; one across chunks is owned', () => {
  const decoder = httpCodec().decoder();
  const chunk = Buffer.from('POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 3\r\n\r\nabc');
  let body: Buffer | undefined;
  decoder.push(chunk, (r) => (body = r.body));
  assert.equal(body!.buffer, chunk.buffer);
  assert.equal(decoder.buffered, 0);
  decoder.push(Buffer.from('POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 3\r\n\r\nab'), () => assert.fail());
  assert.ok(decoder.buffered > 0);
});

function rejects(input: string, status: number, options: HttpOptions = {}) {
  for (const chunks of [[Buffer.from(input)], [...Buffer.from(input)].map((b) => Buffer.from([b]))]) {
    assert.throws(
      () => feed(httpCodec(options), chunks),
      (error: unknown) => {
        assert.ok(error instanceof ProtocolError, String(error));
        const reply = Buffer.from(error.reply!).toString();
        assert.match(reply, new RegExp(`^HTTP/1.1 ${status} `));
        assert.match(reply, /\r\nconnection: close\r\n/);
        const [head, body] = reply.split('\r\n\r\n');
        assert.equal(Number(/content-length: (\d+)/.exec(head)![1]), Buffer.byteLength(body));
        return true;
      },
      `${JSON.stringify(input.slice(0, 60))} should answer ${status}`,
    );
  }
}

test('limits and malformed requests answer 4xx/5xx and close', () => {
  rejects(`GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414);
  rejects(`GET /${'a'.repeat(9000)}`, 414);
  rejects(`GET / HTTP/1.1\r\nHost: x\r\n${'x: y\r\n'.repeat(101)}\r\n`, 431);
  rejects(`GET / HTTP/1.1\r\nHost: x\r\nbig: ${'v'.repeat(17000)}\r\n\r\n`, 431);
  rejects(`GET / HTTP/1.1\r\nHost: x\r\n${'header: value\r\n'.repeat(90)}`, 431, { maxHeaderBytes: 1000 });
  rejects('POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 1048577\r\n\r\n', 413);
  rejects('POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n100\r\n', 413, {
    maxBodyBytes: 100,
  });
  rejects('POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n50\r\n', 413, {
    maxBodyBytes: 10,
  });
  rejects('GET  / HTTP/1.1\r\nHost: x\r\n\r\n', 400);
  rejects('GET / HTTP/1.1 \r\n\r\n', 400);
  rejects('GET / FTP/1.1\r\n\r\n', 400);
  rejects('GET / HTTP/2.0\r\n\r\n', 505);
  rejects('G(T / HTTP/1.1\r\nHost: x\r\n\r\n', 400);
  rejects('GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n', 400);
  rejects('GET / HTTP/1.1\r\nHost: x\r\nname : v\r\n\r\n', 400);
  rejects('GET / HTTP/1.1\r\nHost: x\r\na: b\r\n folded\r\n\r\n', 400);
  rejects('GET / HTTP/1.1\r\nHost: x\r\na: b\x01c\r\n\r\n', 400);
  rejects('POST / HTTP/1.1\r\nHost: x\r\ncontent-length: -1\r\n\r\n', 400);
  rejects('POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n', 400);
  rejects('POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n', 400);
  rejects('POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: gzip\r\n\r\n', 501);
  rejects('POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', 400);
  rejects('POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n', 400);
});

test('response builder', () => {
  assert.equal(
    response(200, { 'content-type': 'text/plain' }, 'hi').toString(),
    'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nhi',
  );
  assert.equal(
    response(404, {}, 'x', false).toString(),
    'HTTP/1.1 404 Not Found\r\ncontent-length: 1\r\nconnection: close\r\n\r\nx',
  );
  assert.equal(
    response(200, [['a', 1]], 'body', true, true).toString(),
    'HTTP/1.1 200 OK\r\na: 1\r\ncontent-length: 4\r\n\r\n',
  );
  assert.equal(response(204).toString(), 'HTTP/1.1 204 No Content\r\n\r\n');
  assert.equal(
    response(200, {}, Buffer.from('é')).toString(),
    'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\né',
  );
  assert.throws(() => response(200, { a: 'x\r\ny' }), TypeError);
  const codec = httpCodec();
  assert.equal(codec.encode('raw'), 'raw');
});
