// Capture real sock_diag replies (and /proc/net/tcp{,6}) from this machine as hex fixtures, so the
// parser tests run against bytes a kernel actually produced. Run once; the scenario is recorded in
// test/inspect/fixtures/diag-meta.json. Usage: node bench/inspect-capture-fixtures.ts
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { captureDump } from '../src/inspect/netlink-socket.ts';
import { startRawListener } from '../test/inspect/raw-listener.ts';

const dir = new URL('../test/inspect/fixtures/', import.meta.url);
mkdirSync(dir, { recursive: true });
const hex = (b: Buffer) => (b.toString('hex').match(/.{1,64}/g) ?? []).join('\n') + '\n';

// IPv4: a listener with backlog 5 that never accepts, 2 connections waiting in its accept queue
const raw = await startRawListener(5, 4);
const clients: net.Socket[] = [];
for (let i = 0; i < 2; i++) {
  const c = net.connect(raw.port, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  clients.push(c);
}
// IPv6: a node:net server on ::1 that accepted one connection and does not read its 100 bytes
const server = net.createServer({ pauseOnConnect: true });
await new Promise<void>((r) => server.listen({ port: 0, host: '::1', backlog: 7 }, r));
const port6 = (server.address() as net.AddressInfo).port;
const c6 = net.connect(port6, '::1');
await new Promise((r) => c6.once('connect', r));
c6.write(Buffer.alloc(100, 1));
await sleep(200);

const v4 = await captureDump({ family: 4, port: raw.port, seq: 1 });
const v6 = await captureDump({ family: 6, port: port6, seq: 2 });
const v4all = await captureDump({ family: 4, states: ['LISTEN'], seq: 3 });
writeFileSync(new URL('diag-v4-port.hex', dir), hex(v4));
writeFileSync(new URL('diag-v6-port.hex', dir), hex(v6));
writeFileSync(new URL('diag-v4-listen.hex', dir), hex(v4all));
writeFileSync(new URL('proc-net-tcp.txt', dir), readFileSync('/proc/net/tcp'));
writeFileSync(new URL('proc-net-tcp6.txt', dir), readFileSync('/proc/net/tcp6'));
const meta = {
  note: 'captured by bench/inspect-capture-fixtures.ts',
  v4: { port: raw.port, backlog: 5, queued: 2, clientPorts: clients.map((c) => c.localPort) },
  v6: { port: port6, backlog: 7, established: 1, unreadBytes: 100, clientPort: c6.localPort },
};
writeFileSync(new URL('diag-meta.json', dir), JSON.stringify(meta, null, 2) + '\n');
console.log(meta);

for (const c of [...clients, c6]) c.destroy();
server.close();
await raw.close();
