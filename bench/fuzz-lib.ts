// A small seeded property fuzzer for the codecs (no dependency). For each codec: valid inputs from a
// generator, mutations of them (bit flips, truncation, duplication, splicing, huge length fields) and plain
// random bytes, each fed in random splits. Properties: push() only ever throws ProtocolError; `buffered`
// stays within the codec's configured bound; a valid input decodes the same whatever the split points.
// Shared by test/protocols/fuzz.test.ts (a few thousand inputs) and bench/fuzz-codecs.ts (many more).
import type { Codec, Decoder } from '../src/protocols/codec.ts';
import { ProtocolError } from '../src/protocols/codec.ts';
import { httpCodec } from '../src/protocols/http.ts';
import { length } from '../src/protocols/length.ts';
import { line } from '../src/protocols/line.ts';
import { encodeProxyHeader, type ProxyHeader, ProxyPreface } from '../src/protocols/proxy.ts';
import { respCodec } from '../src/protocols/resp.ts';
import { websocketDeflateTarget, websocketTarget } from './fuzz-websocket.ts';

/** mulberry32: tiny, fast, good enough for fuzzing; the same seed gives the same run. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** Printable token characters. */
  token(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(0x61 + this.int(26));
    return s;
  }
}

export interface FuzzTarget {
  name: string;
  /** A decoder and a way to make owned copies of what it emits. */
  codec: Codec<unknown, unknown>;
  /** The most `buffered` may ever report. */
  bound: number;
  valid(rng: Rng): Buffer;
  /** Messages in a form that does not depend on chunking (default: as emitted). */
  normalize?(messages: unknown[]): unknown[];
  /** Why a refusal is not what the codec promises (say, a WebSocket close frame with a code), or null. */
  refusal?(error: ProtocolError): string | null;
}

/** The PROXY preface as a codec: emits the header once, then each later chunk as is. */
function proxyCodec(): Codec<unknown, Buffer> {
  return {
    name: 'proxy',
    decoder(): Decoder<unknown> {
      const preface = new ProxyPreface({ maxV2Length: 512 });
      let done = false;
      return {
        get buffered() {
          return preface.buffered;
        },
        push(chunk, emit) {
          if (done) {
            if (chunk.length > 0) emit(chunk);
            return;
          }
          const r = preface.push(chunk);
          if (r.state === 'done') {
            done = true;
            emit(r.header);
            if (r.rest.length > 0) emit(r.rest);
          }
        },
      };
    },
    encode: (m) => m,
    retain: (m) => (Buffer.isBuffer(m) ? Buffer.from(m) : structuredClone(m)),
  };
}

/** The header, then the bytes after it joined (they arrive as one message per chunk). */
function proxyNormalize(messages: unknown[]): unknown[] {
  return messages.length === 0 ? [] : [messages[0], Buffer.concat(messages.slice(1) as Buffer[])];
}

function ipv4(rng: Rng): string {
  return [rng.int(256), rng.int(256), rng.int(256), rng.int(256)].join('.');
}
function ipv6(rng: Rng): string {
  const words = Array.from({ length: 8 }, () => (rng.int(3) === 0 ? 0 : rng.int(65536)).toString(16));
  return words.join(':');
}

function proxyHeader(rng: Rng, version: 1 | 2): ProxyHeader {
  const kind = rng.int(version === 1 ? 3 : 4);
  if (kind === 2) return { version, command: 'PROXY', family: 'unknown' };
  if (kind === 3) return { version, command: 'LOCAL', family: 'unknown' };
  const six = kind === 1;
  const address = () => (six ? ipv6(rng) : ipv4(rng));
  return {
    version,
    command: 'PROXY',
    family: six ? 'IPv6' : 'IPv4',
    source: { address: address(), port: rng.int(65536) },
    destination: { address: address(), port: rng.int(65536) },
  };
}

function respCommand(rng: Rng): string {
  if (rng.int(4) === 0)
    return `${Array.from({ length: 1 + rng.int(4) }, () => rng.token(1 + rng.int(8))).join(' ')}\r\n`;
  const args = Array.from({ length: 1 + rng.int(5) }, () =>
    rng.bytes(rng.int(rng.int(8) === 0 ? 300 : 12)).toString('latin1'),
  );
  return `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;
}

function httpRequest(rng: Rng, last: boolean): string {
  const method = rng.pick(['GET', 'POST', 'PUT', 'HEAD', 'DELETE']);
  const headers = Array.from(
    { length: rng.int(5) },
    () => `${rng.token(1 + rng.int(10))}: ${rng.token(rng.int(20))}\r\n`,
  );
  let body = '';
  const kind = rng.int(3);
  if (kind === 1) {
    const b = rng.token(rng.int(200));
    headers.push(`Content-Length: ${b.length}\r\n`);
    body = b;
  } else if (kind === 2) {
    headers.push('Transfer-Encoding: chunked\r\n');
    for (let i = rng.int(4); i > 0; i--) {
      const b = rng.token(1 + rng.int(50));
      body += `${b.length.toString(16)}\r\n${b}\r\n`;
    }
    body += '0\r\n\r\n';
  }
  if (last && rng.int(2) === 0) headers.push('Connection: close\r\n');
  return `${method} /${rng.token(rng.int(30))} HTTP/1.${rng.int(4) === 0 ? 0 : 1}\r\nHost: x\r\nConnection: keep-alive\r\n${headers.join('')}\r\n${body}`;
}

export const TARGETS: FuzzTarget[] = [
  {
    name: 'line',
    codec: line({ maxLineBytes: 256 }),
    bound: 257,
    valid: (rng) =>
      Buffer.from(
        Array.from(
          { length: 1 + rng.int(6) },
          () => rng.token(rng.int(40)) + (rng.int(2) ? '\r\n' : '\n'),
        ).join(''),
      ),
  },
  {
    name: 'length',
    codec: length({ maxFrameBytes: 1024 }),
    bound: 1024 + 4,
    valid: (rng) =>
      Buffer.concat(
        Array.from({ length: 1 + rng.int(4) }, () => {
          const payload = rng.bytes(rng.int(100));
          const head = Buffer.alloc(4);
          head.writeUInt32BE(payload.length);
          return Buffer.concat([head, payload]);
        }),
      ),
  },
  {
    name: 'resp',
    codec: respCodec({ maxArgs: 16, maxBulkBytes: 1024, maxInlineBytes: 256, maxCommandBytes: 4096 }),
    bound: 4096,
    valid: (rng) =>
      Buffer.from(Array.from({ length: 1 + rng.int(5) }, () => respCommand(rng)).join(''), 'latin1'),
  },
  {
    name: 'http',
    codec: httpCodec({ maxRequestLineBytes: 256, maxHeaders: 10, maxHeaderBytes: 1024, maxBodyBytes: 2048 }),
    bound: 256 + 1024 + 2048 + 64,
    valid: (rng) => {
      const n = 1 + rng.int(3);
      return Buffer.from(Array.from({ length: n }, (_, i) => httpRequest(rng, i === n - 1)).join(''));
    },
  },
  {
    name: 'proxy-v1',
    codec: proxyCodec(),
    bound: 107,
    normalize: proxyNormalize,
    valid: (rng) =>
      Buffer.concat([encodeProxyHeader(proxyHeader(rng, 1)), Buffer.from(rng.token(rng.int(10)))]),
  },
  {
    name: 'proxy-v2',
    codec: proxyCodec(),
    bound: 16 + 512,
    normalize: proxyNormalize,
    valid: (rng) => Buffer.concat([encodeProxyHeader(proxyHeader(rng, 2)), rng.bytes(rng.int(10))]),
  },
];

TARGETS.push(websocketTarget, websocketDeflateTarget);

const HUGE = ['99999999999', '4294967295', '-1', '18446744073709551616', 'ffffffff', '65535', '1048577'];

/** A mutation of a valid input (or plain random bytes). */
export function mutate(rng: Rng, input: Buffer, other: Buffer): Buffer {
  const b = Buffer.from(input);
  switch (rng.int(9)) {
    case 0: // bit flips
      for (let i = 1 + rng.int(4); i > 0 && b.length > 0; i--) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return b;
    case 1: // truncation
      return b.subarray(0, rng.int(b.length + 1));
    case 2: {
      // duplicate a slice in place
      const from = rng.int(b.length + 1);
      const to = from + rng.int(b.length - from + 1);
      return Buffer.concat([b.subarray(0, to), b.subarray(from, to), b.subarray(to)]);
    }
    case 3: // splice two inputs
      return Buffer.concat([b.subarray(0, rng.int(b.length + 1)), other.subarray(rng.int(other.length + 1))]);
    case 4: {
      // a huge number where a number was
      const text = b.toString('latin1');
      const digits = [...text.matchAll(/\d+/g)];
      if (digits.length === 0) return b;
      const m = rng.pick(digits);
      return Buffer.from(
        text.slice(0, m.index) + rng.pick(HUGE) + text.slice(m.index + m[0].length),
        'latin1',
      );
    }
    case 5: // binary length fields to the maximum
      if (b.length >= 4) b.fill(0xff, rng.int(b.length - 3), undefined);
      return b.subarray(0, Math.min(b.length, 64));
    case 6: // random bytes inserted
      return Buffer.concat([
        b.subarray(0, rng.int(b.length + 1)),
        rng.bytes(1 + rng.int(8)),
        b.subarray(rng.int(b.length + 1)),
      ]);
    case 7: {
      // a long run of one byte (past line, header and body limits)
      const at = rng.int(b.length + 1);
      const run = Buffer.alloc(100 + rng.int(5000), rng.pick([0x61, 0x20, 0x30, 0x0d, 0x66]));
      return Buffer.concat([b.subarray(0, at), run, b.subarray(at)]);
    }
    default:
      return rng.bytes(rng.int(200));
  }
}

export interface FuzzCounts {
  inputs: number;
  messages: number;
  protocolErrors: number;
  clean: number;
}

/** Feed input in random splits; returns messages (owned) or the ProtocolError. Anything else throws. */
export function feedRandomly(
  rng: Rng,
  target: FuzzTarget,
  input: Buffer,
  whole = false,
): { messages: unknown[]; error?: ProtocolError } {
  const decoder = target.codec.decoder();
  const retain = target.codec.retain ?? ((m: unknown) => (Buffer.isBuffer(m) ? Buffer.from(m) : m));
  const messages: unknown[] = [];
  const keep = (m: unknown) => messages.push(retain(m));
  let at = 0;
  while (at < input.length || at === 0) {
    const size = whole || rng.int(4) === 0 ? input.length : 1 + rng.int(rng.int(2) ? 8 : 64);
    const scratch = Buffer.from(input.subarray(at, at + size)); // borrowed: scribbled over after push
    at += Math.max(size, 1);
    try {
      decoder.push(scratch, keep);
    } catch (error) {
      if (error instanceof ProtocolError) return { messages, error };
      throw new Error(
        `${target.name}: non-protocol exception ${String(error)} for input ${input.toString('hex')}`,
      );
    }
    scratch.fill(0xee);
    if (decoder.buffered > target.bound || decoder.buffered < 0) {
      throw new Error(
        `${target.name}: buffered ${decoder.buffered} exceeds ${target.bound} for input ${input.toString('hex')}`,
      );
    }
  }
  return { messages };
}

/** Run n inputs against a target; throws on any property violation. */
export function fuzz(
  target: FuzzTarget,
  seed: number,
  n: number,
  same: (a: unknown, b: unknown) => boolean,
): FuzzCounts {
  const rng = new Rng(seed);
  const counts: FuzzCounts = { inputs: 0, messages: 0, protocolErrors: 0, clean: 0 };
  for (let i = 0; i < n; i++) {
    const valid = target.valid(rng);
    let input: Buffer;
    if (i % 4 === 0) {
      // valid input: whole and in random splits must agree, without errors
      const whole = feedRandomly(rng, target, valid, true);
      const split = feedRandomly(rng, target, valid);
      if (whole.error || split.error) {
        throw new Error(
          `${target.name}: valid input rejected: ${(whole.error ?? split.error)!.message} ${valid.toString('hex')}`,
        );
      }
      const normal = target.normalize ?? ((m: unknown[]) => m);
      if (!same(normal(whole.messages), normal(split.messages))) {
        throw new Error(`${target.name}: split decoding differs for ${valid.toString('hex')}`);
      }
      input = valid;
    } else input = mutate(rng, valid, target.valid(rng));
    const result = feedRandomly(rng, target, input);
    counts.inputs++;
    counts.messages += result.messages.length;
    if (result.error) {
      counts.protocolErrors++;
      const wrong = target.refusal?.(result.error);
      if (wrong)
        throw new Error(
          `${target.name}: refusal ${wrong}: ${result.error.message} for ${input.toString('hex')}`,
        );
    } else counts.clean++;
  }
  return counts;
}

/** Deep equality that compares Buffers by content. */
export function sameMessages(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b))
    return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameMessages(x, b[i]));
  if (a !== null && typeof a === 'object') {
    if (b === null || typeof b !== 'object') return false;
    if (Symbol.iterator in a && !Array.isArray(a))
      return sameMessages([...(a as Iterable<unknown>)], [...(b as Iterable<unknown>)]);
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length &&
      ka.every((k) => sameMessages((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  return a === b;
}
