// curl against `c10k serve --app http` with the Host fields RFC 9112 §3.2 rejects (issue 16, finding 9):
// none on HTTP/1.1, two, or an invalid value: 400 and the connection closed; a normal request: 200.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { c10kServe, missing, run } from './helpers.ts';

const noCurl = missing('curl', 'curl');

test('curl: a request without Host, with two, or with an invalid one gets 400', {
  skip: noCurl,
}, async (t) => {
  const server = await c10kServe(['--app', 'http']);
  const status = async (...args: string[]) => {
    const { stdout } = await run('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      ...args,
      `http://127.0.0.1:${server.port}/`,
    ]);
    return Number(stdout);
  };
  try {
    const cases: [string, string[], number][] = [
      ['curl as it is', [], 200],
      ['HTTP/1.0 without Host', ['--http1.0', '-H', 'Host:'], 200],
      ['HTTP/1.1 without Host', ['-H', 'Host:'], 400],
      // curl sends one Host of several -H; a CRLF inside a header value it passes as is (7.88).
      ['two Host fields', ['-H', 'X: y\r\nHost: b'], 400],
      ['Host with a space', ['-H', 'Host: a b'], 400],
      ['Host with userinfo', ['-H', 'Host: user@example.com'], 400],
      ['Host with a bad port', ['-H', 'Host: example.com:80x'], 400],
      ['Host as an unclosed IPv6 literal', ['-H', 'Host: [::1'], 400],
      ['Host as an IPv6 literal with a port', ['-H', 'Host: [::1]:8080'], 200],
    ];
    for (const [what, args, expected] of cases) {
      const got = await status(...args);
      t.diagnostic(`${what}: ${got}`);
      assert.equal(got, expected, what);
    }
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
