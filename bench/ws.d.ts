// The little of `ws` (a devDependency for bench/plain-ws-echo.ts only) that the bench uses: declared here
// rather than adding @types/ws for three members.
declare module 'ws' {
  import type { EventEmitter } from 'node:events';
  export class WebSocket extends EventEmitter {
    send(data: unknown, options?: { binary?: boolean }): void;
  }
  export class WebSocketServer extends EventEmitter {
    constructor(options: { host?: string; port?: number; backlog?: number; perMessageDeflate?: boolean });
    readonly clients: Set<WebSocket>;
    on(event: 'connection', listener: (ws: WebSocket) => void): this;
  }
}
