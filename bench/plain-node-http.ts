// The baseline for the http app: the plainest node:http hello server there is (keep-alive, the same
// body and content type as src/apps/http.ts), one process. wrk against it and against
// `c10k serve --app http` gives the ratio.   node bench/plain-node-http.ts [PORT=8080]
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 8080);
const body = 'hello from c10k\n';
const server = createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
  res.end(body);
});
server.maxRequestsPerSocket = 0;
server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () =>
  process.stderr.write(`plain node:http on 127.0.0.1:${port} (pid ${process.pid})\n`),
);
