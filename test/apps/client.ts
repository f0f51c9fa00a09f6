// A test client over node:net: write bytes, then wait until the accumulated reply satisfies a parser.
import { connect, type Socket } from 'node:net';

export class Client {
  readonly socket: Socket;
  private data = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  ended = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk) => {
      this.data = Buffer.concat([this.data, chunk]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' }, () => resolve(new Client(socket)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Wait until parse(buffer) returns a value (consuming `used` bytes), or fail after ms. */
  async read<T>(parse: (buf: Buffer) => { value: T; used: number } | null, ms = 3000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = parse(this.data);
      if (got !== null) {
        this.data = this.data.subarray(got.used);
        return got.value;
      }
      if (this.ended) throw new Error(`connection ended; have ${JSON.stringify(this.data.toString())}`);
      if (Date.now() > deadline) throw new Error(`timed out; have ${JSON.stringify(this.data.toString())}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves once the server has closed the connection; returns what is left unread. */
  async closed(ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('server did not close the connection');
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.data.toString();
  }

  close(): void {
    this.socket.destroy();
  }
}

export type Resp = string | number | null | Resp[] | { error: string };

/** One RESP2 value at the start of buf. */
export function parseResp(buf: Buffer, at = 0): { value: Resp; used: number } | null {
  const nl = buf.indexOf('\r\n', at);
  if (nl === -1) return null;
  const line = buf.toString('latin1', at + 1, nl);
  const next = nl + 2;
  switch (buf[at]) {
    case 0x2b:
      return { value: line, used: next - at };
    case 0x2d:
      return { value: { error: line }, used: next - at };
    case 0x3a:
      return { value: Number(line), used: next - at };
    case 0x24: {
      const n = Number(line);
      if (n < 0) return { value: null, used: next - at };
      if (buf.length < next + n + 2) return null;
      return { value: buf.toString('utf8', next, next + n), used: next + n + 2 - at };
    }
    case 0x2a: {
      const n = Number(line);
      if (n < 0) return { value: null, used: next - at };
      const items: Resp[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const item = parseResp(buf, p);
        if (item === null) return null;
        items.push(item.value);
        p += item.used;
      }
      return { value: items, used: p - at };
    }
    default:
      throw new Error(`bad RESP reply: ${JSON.stringify(buf.toString('latin1', at))}`);
  }
}

/** n RESP values. */
export const respValues =
  (n: number) =>
  (buf: Buffer): { value: Resp[]; used: number } | null => {
    const out: Resp[] = [];
    let p = 0;
    for (let i = 0; i < n; i++) {
      const v = parseResp(buf, p);
      if (v === null) return null;
      out.push(v.value);
      p += v.used;
    }
    return { value: out, used: p };
  };

export const command = (...args: (string | Buffer)[]) =>
  Buffer.concat([
    Buffer.from(`*${args.length}\r\n`),
    ...args.flatMap((a) => [
      Buffer.from(`$${Buffer.byteLength(a)}\r\n`),
      Buffer.from(a),
      Buffer.from('\r\n'),
    ]),
  ]);

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP response with a content-length (or none, for HEAD: pass head). */
export const httpResponse =
  (head = false) =>
  (buf: Buffer): { value: HttpReply; used: number } | null => {
    const end = buf.indexOf('\r\n\r\n');
    if (end === -1) return null;
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    const length = head ? 0 : Number(headers['content-length'] ?? 0);
    if (buf.length < end + 4 + length) return null;
    return {
      value: { status, headers, body: buf.toString('utf8', end + 4, end + 4 + length) },
      used: end + 4 + length,
    };
  };
