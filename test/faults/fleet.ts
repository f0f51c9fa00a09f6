// A fleet of clients in its own process (a process holds at most its open-files limit of connections, so
// tens of thousands of clients take several fleets). Driven over IPC by test/faults/helpers.ts; every
// command answers once it is done. Connections come from the given source addresses (127.0.0.x: each
// source has its own ~28K ephemeral ports towards one server port).
// - open: connect `count` echo clients (node:net), each optionally sending `hello`; connects still pending
//   after timeoutMs are abandoned (counted as timed out: the server's accept queue was full).
// - ping: write `payload` on every open connection, wait up to timeoutMs for every echo.
// - status: how many are open, fully answered, closed by the server.
// - close: close `count` open, fully answered connections (FIN).
// - slow: connect `count` raw sockets (src/sys) that send `hello` and never read, with a small receive
//   buffer and an Internet-like MSS (so the kernel holds ~50 KB per connection, not loopback's ~3 MB).
// - wave: `count` short connections, each: connect, send payload, read the echo, close (FIN or RST in
//   turn), at most `concurrency` at a time; reports failures and the rate.
import { connect, type Socket } from 'node:net';
import * as sys from '../../src/sys/index.ts';

export type ToFleet =
  | {
      t: 'open';
      port: number;
      count: number;
      sources: string[];
      timeoutMs: number;
      concurrency?: number;
      hello?: string;
    }
  | { t: 'ping'; payload: string; timeoutMs: number }
  | { t: 'status' }
  | { t: 'close'; count: number }
  | { t: 'closeAll' }
  | { t: 'slow'; port: number; count: number; sources: string[]; hello: string }
  | { t: 'wave'; port: number; count: number; sources: string[]; concurrency: number; payload: string };

export interface FleetStatus {
  open: number;
  answered: number;
  unanswered: number;
  closedByServer: number;
}

export interface OpenResult {
  opened: number;
  timedOut: number;
  failed: number;
  errors: Record<string, number>;
}

export interface WaveResult {
  done: number;
  failed: number;
  errors: Record<string, number>;
  ms: number;
}

interface Client {
  socket: Socket;
  received: number;
  expected: number;
  closed: boolean;
}

const clients: Client[] = [];
const slowFds: number[] = [];
let closedByServer = 0;
let waiters: (() => void)[] = [];

function wake(): void {
  const w = waiters;
  waiters = [];
  for (const f of w) f();
}

function until(done: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiters = waiters.filter((w) => w !== check);
      resolve();
    }, timeoutMs);
    const check = () => {
      if (done()) {
        clearTimeout(timer);
        resolve();
      } else waiters.push(check);
    };
    check();
  });
}

const bump = (errors: Record<string, number>, code: string | undefined) => {
  const key = code ?? 'other';
  errors[key] = (errors[key] ?? 0) + 1;
};

/** Run `n` tasks with at most `limit` at once. */
async function limited(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

async function open(m: Extract<ToFleet, { t: 'open' }>): Promise<OpenResult> {
  const result: OpenResult = { opened: 0, timedOut: 0, failed: 0, errors: {} };
  await limited(m.count, m.concurrency ?? 1000, (i) => {
    return new Promise<void>((resolve) => {
      const socket = connect({
        port: m.port,
        host: '127.0.0.1',
        localAddress: m.sources[i % m.sources.length],
        noDelay: true,
      });
      const timer = setTimeout(() => {
        result.timedOut++;
        socket.destroy();
        resolve();
      }, m.timeoutMs);
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        result.failed++;
        bump(result.errors, error.code);
        resolve();
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        const c: Client = { socket, received: 0, expected: 0, closed: false };
        socket.on('data', (d: Buffer) => {
          c.received += d.length;
          wake();
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          c.closed = true;
          closedByServer++;
          wake();
        });
        if (m.hello) {
          socket.write(m.hello);
          c.expected += Buffer.byteLength(m.hello);
        }
        clients.push(c);
        result.opened++;
        resolve();
      });
    });
  });
  return result;
}

function status(): FleetStatus {
  let open = 0;
  let answered = 0;
  for (const c of clients) {
    if (c.closed) continue;
    open++;
    if (c.received >= c.expected) answered++;
  }
  return { open, answered, unanswered: open - answered, closedByServer };
}

async function ping(payload: string, timeoutMs: number): Promise<FleetStatus> {
  const n = Buffer.byteLength(payload);
  for (const c of clients) {
    if (c.closed) continue;
    c.socket.write(payload);
    c.expected += n;
  }
  if (timeoutMs > 0) await until(() => clients.every((c) => c.closed || c.received >= c.expected), timeoutMs);
  return status();
}

function closeSome(count: number): number {
  let closed = 0;
  for (const c of clients) {
    if (closed >= count) break;
    if (c.closed || c.received < c.expected) continue;
    c.closed = true;
    c.socket.removeAllListeners('close');
    c.socket.destroy();
    closed++;
  }
  return closed;
}

function slow(m: Extract<ToFleet, { t: 'slow' }>): number {
  const hello = Buffer.from(m.hello);
  for (let i = 0; i < m.count; i++) {
    const fd = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_CLOEXEC);
    sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_RCVBUF, 4096);
    sys.setsockopt(fd, sys.IPPROTO_TCP, TCP_MAXSEG, 1460);
    sys.setsockopt(fd, sys.SOL_IP, sys.IP_BIND_ADDRESS_NO_PORT, 1);
    sys.bind(fd, m.sources[i % m.sources.length], 0);
    const r = sys.connect(fd, '127.0.0.1', m.port);
    if (r < 0) throw new Error(`slow client connect: ${sys.errnoName(-r)}`);
    sys.write(fd, hello, hello.length);
    slowFds.push(fd);
  }
  return slowFds.length;
}
const TCP_MAXSEG = 2;

async function wave(m: Extract<ToFleet, { t: 'wave' }>): Promise<WaveResult> {
  const started = Date.now();
  const result: WaveResult = { done: 0, failed: 0, errors: {}, ms: 0 };
  const payload = Buffer.from(m.payload);
  await limited(m.count, m.concurrency, (i) => {
    return new Promise<void>((resolve) => {
      const socket = connect({
        port: m.port,
        host: '127.0.0.1',
        localAddress: m.sources[i % m.sources.length],
        noDelay: true,
      });
      let got = 0;
      let settled = false;
      const fail = (code: string | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        result.failed++;
        bump(result.errors, code);
        socket.destroy();
        resolve();
      };
      const timer = setTimeout(() => fail('timeout'), 10_000);
      socket.on('error', (error: NodeJS.ErrnoException) => fail(error.code));
      socket.on('connect', () => socket.write(payload));
      socket.on('data', (d: Buffer) => {
        got += d.length;
        if (got < payload.length) return;
        if (i % 2 === 0) {
          socket.end(); // FIN: the server answers with its own; done at 'close'
          return;
        }
        settled = true;
        clearTimeout(timer);
        socket.resetAndDestroy(); // RST: no TIME_WAIT anywhere
        result.done++;
        resolve();
      });
      socket.on('close', () => {
        if (settled) return;
        if (got < payload.length) {
          fail('closed early');
          return;
        }
        settled = true;
        clearTimeout(timer);
        result.done++;
        resolve();
      });
    });
  });
  result.ms = Date.now() - started;
  return result;
}

process.on('message', async (m: ToFleet & { id: number }) => {
  let reply: unknown;
  if (m.t === 'open') reply = await open(m);
  else if (m.t === 'ping') reply = await ping(m.payload, m.timeoutMs);
  else if (m.t === 'status') reply = status();
  else if (m.t === 'close') reply = closeSome(m.count);
  else if (m.t === 'closeAll') {
    for (const c of clients) {
      c.socket.removeAllListeners('close');
      c.socket.destroy();
    }
    clients.length = 0;
    for (const fd of slowFds.splice(0)) sys.close(fd);
    reply = 0;
  } else if (m.t === 'slow') reply = slow(m);
  else if (m.t === 'wave') reply = await wave(m);
  process.send!({ id: m.id, reply });
});
process.on('disconnect', () => process.exit(0));
