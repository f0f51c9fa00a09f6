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
  type Decoder,
  type HttpRequest,
  http,
  httpCodec,
  length,
  line,
  ProtocolError,
  parseCidrList,
  parseProxyHeader,
  proxyPreface,
  type RespReply,
  raw,
  resp,
  respCodec,
} from './protocols/index.ts';
export { type ServeOptions, serve } from './serve.ts';
