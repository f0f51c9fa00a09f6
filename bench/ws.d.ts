// The little of `ws` (a devDependency for bench/plain-ws-echo.ts, and a real permessage-deflate client in
// test/protocols/websocket-deflate.test.ts) that they use: declared here rather than adding @types/ws.
declare module 'ws' {
  import type { EventEmitter } from 'node:events';
  export class WebSocket extends EventEmitter {
    constructor(
      url: string,
      options?: { perMessageDeflate?: boolean | { threshold?: number; clientNoContextTakeover?: boolean } },
    );
    readonly extensions: string;
    send(data: unknown, options?: { binary?: boolean }): void;
    close(): void;
    terminate(): void;
  }
  export class WebSocketServer extends EventEmitter {
    constructor(options: { host?: string; port?: number; backlog?: number; perMessageDeflate?: boolean });
    readonly clients: Set<WebSocket>;
    on(event: 'connection', listener: (ws: WebSocket) => void): this;
  }
}
