// Where a sock_diag dump of a port's sockets spends its time, against connections something else holds
// (e.g. /work/shared/yardstick/c1m, or bench/inspect-refresh.ts --hold): each variant is one dump on a
// fresh netlink socket, timed as the request's send (the kernel fills the first reply inside it), the
// recvs (the kernel walks its table of connected sockets and fills each reply) and the JS that reads
// the replies. Variants:
//   walk      a port that matches nothing (every state): the walk alone, the bind hash's included
//   walk-tcp  the same, every TCP state but 'bound, inactive' (13): no walk of the bind hash
//   raw       the port, every state, replies received and not read: the kernel's share
//   objects   the port, every state, parsed into one object per socket (inet-diag.ts parseDumpChunk)
//   columns   the port, every TCP state but 13, parsed into columns (socket-table.ts), as inspect does
// Usage: node bench/inspect-dump.ts --port P [--variants walk,walk-tcp,raw,objects,columns] [--rounds 2]
import { parseArgs } from 'node:util';
import {
  type DiagSocket,
  type DumpRequest,
  encodeDumpRequest,
  parseDumpChunk,
} from '../src/inspect/inet-diag.ts';
import { parseDumpIntoTable, SocketTable, TCP_SOCKET_STATES } from '../src/inspect/socket-table.ts';
import { bindSys } from '../src/sys/libc.ts';
import { wholeNumber } from './lib/args.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    variants: { type: 'string', default: 'walk,walk-tcp,raw,objects,columns' },
    rounds: { type: 'string', default: '2' },
  },
});
const port = wholeNumber('port', values.port);
const rounds = wholeNumber('rounds', values.rounds);
const variants = values.variants.split(',');

const c = bindSys({
  socket: 'int socket(int domain, int type, int protocol)',
  sendto: 'long sendto(int fd, const void *buf, size_t n, int flags, const void *to, uint32_t len)',
  recv: 'long recvfrom(int fd, void *buf, size_t n, int flags, void *from, void *len)',
  close: 'int close(int fd)',
  setsockopt: 'int setsockopt(int fd, int level, int name, const void *val, uint32_t len)',
});

function request(variant: string): DumpRequest {
  const tcp = { states: TCP_SOCKET_STATES };
  switch (variant) {
    case 'walk':
      return { family: 4, port: port === 65535 ? 1 : port + 1, info: false };
    case 'walk-tcp':
      return { family: 4, port: port === 65535 ? 1 : port + 1, info: false, ...tcp };
    case 'columns':
      return { family: 4, port, tcpInfo: false, ...tcp };
    default:
      return { family: 4, port, tcpInfo: false };
  }
}

function dump(variant: string) {
  const fd = c.socket(16, 3 | 0o2000000, 4); // AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG
  if (fd < 0) throw new Error(`netlink socket: errno ${-fd}`);
  const rcvbuf = Buffer.alloc(4);
  rcvbuf.writeInt32LE(1 << 20);
  c.setsockopt(fd, 1, 8, rcvbuf, 4); // SO_RCVBUF, as netlink-socket.ts
  const kernel = Buffer.alloc(12);
  kernel.writeUInt16LE(16, 0);
  const msg = encodeDumpRequest(request(variant));
  const buf = Buffer.alloc(256 * 1024);
  const objects: DiagSocket[] = [];
  const table = new SocketTable();
  let recvs = 0;
  let bytes = 0;
  let recvMs = 0;
  let jsMs = 0;
  let messages = 0;
  const t0 = performance.now();
  c.sendto(fd, msg, msg.length, 0, kernel, 12);
  const sendMs = performance.now() - t0;
  try {
    for (;;) {
      const a = performance.now();
      const n = c.recv(fd, buf, buf.length, 0, null, null);
      const b = performance.now();
      recvMs += b - a;
      if (n <= 0) throw new Error(`netlink recv: ${n === 0 ? 'end of file' : `errno ${-n}`}`);
      recvs++;
      bytes += n;
      const chunk = buf.subarray(0, n);
      let done = false;
      if (variant === 'objects') done = parseDumpChunk(chunk, objects).done;
      else if (variant === 'columns') done = parseDumpIntoTable(chunk, table).done;
      else {
        for (let o = 0; o + 16 <= n; o += (chunk.readUInt32LE(o) + 3) & ~3) {
          if (chunk.readUInt16LE(o + 4) === 3)
            done = true; // NLMSG_DONE
          else messages++;
        }
      }
      jsMs += performance.now() - b;
      if (done) break;
    }
  } finally {
    c.close(fd);
  }
  const sockets = variant === 'objects' ? objects.length : variant === 'columns' ? table.length : messages;
  const ms = (x: number) => Math.round(x * 10) / 10;
  return {
    variant,
    sockets,
    recvs,
    bytesPerRecv: Math.round(bytes / recvs),
    sendMs: ms(sendMs),
    recvMs: ms(recvMs),
    jsMs: ms(jsMs),
    totalMs: ms(performance.now() - t0),
  };
}

for (let r = 0; r < rounds; r++) for (const v of variants) console.log(JSON.stringify(dump(v)));
