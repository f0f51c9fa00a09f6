// The bus across servers: Redis pub/sub spoken directly in RESP on node:net (no client dependency; the
// commands are SUBSCRIBE, UNSUBSCRIBE and PUBLISH). Two connections, as Redis requires: a subscribed
// connection can only (un)subscribe, so publications go out on a second one. Each reconnects with
// capped exponential backoff and jitter; the subscriber re-subscribes to every topic on reconnect.
// While the publisher is down, publications wait in a bounded queue (then are dropped, counted, logged);
// messages published by others during an outage are lost: pub/sub is at most once.
// Channel = 'c10k:' + topic. A message is an envelope `c10k1 ORIGIN KIND\n` + payload, ORIGIN naming the
// hub that sent it (its own messages come back from Redis and are skipped: it delivered them already),
// KIND 's' (text) or 'b' (bytes). A message without the envelope (say, redis-cli PUBLISH) is text.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Logger } from '../log.ts';
import { resp } from '../protocols/resp.ts';

export const CHANNEL_PREFIX = 'c10k:';
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
const MAX_QUEUED = 10_000;
/** Publisher socket bytes not yet taken by the kernel past which publications are dropped. */
const MAX_UNWRITTEN_BYTES = 8 * 1024 * 1024;
/** A reply larger than this (incomplete) closes the connection. */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export function parseBusUrl(url: string): { host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`bus URL '${url}' is not a URL (expected redis://HOST:PORT)`);
  }
  if (parsed.protocol !== 'redis:') throw new Error(`bus URL '${url}': only redis://HOST:PORT is supported`);
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  return { host, port };
}

// ---- replies ------------------------------------------------------------------------------------
export class RespError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}
export type RespValue = string | number | Buffer | null | RespError | RespValue[];

const CRLF_LEN = 2;

/** An incremental RESP2 reply reader: push bytes, get every complete reply. */
export class RespReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RespValue[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: RespValue[] = [];
    let pos = 0;
    for (;;) {
      const r = parseValue(this.buf, pos);
      if (r === undefined) break;
      out.push(r[0]);
      pos = r[1];
    }
    this.buf = pos === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
    if (this.buf.length > MAX_REPLY_BYTES) throw new Error('reply too large');
    return out;
  }
}

function parseValue(buf: Buffer, pos: number): [RespValue, number] | undefined {
  if (pos >= buf.length) return undefined;
  const eol = buf.indexOf('\r\n', pos);
  if (eol === -1) return undefined;
  const type = buf[pos];
  const line = buf.toString('latin1', pos + 1, eol);
  const next = eol + CRLF_LEN;
  switch (type) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [new RespError(buf.toString('utf8', pos + 1, eol)), next];
    case 0x3a: // :
      return [Number(line), next];
    case 0x24: {
      // $
      const n = Number(line);
      if (n < 0) return [null, next];
      if (buf.length < next + n + CRLF_LEN) return undefined;
      return [buf.subarray(next, next + n), next + n + CRLF_LEN];
    }
    case 0x2a: {
      // *
      const n = Number(line);
      if (n < 0) return [null, next];
      const items: RespValue[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseValue(buf, p);
        if (r === undefined) return undefined;
        items.push(r[0]);
        p = r[1];
      }
      return [items, p];
    }
    default:
      throw new Error(`bad RESP reply type ${JSON.stringify(String.fromCharCode(type))}`);
  }
}

// ---- one connection that keeps coming back ------------------------------------------------------
class Link {
  socket: Socket | null = null;
  connected = false;
  private attempts = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private reader = new RespReader();
  private readonly host: string;
  private readonly port: number;
  private readonly name: string;
  private readonly logger: Logger;
  private readonly onReady: () => void;
  private readonly onReply: (value: RespValue) => void;

  constructor(
    target: { host: string; port: number },
    name: string,
    logger: Logger,
    onReady: () => void,
    onReply: (value: RespValue) => void,
  ) {
    this.host = target.host;
    this.port = target.port;
    this.name = name;
    this.logger = logger;
    this.onReady = onReady;
    this.onReply = onReply;
    this.open();
  }

  write(bytes: Buffer): void {
    this.socket?.write(bytes);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.destroy();
  }

  private open(): void {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = socket;
    this.reader = new RespReader();
    socket.unref(); // the bus never keeps a process alive by itself
    socket.on('connect', () => {
      if (this.attempts > 0) this.logger.info(`bus: redis ${this.name} connection is back`);
      this.attempts = 0;
      this.connected = true;
      this.onReady();
    });
    socket.on('data', (chunk: Buffer) => {
      let replies: RespValue[];
      try {
        replies = this.reader.push(chunk);
      } catch (error) {
        this.logger.error(`bus: redis ${this.name} connection: ${(error as Error).message}`);
        socket.destroy();
        return;
      }
      for (const r of replies) this.onReply(r);
    });
    socket.on('error', (error) => {
      if (this.attempts === 0)
        this.logger.warn(`bus: redis ${this.name} connection to ${this.host}:${this.port}: ${error.message}`);
    });
    socket.on('close', () => {
      this.connected = false;
      this.socket = null;
      if (this.closed) return;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempts++);
      this.timer = setTimeout(() => this.open(), delay * (0.75 + Math.random() / 2));
      this.timer.unref();
    });
  }
}

// ---- the bus ------------------------------------------------------------------------------------
export class RedisBus {
  readonly origin = randomBytes(8).toString('hex');
  onMessage: (topic: string, payload: string | Buffer) => void = () => {};
  private readonly topics = new Set<string>();
  private readonly sub: Link;
  private readonly pub: Link;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private dropped = 0;
  private readonly logger: Logger;
  private readonly headers: Record<'s' | 'b', Buffer>;

  constructor(url: string, logger: Logger) {
    const target = parseBusUrl(url);
    this.logger = logger;
    this.headers = {
      s: Buffer.from(`c10k1 ${this.origin} s\n`),
      b: Buffer.from(`c10k1 ${this.origin} b\n`),
    };
    this.sub = new Link(
      target,
      'subscriber',
      logger,
      () => {
        if (this.topics.size > 0) this.sub.write(command('SUBSCRIBE', ...[...this.topics].map(channel)));
      },
      (reply) => this.subscriberReply(reply),
    );
    this.pub = new Link(
      target,
      'publisher',
      logger,
      () => this.flush(),
      (reply) => {
        if (reply instanceof RespError) logger.warn(`bus: redis PUBLISH failed: ${reply.message}`);
      },
    );
  }

  /** For tests and status: both connections up? what waits, what was dropped. */
  get state(): { connected: boolean; queued: number; dropped: number } {
    return {
      connected: this.sub.connected && this.pub.connected,
      queued: this.queue.length,
      dropped: this.dropped,
    };
  }

  subscribe(topic: string): void {
    if (this.topics.has(topic)) return;
    this.topics.add(topic);
    if (this.sub.connected) this.sub.write(command('SUBSCRIBE', channel(topic)));
  }

  unsubscribe(topic: string): void {
    if (!this.topics.delete(topic)) return;
    if (this.sub.connected) this.sub.write(command('UNSUBSCRIBE', channel(topic)));
  }

  publish(topic: string, payload: string | Uint8Array): void {
    const kind = typeof payload === 'string' ? 's' : 'b';
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const cmd = command('PUBLISH', channel(topic), Buffer.concat([this.headers[kind], body]));
    if (this.pub.connected) {
      if ((this.pub.socket?.writableLength ?? 0) > MAX_UNWRITTEN_BYTES) this.drop('redis is not keeping up');
      else this.pub.write(cmd);
      return;
    }
    if (this.queue.length >= MAX_QUEUED || this.queuedBytes + cmd.length > MAX_QUEUED_BYTES) {
      this.drop('redis is unreachable and the queue is full');
      return;
    }
    this.queue.push(cmd);
    this.queuedBytes += cmd.length;
  }

  close(): void {
    this.sub.close();
    this.pub.close();
    this.queue = [];
    this.queuedBytes = 0;
  }

  private flush(): void {
    if (this.queue.length === 0) return;
    this.pub.write(Buffer.concat(this.queue));
    this.queue = [];
    this.queuedBytes = 0;
  }

  private drop(why: string): void {
    if (this.dropped++ % 10_000 === 0)
      this.logger.warn(`bus: ${why}; publications dropped`, { dropped: this.dropped });
  }

  private subscriberReply(reply: RespValue): void {
    if (reply instanceof RespError) {
      this.logger.warn(`bus: redis subscriber error: ${reply.message}`);
      return;
    }
    if (!Array.isArray(reply) || reply.length !== 3 || !Buffer.isBuffer(reply[0])) return;
    if (reply[0].toString('latin1') !== 'message' || !Buffer.isBuffer(reply[1]) || !Buffer.isBuffer(reply[2]))
      return; // subscribe/unsubscribe confirmations
    const name = reply[1].toString();
    if (!name.startsWith(CHANNEL_PREFIX)) return;
    const topic = name.slice(CHANNEL_PREFIX.length);
    const data = reply[2];
    const envelope = openEnvelope(data);
    if (envelope === null) this.onMessage(topic, data.toString());
    else if (envelope.origin !== this.origin) this.onMessage(topic, envelope.payload);
  }
}

const channel = (topic: string) => CHANNEL_PREFIX + topic;
const command = (...args: (string | Buffer)[]) => resp.bulks(args);
const MAGIC = Buffer.from('c10k1 ');

function openEnvelope(data: Buffer): { origin: string; payload: string | Buffer } | null {
  if (data.length < MAGIC.length + 4 || !data.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  const nl = data.indexOf(0x0a, MAGIC.length);
  if (nl === -1) return null;
  const [origin, kind] = data.toString('latin1', MAGIC.length, nl).split(' ');
  const body = data.subarray(nl + 1);
  return { origin, payload: kind === 'b' ? body : body.toString() };
}
