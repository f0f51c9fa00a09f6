// The baseline for the http app over TLS: the plainest node:https hello server (keep-alive, the same body
// and content type as src/apps/http.ts), one process.
//   node bench/plain-node-https.ts PORT CERT KEY [--no-tickets]
import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const [portArg, cert, key] = process.argv.slice(2);
if (!portArg || !cert || !key) {
  process.stderr.write('usage: node bench/plain-node-https.ts PORT CERT KEY [--no-tickets]\n');
  process.exit(2);
}
const body = 'hello from c10k\n';
const server = createServer(
  {
    cert: readFileSync(cert),
    key: readFileSync(key),
    keepAliveTimeout: 60_000,
    secureOptions: process.argv.includes('--no-tickets') ? constants.SSL_OP_NO_TICKET : 0,
  },
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
    res.end(body);
  },
);
server.maxRequestsPerSocket = 0;
server.listen({ port: Number(portArg), host: '127.0.0.1', backlog: 4096 }, () =>
  process.stderr.write(`plain node:https on 127.0.0.1:${portArg} (pid ${process.pid})\n`),
);
