// The sock_diag transport: one AF_NETLINK socket through koffi (socket/sendto/recv/close), blocking
// recv with a 2 s SO_RCVTIMEO so a silent kernel cannot hang the inspector. It must fail soft: when
// koffi, libc or netlink is unavailable, `sockDiagDump` returns { ok: false, reason } and the inspector
// falls back to /proc (which lacks the listener backlog and socket memory).
import {
  DiagError,
  type DiagSocket,
  type DumpRequest,
  encodeDumpRequest,
  NETLINK_SOCK_DIAG,
  parseDumpChunk,
} from './inet-diag.ts';

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
  errno: () => number;
}

let libc: Libc | string | undefined;

async function loadLibc(): Promise<Libc | string> {
  if (libc !== undefined) return libc;
  try {
    if (process.platform !== 'linux') return (libc = 'sock_diag needs Linux');
    const koffi = (await import('koffi')).default;
    const lib = koffi.load('libc.so.6');
    libc = {
      socket: lib.func('int socket(int, int, int)'),
      sendto: lib.func('long sendto(int, const void *, size_t, int, const void *, uint32_t)'),
      recv: lib.func('long recv(int, void *, size_t, int)'),
      close: lib.func('int close(int)'),
      setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
      errno: () => koffi.errno(),
    };
  } catch (err) {
    libc = `FFI unavailable (${(err as Error).message.split('\n')[0]})`;
  }
  return libc;
}

export type DumpResult = { ok: true; sockets: DiagSocket[] } | { ok: false; reason: string };

/** Run one or more dump requests on a fresh netlink socket; never throws. */
export async function sockDiagDump(requests: DumpRequest[]): Promise<DumpResult> {
  const c = await loadLibc();
  if (typeof c === 'string') return { ok: false, reason: c };
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return { ok: false, reason: `netlink socket: errno ${c.errno()}` };
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
    const sockets: DiagSocket[] = [];
    let seq = 1;
    for (const req of requests) {
      const msg = encodeDumpRequest({ ...req, seq: seq++ });
      if (c.sendto(fd, msg, msg.length, 0, kernel, 12) < 0) {
        return { ok: false, reason: `netlink sendto: errno ${c.errno()}` };
      }
      for (;;) {
        const n = c.recv(fd, buf, buf.length, 0);
        if (n < 0) {
          const e = c.errno();
          if (e === EINTR) continue;
          return { ok: false, reason: `netlink recv: errno ${e}` };
        }
        if (n === 0) break;
        const r = parseDumpChunk(buf.subarray(0, n), sockets);
        if (r.error) return { ok: false, reason: new DiagError(-r.error).message };
        if (r.done) break;
      }
    }
    return { ok: true, sockets };
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
  if (fd < 0) throw new Error(`netlink socket: errno ${c.errno()}`);
  try {
    const kernel = Buffer.alloc(12);
    kernel.writeUInt16LE(AF_NETLINK, 0);
    const msg = encodeDumpRequest(req);
    if (c.sendto(fd, msg, msg.length, 0, kernel, 12) < 0) throw new Error(`sendto: errno ${c.errno()}`);
    const buf = Buffer.alloc(RECV_BUF);
    const parts: Buffer[] = [];
    for (;;) {
      const n = c.recv(fd, buf, buf.length, 0);
      if (n <= 0) throw new Error(`recv: errno ${c.errno()}`);
      const chunk = Buffer.from(buf.subarray(0, n));
      parts.push(chunk);
      if (parseDumpChunk(chunk, []).done) break;
    }
    return Buffer.concat(parts);
  } finally {
    c.close(fd);
  }
}
