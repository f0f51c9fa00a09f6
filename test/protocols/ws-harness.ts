// Driving the WebSocket decoder without a socket: a peer that records what the codec writes and whether it
// closed, the upgrade request, and feeding input whole, at every split point and byte by byte.
import { ProtocolError } from '../../src/protocols/codec.ts';
import {
  acceptKey,
  maskedFrame,
  type WebSocketOptions,
  WsMessage,
  websocket,
} from '../../src/protocols/websocket.ts';

export const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

export function upgradeRequest(extra = '', path = '/chat'): Buffer {
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n` +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
  );
}

export class FakePeer {
  writes: Buffer[] = [];
  ended = false;
  destroyedWith: string | undefined;
  data: unknown;
  get closed(): boolean {
    return this.ended || this.destroyedWith !== undefined;
  }
  write(bytes: Uint8Array | string): boolean {
    if (this.ended) return false;
    this.writes.push(Buffer.from(bytes as Uint8Array));
    return true;
  }
  end(): void {
    this.ended = true;
  }
  destroy(reason = 'destroyed'): void {
    this.destroyedWith = reason;
  }
  /** What was written after the 101 response. */
  frames(): Buffer {
    return Buffer.concat(this.writes.filter((w) => !w.toString('latin1').startsWith('HTTP/1.1 ')));
  }
}

export interface Outcome {
  messages: { binary: boolean; data: Buffer }[];
  peer: FakePeer;
  error?: ProtocolError;
  /** The close code in the error's reply (a close frame), if any. */
  closeCode?: number;
  /** The HTTP status of the error's reply, if it is an HTTP response. */
  status?: number;
  /** The chunk index at which the error was thrown. */
  errorAt?: number;
}

export function run(chunks: Buffer[], options: WebSocketOptions = {}): Outcome {
  const codec = websocket(options);
  const peer = new FakePeer();
  const decoder = codec.decoder(undefined, peer);
  const out: Outcome = { messages: [], peer };
  for (let i = 0; i < chunks.length; i++) {
    const scratch = Buffer.from(chunks[i]);
    try {
      decoder.push(scratch, (m) => {
        const w = m as WsMessage;
        if (w instanceof WsMessage) out.messages.push({ binary: w.binary, data: Buffer.from(w.data) });
        else out.messages.push({ binary: true, data: Buffer.from(m as unknown as Buffer) });
      });
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      out.error = error;
      out.errorAt = i;
      const reply = Buffer.from(error.reply ?? []);
      if (reply.toString('latin1').startsWith('HTTP/1.1 '))
        out.status = Number(reply.toString('latin1', 9, 12));
      else if (reply.length >= 4 && (reply[0] & 0x0f) === 8) out.closeCode = reply.readUInt16BE(2);
      return out;
    }
    scratch.fill(0xee);
  }
  return out;
}

/** The input whole, cut once at every point, and byte by byte. */
export function* splits(input: Buffer): Generator<Buffer[]> {
  yield [input];
  if (input.length <= 1500) {
    for (let i = 1; i < input.length; i++) yield [input.subarray(0, i), input.subarray(i)];
    yield Array.from(input, (_, i) => input.subarray(i, i + 1));
    return;
  }
  // large inputs: cuts around the head of the stream and the end, plus 1,000-byte pieces
  const points = new Set<number>();
  for (let i = 1; i < 400; i++) points.add(i);
  for (let i = input.length - 40; i < input.length; i++) points.add(i);
  for (let k = 1; k < 40; k++) points.add(Math.floor((input.length * k) / 40));
  for (const i of points) yield [input.subarray(0, i), input.subarray(i)];
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += 1000) pieces.push(input.subarray(i, i + 1000));
  yield pieces;
}

export function ws(...frames: Buffer[]): Buffer {
  return Buffer.concat([upgradeRequest(), ...frames]);
}

export { acceptKey, maskedFrame };
