import type { Codec } from './codec.ts';

import { httpCodec } from './http.ts';
import { length } from './length.ts';
import { line } from './line.ts';
import { raw } from './raw.ts';
import { respCodec } from './resp.ts';
import { websocket } from './websocket.ts';

export { type Codec, type CodecPeer, type Decoder, ProtocolError } from './codec.ts';

// biome-ignore lint/suspicious/noExplicitAny: a codec of any message types (variance forbids unknown here).
export type AnyCodec = Codec<any, any>;
export { parseCidrList } from './cidr.ts';
export { type HttpRequest, http, httpCodec } from './http.ts';
export { parseProxyHeader, proxyPreface } from './proxy.ts';
export { type RespReply, resp, respCodec } from './resp.ts';
export {
  closeFrame,
  closeWebSocket,
  frame as wsFrame,
  maskedFrame as wsMaskedFrame,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  type WebSocketOptions,
  WsMessage,
  type WsRequest,
  websocket,
} from './websocket.ts';
export { length, line, raw };

/** Codecs that can be named by string in defineApp({ protocol }) and on the command line. */
export const BUILTIN_CODECS: Record<string, () => AnyCodec> = {
  raw: () => raw,
  line: () => line(),
  length: () => length(),
  resp: () => respCodec(),
  http: () => httpCodec(),
  websocket: () => websocket(),
};

export function resolveCodec(protocol: string | AnyCodec): AnyCodec {
  if (typeof protocol !== 'string') {
    if (typeof protocol?.decoder !== 'function' || typeof protocol?.encode !== 'function') {
      throw new TypeError('protocol must be a codec name or an object with decoder() and encode()');
    }
    return protocol;
  }
  const make = BUILTIN_CODECS[protocol];
  if (!make)
    throw new TypeError(
      `unknown protocol '${protocol}' (built in: ${Object.keys(BUILTIN_CODECS).join(', ')})`,
    );
  return make();
}
