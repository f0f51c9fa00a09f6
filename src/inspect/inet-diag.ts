// sock_diag (NETLINK_SOCK_DIAG) request encoder and reply parser: pure functions over Buffers, so they
// are tested against replies captured from a real kernel. sock_diag adds what /proc/net/tcp lacks: for a
// LISTEN socket idiag_wqueue is the backlog (max accept queue) next to idiag_rqueue = current length,
// and per-socket memory (SKMEMINFO). A port filter is compiled to inet_diag bytecode so the kernel skips
// other sockets itself. Layouts: include/uapi/linux/{netlink,inet_diag,sock_diag,tcp}.h.
import { formatIPv4, formatIPv6, TCP_STATES, type TcpState } from './proc-net-tcp.ts';

export const NETLINK_SOCK_DIAG = 4;
export const SOCK_DIAG_BY_FAMILY = 20;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_DUMP = 0x300;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const INET_DIAG_REQ_BYTECODE = 1;
export const INET_DIAG_BC_S_EQ = 11;
export const INET_DIAG_MEMINFO = 1;
export const INET_DIAG_INFO = 2;
export const INET_DIAG_SKMEMINFO = 7;

const NLMSG_HDRLEN = 16;
const REQ_V2_LEN = 56;
const DIAG_MSG_LEN = 72;
const align4 = (n: number) => (n + 3) & ~3;

export interface DumpRequest {
  family: 4 | 6;
  /** State names to dump (default: all). */
  states?: TcpState[];
  /** Only sockets whose local port is this (kernel-side bytecode filter). */
  port?: number;
  /** Ask for tcp_info (INET_DIAG_INFO) and socket memory (SKMEMINFO). Default true. */
  info?: boolean;
  /** With info: false leaves tcp_info out (socket memory only; a cheaper dump). Default true. */
  tcpInfo?: boolean;
  seq?: number;
}

/** Encode one nlmsghdr + inet_diag_req_v2 (+ bytecode attribute) dump request. */
export function encodeDumpRequest(req: DumpRequest): Buffer {
  let states = 0;
  if (!req.states) states = 0xffffffff;
  else for (const s of req.states) states |= 1 << TCP_STATES.indexOf(s);
  const bcLen = req.port === undefined ? 0 : 4 + 8;
  const len = NLMSG_HDRLEN + REQ_V2_LEN + bcLen;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
  b.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
  b.writeUInt32LE(req.seq ?? 1, 8);
  b.writeUInt32LE(0, 12);
  let o = NLMSG_HDRLEN;
  b[o] = req.family === 4 ? AF_INET : AF_INET6;
  b[o + 1] = IPPROTO_TCP;
  b[o + 2] =
    req.info === false
      ? 0
      : (req.tcpInfo === false ? 0 : 1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_SKMEMINFO - 1));
  b.writeUInt32LE(states >>> 0, o + 4);
  // inet_diag_sockid (o + 8 .. o + 56): a dump compares idiag_sport (network order) with each socket's
  // port before anything else, where the bytecode below builds an entry per socket first: at a million
  // connections the kernel walks two million sockets, half of them clients (docs/performance.md). The
  // bytecode stays, for kernels that ignore the field.
  if (req.port !== undefined) b.writeUInt16BE(req.port, o + 8);
  o += REQ_V2_LEN;
  if (req.port !== undefined) {
    b.writeUInt16LE(bcLen, o); // nlattr.nla_len
    b.writeUInt16LE(INET_DIAG_REQ_BYTECODE, o + 2);
    // op {S_EQ, yes: 8 (next op = end = accept), no: 12 (past the end = reject)} + op carrying the port
    b[o + 4] = INET_DIAG_BC_S_EQ;
    b[o + 5] = 8;
    b.writeUInt16LE(12, o + 6);
    b.writeUInt16LE(req.port, o + 10);
  }
  return b;
}

export interface SkMemInfo {
  rmemAlloc: number;
  rcvBuf: number;
  wmemAlloc: number;
  sndBuf: number;
  fwdAlloc: number;
  wmemQueued: number;
  optMem: number;
  backlog: number;
  drops: number;
}

/** The part of struct tcp_info the inspector uses. */
export interface TcpInfo {
  state: number;
  retransmits: number;
  rto: number;
  /** For LISTEN: current accept-queue length. */
  unacked: number;
  /** For LISTEN: the backlog (max accept-queue length). */
  sacked: number;
  lost: number;
  retrans: number;
  lastDataRecv: number;
  pmtu: number;
  rtt: number;
  rttvar: number;
  sndCwnd: number;
  totalRetrans: number;
  bytesAcked?: number;
  bytesReceived?: number;
}

export interface DiagSocket {
  family: 4 | 6;
  state: TcpState;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** Receive queue bytes; for LISTEN: current accept-queue length. */
  rxQueue: number;
  /** Send queue bytes; for LISTEN: the backlog (max accept-queue length). */
  txQueue: number;
  uid: number;
  inode: number;
  ifindex: number;
  timer: number;
  retrans: number;
  expires: number;
  skmem?: SkMemInfo;
  tcpInfo?: TcpInfo;
}

export class DiagError extends Error {
  errno: number;
  constructor(errno: number) {
    super(`sock_diag error: errno ${errno}`);
    this.errno = errno;
  }
}

// A dump of 100,000 sockets names few distinct addresses: reuse their strings (bounded cache).
const v4Names = new Map<number, string>();

function parseAddr(b: Buffer, o: number, family: 4 | 6): string {
  if (family === 6) return formatIPv6(b, o);
  const key = b.readUInt32LE(o);
  let name = v4Names.get(key);
  if (name === undefined) {
    if (v4Names.size >= 4096) v4Names.clear();
    v4Names.set(key, (name = formatIPv4(b, o)));
  }
  return name;
}

function parseTcpInfo(b: Buffer, o: number, len: number): TcpInfo {
  const u32 = (off: number) => (off + 4 <= len ? b.readUInt32LE(o + off) : 0);
  const info: TcpInfo = {
    state: b[o],
    retransmits: b[o + 2],
    rto: u32(8),
    unacked: u32(24),
    sacked: u32(28),
    lost: u32(32),
    retrans: u32(36),
    lastDataRecv: u32(52),
    pmtu: u32(60),
    rtt: u32(68),
    rttvar: u32(72),
    sndCwnd: u32(80),
    totalRetrans: u32(100),
  };
  if (len >= 136) {
    info.bytesAcked = Number(b.readBigUInt64LE(o + 120));
    info.bytesReceived = Number(b.readBigUInt64LE(o + 128));
  }
  return info;
}

function parseDiagMsg(b: Buffer, o: number, end: number): DiagSocket {
  const family = b[o] === AF_INET ? 4 : 6;
  const st = b[o + 1];
  const s: DiagSocket = {
    family,
    state: TCP_STATES[st < TCP_STATES.length ? st : 0],
    localPort: b.readUInt16BE(o + 4),
    remotePort: b.readUInt16BE(o + 6),
    localAddress: parseAddr(b, o + 8, family),
    remoteAddress: parseAddr(b, o + 24, family),
    ifindex: b.readUInt32LE(o + 40),
    timer: b[o + 2],
    retrans: b[o + 3],
    expires: b.readUInt32LE(o + 52),
    rxQueue: b.readUInt32LE(o + 56),
    txQueue: b.readUInt32LE(o + 60),
    uid: b.readUInt32LE(o + 64),
    inode: b.readUInt32LE(o + 68),
  };
  let a = o + DIAG_MSG_LEN;
  while (a + 4 <= end) {
    const alen = b.readUInt16LE(a);
    const type = b.readUInt16LE(a + 2) & 0x3fff;
    if (alen < 4 || a + alen > end) break;
    const p = a + 4;
    const plen = alen - 4;
    if (type === INET_DIAG_SKMEMINFO && plen >= 36) {
      s.skmem = {
        rmemAlloc: b.readUInt32LE(p),
        rcvBuf: b.readUInt32LE(p + 4),
        wmemAlloc: b.readUInt32LE(p + 8),
        sndBuf: b.readUInt32LE(p + 12),
        fwdAlloc: b.readUInt32LE(p + 16),
        wmemQueued: b.readUInt32LE(p + 20),
        optMem: b.readUInt32LE(p + 24),
        backlog: b.readUInt32LE(p + 28),
        drops: b.readUInt32LE(p + 32),
      };
    } else if (type === INET_DIAG_INFO && plen >= 32) {
      s.tcpInfo = parseTcpInfo(b, p, plen);
    }
    a += align4(alen);
  }
  return s;
}

export interface ChunkResult {
  /** NLMSG_DONE seen: the dump is complete. */
  done: boolean;
  /** Negative errno from NLMSG_ERROR (0 = none). */
  error: number;
}

/** Parse one or more netlink datagrams (concatenated), appending sockets to `out`. */
export function parseDumpChunk(buf: Buffer, out: DiagSocket[]): ChunkResult {
  let o = 0;
  while (o + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(o);
    const type = buf.readUInt16LE(o + 4);
    if (len < NLMSG_HDRLEN || o + len > buf.length) break; // truncated: ignore the rest
    if (type === NLMSG_DONE)
      return { done: true, error: len >= 20 ? Math.min(0, buf.readInt32LE(o + 16)) : 0 };
    if (type === NLMSG_ERROR) {
      const err = len >= 20 ? buf.readInt32LE(o + 16) : 0;
      if (err !== 0) return { done: true, error: err };
    } else if (type === SOCK_DIAG_BY_FAMILY && len >= NLMSG_HDRLEN + DIAG_MSG_LEN) {
      out.push(parseDiagMsg(buf, o + NLMSG_HDRLEN, o + len));
    }
    o += align4(len);
  }
  return { done: false, error: 0 };
}

/** Parse a whole dump (every datagram, concatenated). Throws DiagError on NLMSG_ERROR. */
export function parseDumpReplies(buf: Buffer): DiagSocket[] {
  const out: DiagSocket[] = [];
  const r = parseDumpChunk(buf, out);
  if (r.error) throw new DiagError(-r.error);
  return out;
}
