// A raw WebSocket client over TestClient, for tests that need to send what a browser never would (split
// frames, bad frames) and to see the server's frames byte for byte.
import { maskedFrame } from '../../src/protocols/websocket.ts';
import { TestClient } from './client.ts';

export const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

export class RawWsClient {
  readonly tcp: TestClient;
  private at = 0;
  private constructor(tcp: TestClient) {
    this.tcp = tcp;
  }

  /** Connect and upgrade; resolves once the 101 response has arrived. */
  static async open(port: number, path = '/', extraHeaders = ''): Promise<RawWsClient> {
    const tcp = await TestClient.open(port, '127.0.0.1', 20_000);
    tcp.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`,
    );
    const client = new RawWsClient(tcp);
    await client.waitHead();
    return client;
  }

  private async waitHead(): Promise<void> {
    for (;;) {
      const data = this.tcp.data();
      const end = data.indexOf('\r\n\r\n');
      if (end !== -1) {
        const head = data.toString('latin1', 0, end);
        if (!head.startsWith('HTTP/1.1 101 ')) throw new Error(`upgrade refused: ${head.split('\r\n')[0]}`);
        this.at = end + 4;
        return;
      }
      await this.tcp.waitFor(this.tcp.received + 1, 20_000);
    }
  }

  send(opcode: number, payload: Buffer | string = '', fin = true): void {
    this.tcp.write(maskedFrame(opcode, payload, fin));
  }

  /** The next frame from the server. */
  async next(timeoutMs = 20_000): Promise<ServerFrame> {
    for (;;) {
      const data = this.tcp.data();
      const f = parse(data, this.at);
      if (f !== null) {
        this.at = f.end;
        return f.frame;
      }
      await this.tcp.waitFor(this.tcp.received + 1, timeoutMs);
    }
  }

  close(): void {
    this.tcp.close();
  }
}

function parse(data: Buffer, at: number): { frame: ServerFrame; end: number } | null {
  if (data.length - at < 2) return null;
  const b0 = data[at];
  let len = data[at + 1] & 0x7f;
  let p = at + 2;
  if (len === 126) {
    if (data.length - at < 4) return null;
    len = data.readUInt16BE(at + 2);
    p = at + 4;
  } else if (len === 127) {
    if (data.length - at < 10) return null;
    len = Number(data.readBigUInt64BE(at + 2));
    p = at + 10;
  }
  if (data.length - p < len) return null;
  return {
    frame: { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload: Buffer.from(data.subarray(p, p + len)) },
    end: p + len,
  };
}
