// Bad input on a live server (issue 8, item 5; the codec fuzzing itself is test/protocols/fuzz.test.ts and
// bench/fuzz-codecs.ts). For each codec's app (line-echo, a length-prefixed echo, kv on RESP, http, and
// PROXY v1/v2 headers in front of echo): inputs that break the protocol each end in 'protocol-error' on
// their own connection (after the protocol's error reply, where it has one); hundreds of random and
// mutated inputs (the fuzzer's generators) each end cleanly, never in a handler error or a transport
// error; and clients speaking the protocol correctly on other connections are answered throughout.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { mutate, Rng, TARGETS } from '../../bench/fuzz-lib.ts';
import { memoryLogger, type ServeOptions, serve } from '../../src/index.ts';
import { encodeProxyHeader } from '../../src/protocols/proxy.ts';
import { eventually } from '../helpers/client.ts';
import { faultApp } from './helpers.ts';

interface Target {
  name: string;
  /** The fuzz-lib target whose generator makes the random inputs. */
  fuzz: string;
  options: Partial<ServeOptions>;
  /** A correct request and the exact reply it gets. */
  request: Buffer;
  reply: Buffer;
  /** Inputs that must end in a protocol error. */
  bad: Buffer[];
}

const b = (s: string) => Buffer.from(s, 'latin1');
const frame = (payload: string) => {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.length);
  return Buffer.concat([head, b(payload)]);
};
const proxyV1 = b('PROXY TCP4 203.0.113.9 127.0.0.1 40000 7000\r\n');
const proxyV2 = encodeProxyHeader({
  version: 2,
  command: 'PROXY',
  family: 'IPv4',
  source: { address: '203.0.113.9', port: 40000 },
  destination: { address: '127.0.0.1', port: 7000 },
});
const V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

const HTTP_OK = b(
  'HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 16\r\n\r\nhello from c10k\n',
);

const TARGETS_LIVE: Target[] = [
  {
    name: 'line (line-echo)',
    fuzz: 'line',
    options: { app: 'line-echo' },
    request: b('hello\n'),
    reply: b('hello\n'),
    bad: [Buffer.alloc(70_000, 'a'), Buffer.concat([b('ok\n'), Buffer.alloc(70_000, 0)])],
  },
  {
    name: 'length (length-echo)',
    fuzz: 'length',
    options: { app: faultApp('length-echo') },
    request: frame('hello'),
    reply: frame('hello'),
    bad: [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.concat([frame('x'), Buffer.from([0x7f, 0, 0, 0])])],
  },
  {
    name: 'RESP (kv)',
    fuzz: 'resp',
    options: { app: 'kv' },
    request: b('*1\r\n$4\r\nPING\r\n'),
    reply: b('+PONG\r\n'),
    bad: [
      b('*abc\r\n'),
      b('*1\r\n$-5\r\n'),
      b('*2\r\n$99999999999\r\n'),
      b('*1\r\n:5\r\n'),
      b('*1\r\n$3\r\nGETxx'),
      b(`*1\r\n$${2 ** 30}\r\n`),
    ],
  },
  {
    name: 'HTTP (http)',
    fuzz: 'http',
    options: { app: 'http' },
    request: b('GET / HTTP/1.1\r\nhost: x\r\n\r\n'),
    reply: HTTP_OK,
    bad: [
      b('GET\r\n\r\n'),
      b('GET / HTTP/9.9\r\n\r\n'),
      b('GET / HTTP/1.1\r\nno colon here\r\n\r\n'),
      b('POST / HTTP/1.1\r\ncontent-length: -1\r\n\r\n'),
      b('POST / HTTP/1.1\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n'),
      b(`GET /${'a'.repeat(70_000)} HTTP/1.1\r\n\r\n`),
      b('POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'),
    ],
  },
  {
    name: 'PROXY v1 (echo)',
    fuzz: 'proxy-v1',
    options: { app: 'echo', proxyProtocol: true },
    request: Buffer.concat([proxyV1, b('hello')]),
    reply: b('hello'),
    bad: [
      b('PROXY TCP9 1.2.3.4 5.6.7.8 1 2\r\n'),
      b('PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n'),
      b('PROXY TCP4 1.2.3.4\r\n'),
      b(`PROXY ${'x'.repeat(200)}`),
      b('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'),
    ],
  },
  {
    name: 'PROXY v2 (echo)',
    fuzz: 'proxy-v2',
    options: { app: 'echo', proxyProtocol: true },
    request: Buffer.concat([proxyV2, b('hello')]),
    reply: b('hello'),
    bad: [
      Buffer.concat([V2_SIG, Buffer.from([0x31, 0x11, 0x00, 0x0c]), Buffer.alloc(12)]), // version 3
      Buffer.concat([V2_SIG, Buffer.from([0x2f, 0x11, 0x00, 0x0c]), Buffer.alloc(12)]), // command 15
      Buffer.concat([V2_SIG, Buffer.from([0x21, 0x11, 0x00, 0x04]), Buffer.alloc(4)]), // too short for IPv4
      Buffer.concat([V2_SIG, Buffer.from([0x21, 0x11, 0xff, 0xff])]), // longer than the limit
    ],
  },
];

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Write `input`, optionally FIN, and resolve once the server has closed the connection. */
function sendAndAwaitClose(
  port: number,
  input: Buffer,
  fin: boolean,
): Promise<{ closed: boolean; reply: Buffer }> {
  return open(port).then(
    (s) =>
      new Promise((resolve) => {
        const chunks: Buffer[] = [];
        const timer = setTimeout(() => {
          s.destroy();
          resolve({ closed: false, reply: Buffer.concat(chunks) });
        }, 5000);
        s.on('data', (d) => chunks.push(d));
        s.on('error', () => {});
        s.on('close', () => {
          clearTimeout(timer);
          resolve({ closed: true, reply: Buffer.concat(chunks) });
        });
        if (fin) s.end(input);
        else s.write(input);
      }),
  );
}

/** A client that speaks the protocol correctly, request after request, until stopped. */
function goodClient(port: number, target: Target) {
  let stop = false;
  let answered = 0;
  const done = open(port).then(async (s) => {
    let got = Buffer.alloc(0);
    let closed = false;
    let wake: (() => void) | null = null;
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      wake?.();
    });
    s.on('close', () => {
      closed = true;
      wake?.();
    });
    // PROXY targets: the header goes once, first; then plain bytes.
    const proxied = target.options.proxyProtocol === true;
    const header = proxied ? target.request.subarray(0, target.request.length - target.reply.length) : null;
    const body = proxied ? target.reply : target.request;
    if (header) s.write(header);
    while (!stop) {
      got = Buffer.alloc(0);
      s.write(body);
      const deadline = Date.now() + 5000;
      while (got.length < target.reply.length && !closed && Date.now() < deadline)
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      assert.ok(!closed, `${target.name}: a good client was closed`);
      assert.ok(got.equals(target.reply), `${target.name}: wrong reply ${got.toString('latin1')}`);
      answered++;
    }
    s.destroy();
  });
  return {
    stop: async () => {
      stop = true;
      await done;
      return answered;
    },
  };
}

const RANDOM_INPUTS = Number(process.env.C10K_GARBAGE_INPUTS ?? 200);

describe('garbage on a live server', { concurrency: false, timeout: 120_000 }, () => {
  for (const backend of ['syscall', 'node'] as const) {
    for (const target of TARGETS_LIVE) {
      test(`${target.name} (${backend}): bad input ends its own connection in a protocol error, others go on`, async (t) => {
        const server = await serve({
          ...target.options,
          app: target.options.app!,
          backend,
          port: 0,
          logger: memoryLogger(),
        });
        try {
          const good = [goodClient(server.port, target), goodClient(server.port, target)];
          for (const input of target.bad) {
            const r = await sendAndAwaitClose(server.port, input, false);
            assert.ok(r.closed, `${target.name}: ${input.subarray(0, 40).toString('latin1')} was not closed`);
          }
          // (The server counts a close once both sides are done: just after the client sees it.)
          await eventually(
            async () => (await server.stats()).closed['protocol-error'] === target.bad.length,
            5000,
            `${target.bad.length} protocol errors counted`,
          );
          // Random and mutated inputs, each on its own connection, ended with FIN.
          const fuzz = TARGETS.find((x) => x.name === target.fuzz)!;
          const rng = new Rng(0xbad + target.name.length);
          let closed = 0;
          for (let i = 0; i < RANDOM_INPUTS; i += 20) {
            const batch = Array.from({ length: Math.min(20, RANDOM_INPUTS - i) }, () =>
              sendAndAwaitClose(server.port, mutate(rng, fuzz.valid(rng), fuzz.valid(rng)), true),
            );
            for (const r of await Promise.all(batch)) if (r.closed) closed++;
          }
          const answered = await Promise.all(good.map((g) => g.stop()));
          const stats = await server.stats();
          t.diagnostic(
            `${target.bad.length} malformed -> protocol-error; ${RANDOM_INPUTS} random/mutated -> ${stats.closed['protocol-error'] - target.bad.length} protocol errors, all ${closed} closed cleanly; good clients: ${answered.join(' + ')} answers`,
          );
          assert.equal(closed, RANDOM_INPUTS, 'a connection with random input was left open');
          assert.equal(stats.closed['handler-error'], 0);
          assert.equal(stats.closed.error, 0);
          for (const n of answered) assert.ok(n > 0);
        } finally {
          await server.close();
        }
      });
    }
  }
});
