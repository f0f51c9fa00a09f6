// The WebSocket codec as a fuzz target: an upgrade request then random frames (text, binary, fragmented,
// pings, pongs, a close), masked as a client sends them. Its decoder gets a peer that keeps nothing (the
// codec's own answers: 101, pongs, close replies). Every refusal must carry what the connection sends
// before closing: a close frame with a status code, or, during the handshake, an HTTP error response.
import { constants, deflateRawSync } from 'node:zlib';
import type { Codec, CodecPeer, ProtocolError } from '../src/protocols/codec.ts';
import {
  maskedFrame,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  WsMessage,
  websocket,
} from '../src/protocols/websocket.ts';
import type { FuzzTarget, Rng } from './fuzz-lib.ts';

const MAX_MESSAGE = 1024;
const MAX_HANDSHAKE = 1024;

const nullPeer = (): CodecPeer => ({
  write: () => true,
  end() {},
  destroy() {},
  closed: false,
  data: undefined,
});

function wsCodec(perMessageDeflate = false): Codec<unknown, unknown> {
  const codec = websocket({
    maxMessageBytes: MAX_MESSAGE,
    maxHandshakeBytes: MAX_HANDSHAKE,
    perMessageDeflate,
  });
  return { ...codec, decoder: () => codec.decoder(undefined, nullPeer()) } as Codec<unknown, unknown>;
}

const WORDS = ['hello', 'κόσμε', '𝄞', '€', 'x', ''];

function payload(rng: Rng, text: boolean): Buffer {
  if (text) return Buffer.from(Array.from({ length: rng.int(6) }, () => rng.pick(WORDS)).join(' '));
  return rng.bytes(rng.int(rng.int(8) === 0 ? 400 : 40));
}

/** A payload compressed alone, its tail stripped (as a permessage-deflate client sends it). */
function squeeze(payload: Buffer): Buffer {
  const out = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

function frames(rng: Rng, deflate = false): Buffer {
  const key = rng.bytes(4);
  const offer = !deflate
    ? ''
    : `Sec-WebSocket-Extensions: permessage-deflate${rng.int(2) ? '; client_no_context_takeover' : ''}\r\n`;
  const out: Buffer[] = [
    Buffer.from(
      `GET /${rng.token(rng.int(10))} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${offer}\r\n`,
    ),
  ];
  for (let i = 1 + rng.int(4); i > 0; i--) {
    const kind = rng.int(5);
    if (kind === 0) out.push(maskedFrame(rng.pick([OP_PING, OP_PONG]), rng.bytes(rng.int(20)), true, key));
    else if (kind === 1) {
      // a fragmented text message, cut at a byte boundary (possibly inside a code point)
      const whole = payload(rng, true);
      const cut = rng.int(whole.length + 1);
      out.push(maskedFrame(OP_TEXT, whole.subarray(0, cut), false, key));
      if (rng.int(2)) out.push(maskedFrame(OP_PING, 'p', true, key));
      out.push(maskedFrame(OP_CONTINUATION, whole.subarray(cut), true, key));
    } else if (deflate && kind === 2) {
      // a compressed message (RSV1 on its first frame), whole or in two fragments
      const text = rng.int(2) === 0;
      const z = squeeze(payload(rng, text));
      const cut = rng.int(2) ? z.length : rng.int(z.length + 1);
      out.push(maskedFrame(text ? OP_TEXT : OP_BINARY, z.subarray(0, cut), cut === z.length, key, 4));
      if (cut < z.length) out.push(maskedFrame(OP_CONTINUATION, z.subarray(cut), true, key));
    } else {
      const text = rng.int(2) === 0;
      out.push(maskedFrame(text ? OP_TEXT : OP_BINARY, payload(rng, text), true, key));
    }
  }
  if (rng.int(4) === 0) out.push(maskedFrame(OP_CLOSE, Buffer.from([0x03, 0xe8]), true, key));
  return Buffer.concat(out);
}

/** Why a refusal is not as the codec promises, or null. */
function refusal(error: ProtocolError): string | null {
  const reply = error.reply;
  if (reply === undefined) return 'no reply';
  const b = Buffer.from(reply);
  if (b.toString('latin1', 0, 9) === 'HTTP/1.1 ')
    return /^HTTP\/1\.1 [45]\d\d /.test(b.toString('latin1')) ? null : 'not an HTTP error';
  if (b[0] !== 0x88 || b.length < 4) return 'not a close frame with a code';
  const code = b.readUInt16BE(2);
  return [1002, 1007, 1009].includes(code) ? null : `close code ${code}`;
}

const normalize = (messages: unknown[]) =>
  messages.map((m) => (m instanceof WsMessage ? { binary: m.binary, data: m.data } : m));

export const websocketTarget: FuzzTarget = {
  name: 'websocket',
  codec: wsCodec(),
  bound: MAX_HANDSHAKE + MAX_MESSAGE + 10 + 14 + 1,
  valid: frames,
  refusal,
  normalize,
};

/** The same with permessage-deflate agreed: compressed messages mixed in (a bomb is cut at the limit). */
export const websocketDeflateTarget: FuzzTarget = {
  name: 'websocket-deflate',
  codec: wsCodec(true),
  bound: MAX_HANDSHAKE + MAX_MESSAGE + 10 + 14 + 1,
  valid: (rng) => frames(rng, true),
  refusal,
  normalize,
};
