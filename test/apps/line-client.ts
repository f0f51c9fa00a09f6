// A line-oriented test client (chat and other line apps): every received line is kept in order; next()
// consumes them one by one, waitFor() looks at all of them without consuming.
import { connect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';

export class LineClient {
  readonly socket: Socket;
  readonly lines: string[] = [];
  closed = false;
  private cursor = 0;
  private partial = '';
  private waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop()!;
      for (const p of parts) this.lines.push(p);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static open(port: number, options: { localAddress?: string } = {}): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', noDelay: true, ...options }, () =>
        resolve(new LineClient(socket)),
      );
      socket.once('error', reject);
    });
  }

  /** The same over TLS: resolves once the handshake is done (`options` say which CA to trust). */
  static openTls(port: number, options: ConnectionOptions = {}): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ...options }, () => {
        socket.setNoDelay(true);
        resolve(new LineClient(socket));
      });
      socket.once('error', reject);
    });
  }

  send(text: string): void {
    this.socket.write(text + '\n');
  }

  /** The next unconsumed line (the first one equal to / matching `match`, skipping others). */
  async next(match?: string | RegExp, timeoutMs = 15_000): Promise<string> {
    const ok = (l: string) =>
      match === undefined || (typeof match === 'string' ? l === match : match.test(l));
    let found: string | undefined;
    await this.until(
      () => {
        while (this.cursor < this.lines.length) {
          const l = this.lines[this.cursor++];
          if (ok(l)) {
            found = l;
            return true;
          }
        }
        return false;
      },
      timeoutMs,
      `a line ${match ?? ''}`,
    );
    return found!;
  }

  /** Unconsumed lines. */
  pending(): string[] {
    return this.lines.slice(this.cursor);
  }

  /** Resolve once any line received so far (consumed or not) satisfies `test`. */
  async waitFor(test: (line: string) => boolean, timeoutMs = 15_000): Promise<string> {
    let from = 0;
    let found: string | undefined;
    await this.until(
      () => {
        for (; from < this.lines.length; from++) {
          if (test(this.lines[from])) {
            found = this.lines[from];
            return true;
          }
        }
        return false;
      },
      timeoutMs,
      'a matching line',
    );
    return found!;
  }

  waitLines(n: number, timeoutMs = 15_000): Promise<void> {
    return this.until(() => this.lines.length >= n, timeoutMs, `${n} lines (have ${this.lines.length})`);
  }

  close(): void {
    this.socket.destroy();
  }

  private until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (done()) {
          finish();
          resolve();
        } else if (this.closed) {
          finish();
          reject(new Error(`connection closed while waiting for ${what}`));
        }
      };
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
