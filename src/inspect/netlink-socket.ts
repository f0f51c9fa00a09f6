// The sock_diag transport: one AF_NETLINK socket through koffi (socket/sendto/recv/close), blocking
// recv with a 2 s SO_RCVTIMEO so a silent kernel cannot hang the inspector. It must fail soft: when
// koffi, libc or netlink is unavailable, `sockDiagDump` returns { ok: false, reason } and the inspector
// falls back to /proc (which lacks the listener backlog and socket memory). The calls return -errno
// themselves (bindSys): errno is never read, so it cannot be stale.
import {
  DiagError,
  type DiagSocket,
  type DumpRequest,
  encodeDumpRequest,
  NETLINK_SOCK_DIAG,
  parseDumpChunk,
} from './inet-diag.ts';
import { parseDumpIntoTable, SocketTable } from './socket-table.ts';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SO_RCVBUF = 8;
const EINTR = 4;
const RECV_BUF = 256 * 1024;

type Fn = (...args: unknown[]) => number;
interface Libc {
  socket: Fn;
  sendto: Fn;
  recv: Fn;
  close: Fn;
  setsockopt: Fn;
}

let libc: Libc | string | undefined;

async function loadLibc(): Promise<Libc | string> {
  if (libc !== undefined) return libc;
  try {
    if (process.platform !== 'linux') return (libc = 'sock_diag needs Linux');
    const { assertSyscallBackendAvailable, bindSys } = await import('../sys/libc.ts');
    assertSyscallBackendAvailable();
    const t = bindSys({
      socket: 'int socket(int domain, int type, int protocol)',
      sendto: 'long sendto(int fd, const void *buf, size_t n, int flags, const void *to, uint32_t len)',
      recv: 'long recvfrom(int fd, void *buf, size_t n, int flags, void *from, void *len)',
      close: 'int close(int fd)',
      setsockopt: 'int setsockopt(int fd, int level, int name, const void *val, uint32_t len)',
    });
    libc = {
      socket: t.socket,
      sendto: t.sendto,
      recv: (fd, buf, n, flags) => t.recv(fd, buf, n, flags, null, null),
      close: t.close,
      setsockopt: t.setsockopt,
    };
  } catch (err) {
    libc = `FFI unavailable (${(err as Error).message.split('\n')[0]})`;
  }
  return libc;
}

export type DumpResult = { ok: true; sockets: DiagSocket[] } | { ok: false; reason: string };

/** Run one or more dump requests on a fresh netlink socket; never throws. */
export async function sockDiagDump(requests: DumpRequest[]): Promise<DumpResult> {
  const sockets: DiagSocket[] = [];
  const r = await dumpEach(requests, (chunk) => parseDumpChunk(chunk, sockets));
  return r === null ? { ok: true, sockets } : { ok: false, reason: r };
}

/** How the kernel delivered a dump: datagrams received and their bytes (a dump's skb is at most 32 KB,
 * smaller when the kernel cannot find that much contiguous memory at once). */
export interface DumpStats {
  recvs: number;
  bytes: number;
}

export type TableDumpResult =
  | { ok: true; table: SocketTable; stats: DumpStats }
  | { ok: false; reason: string };

/** As sockDiagDump, the sockets parsed into columns (socket-table.ts): no object per socket. */
export async function sockDiagTable(
  requests: DumpRequest[],
  table = new SocketTable(),
): Promise<TableDumpResult> {
  const stats: DumpStats = { recvs: 0, bytes: 0 };
  const r = await dumpEach(requests, (chunk) => {
    stats.recvs++;
    stats.bytes += chunk.length;
    return parseDumpIntoTable(chunk, table);
  });
  return r === null ? { ok: true, table, stats } : { ok: false, reason: r };
}

/** Send each request and hand every reply datagram to `parse`; null when done, else why it failed. */
async function dumpEach(
  requests: DumpRequest[],
  parse: (chunk: Buffer) => { done: boolean; error: number },
): Promise<string | null> {
  const c = await loadLibc();
  if (typeof c === 'string') return c;
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return `netlink socket: errno ${-fd}`;
  try {
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(2n, 0); // 2 s
    c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16);
    const rcvbuf = Buffer.alloc(4);
    rcvbuf.writeInt32LE(1 << 20, 0);
    c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf, 4);
    const kernel = Buffer.alloc(12); // sockaddr_nl { nl_family, nl_pad, nl_pid = 0, nl_groups = 0 }
    kernel.writeUInt16LE(AF_NETLINK, 0);
    const buf = Buffer.alloc(RECV_BUF);
    let seq = 1;
    for (const req of requests) {
      const msg = encodeDumpRequest({ ...req, seq: seq++ });
      const sent = c.sendto(fd, msg, msg.length, 0, kernel, 12);
      if (sent < 0) return `netlink sendto: errno ${-sent}`;
      for (;;) {
        const n = c.recv(fd, buf, buf.length, 0);
        if (n < 0) {
          const e = -n;
          if (e === EINTR) continue;
          return `netlink recv: errno ${e}`;
        }
        if (n === 0) break;
        const r = parse(buf.subarray(0, n));
        if (r.error) return new DiagError(-r.error).message;
        if (r.done) break;
      }
    }
    return null;
  } finally {
    c.close(fd);
  }
}

/**
 * Capture the raw reply datagrams of one request (for test fixtures): every recv'd datagram,
 * concatenated. Throws when netlink is unavailable.
 */
export async function captureDump(req: DumpRequest): Promise<Buffer> {
  const c = await loadLibc();
  if (typeof c === 'string') throw new Error(c);
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) throw new Error(`netlink socket: errno ${-fd}`);
  try {
    const kernel = Buffer.alloc(12);
    kernel.writeUInt16LE(AF_NETLINK, 0);
    const msg = encodeDumpRequest(req);
    const sent = c.sendto(fd, msg, msg.length, 0, kernel, 12);
    if (sent < 0) throw new Error(`sendto: errno ${-sent}`);
    const buf = Buffer.alloc(RECV_BUF);
    const parts: Buffer[] = [];
    for (;;) {
      const n = c.recv(fd, buf, buf.length, 0);
      if (n <= 0) throw new Error(`recv: ${n === 0 ? 'end of file' : `errno ${-n}`}`);
      const chunk = Buffer.from(buf.subarray(0, n));
      parts.push(chunk);
      if (parseDumpChunk(chunk, []).done) break;
    }
    return Buffer.concat(parts);
  } finally {
    c.close(fd);
  }
}
