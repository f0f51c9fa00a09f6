// The baseline: the plainest node:net echo server there is. c10k's node backend is measured against it.
import { createServer } from 'node:net';

const port = Number(process.argv[2] ?? 7000);
createServer({ noDelay: true }, (socket) => {
  socket.on('data', (chunk) => socket.write(chunk));
  socket.on('error', () => {});
}).listen({ port, host: '127.0.0.1', backlog: 4096 });
