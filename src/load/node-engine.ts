// node-engine.ts — the portable engine: one net.Socket per connection, on libuv.
//
// Why it is shaped this way: it is the fallback where the epoll engine cannot load, so it keeps to the
// cheapest node:net paths: `onread` with one shared, reused read buffer (no Buffer per chunk), prebuilt
// frames written as-is (no copy, no per-message allocation on our side), setNoDelay, and a socket
// timeout only while connecting. All logic above the bytes lives in driver.ts.
import { connect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { type Conn, DRAIN_MS, Driver } from './driver.ts';

const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export class NodeEngine extends Driver<Socket> {
  readonly name = 'node';
  private rampTimer: NodeJS.Timeout | null = null;
  private ticker: NodeJS.Timeout | null = null;

  protected startConnect(c: Conn<Socket>, source: string | undefined): void {
    let error: string | undefined;
    const o = this.options;
    const common = {
      host: o.host,
      port: o.port,
      localAddress: source,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array) => {
          this.received(c, buf, 0, n);
          return true;
        },
      },
    };
    // With TLS a connection counts as established once its handshake is done.
    const socket: Socket = o.tls
      ? tlsConnect({
          ...common,
          servername: o.tlsServername ?? (isIP(o.host) ? undefined : o.host),
          ca: o.tlsCa,
          rejectUnauthorized: o.tlsCa !== undefined,
        })
      : connect(common);
    c.handle = socket;
    socket.setTimeout(this.options.connectTimeout);
    socket.once('timeout', () => {
      if (c.state === 0 || c.state === 3) {
        error = 'ETIMEDOUT';
        socket.destroy();
      }
    });
    socket.once(o.tls ? 'secureConnect' : 'connect', () => {
      if (this.pattern.handshake === null) socket.setTimeout(0);
      this.established(c, performance.now());
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error ??= err.code;
    });
    socket.once('close', () => {
      if (c.state === 0) this.failed(c, error);
      else this.lost(c, error);
    });
  }

  protected write(c: Conn<Socket>, v: number): void {
    c.handle.write(this.pattern.sentFrames[v]);
  }

  protected writeBytes(c: Conn<Socket>, bytes: Buffer): void {
    c.handle.write(bytes);
  }

  protected drop(c: Conn<Socket>): void {
    c.handle.destroy(); // 'close' reports it
  }

  protected opened(c: Conn<Socket>): void {
    if (this.pattern.handshake !== null) c.handle.setTimeout(0);
  }

  protected async closeAll(): Promise<void> {
    // end() (FIN) lets the server echo what is in flight and close; DRAIN_MS later the rest is destroyed
    const closing: Promise<void>[] = [];
    const sockets: Socket[] = [];
    for (const c of this.conns) {
      const s = c.handle;
      if (s === undefined || s.destroyed) continue;
      sockets.push(s);
      closing.push(new Promise((resolve) => s.once('close', () => resolve())));
      if (c.state === 1) s.end();
      else s.destroy();
    }
    const timer = setTimeout(() => {
      for (const s of sockets) s.destroy();
    }, DRAIN_MS);
    await Promise.all(closing);
    clearTimeout(timer);
  }

  protected startRampTimer(): void {
    if (this.options.connectRate > 0 && this.rampTimer === null)
      this.rampTimer = setInterval(() => this.pump(), 5);
  }

  protected stopRampTimer(): void {
    if (this.rampTimer !== null) clearInterval(this.rampTimer);
    this.rampTimer = null;
  }

  protected startTicker(): void {
    this.ticker = setInterval(() => this.tick(performance.now()), 1);
  }

  protected stopTicker(): void {
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
  }
}
