// The yardstick for c10k's WebSocket echo: the plainest `ws` (the Node library most projects use) echo
// server there is, permessage-deflate off (ws's server default). It counts messages and open sockets for
// the bench, served as JSON on a second port (an HTTP GET now and then costs it nothing measurable).
//   node bench/plain-ws-echo.ts PORT [STATS_PORT]
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] ?? 7000);
const statsPort = Number(process.argv[3] ?? 0);
let messages = 0;
const wss = new WebSocketServer({ host: '127.0.0.1', port, backlog: 4096 });
wss.on('connection', (ws) => {
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    messages++;
    ws.send(data, { binary: isBinary });
  });
  ws.on('error', () => {});
});
if (statsPort > 0) {
  createServer((_req, res) => {
    res.end(JSON.stringify({ messagesIn: messages, active: wss.clients.size }));
  }).listen(statsPort, '127.0.0.1');
}
