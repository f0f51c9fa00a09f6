// c10k's public API.
export { type App, type AppContext, type AppSpec, defineApp } from './app.ts';
export type { Bus, BusHandler, BusPayload } from './bus/bus.ts';
export { createLogger, type Logger, memoryLogger } from './log.ts';
export type { Backend, ServerHandle, WorkerStats } from './models/types.ts';
export { ServeError, ServeOptionError } from './models/types.ts';
export type { CloseReason, Connection, TlsInfo } from './net/connection-api.ts';
export type { ConnectionLimits } from './net/limits.ts';
export type { ServerStats } from './net/server-core.ts';
export type { TlsOptions } from './net/tls/config.ts';
export {
  type Codec,
  type CodecPeer,
  closeFrame,
  closeWebSocket,
  type Decoder,
  type HttpRequest,
  http,
  httpCodec,
  length,
  line,
  OP_BINARY,
  OP_TEXT,
  ProtocolError,
  parseCidrList,
  parseProxyHeader,
  proxyPreface,
  type RespReply,
  raw,
  resp,
  respCodec,
  type WebSocketOptions,
  WsMessage,
  type WsRequest,
  websocket,
  wsFrame,
  wsMaskedFrame,
} from './protocols/index.ts';
export { type ServeOptions, serve } from './serve.ts';
