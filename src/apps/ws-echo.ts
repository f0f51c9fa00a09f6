import { defineApp } from '../app.ts';
import { type WsMessage, websocket } from '../protocols/websocket.ts';

/** WebSocket echo: every text or binary message goes back as it came (in place, without a copy). */
export default defineApp<WsMessage, WsMessage | string | Uint8Array>({
  protocol: websocket(),
  message(conn, message) {
    conn.send(message);
  },
});
