// The sockets of a dump as columns (typed arrays), one row per socket: at a million connections one
// object per socket (with its address strings, skmem and tcp_info objects) is most of the JS time of a
// refresh and all of its garbage. The sock_diag parser writes the columns straight from the reply bytes;
// addresses are interned (a million sockets name few distinct addresses); `row(i)` builds the object of
// one row (listeners, --sockets) in the shape of DiagSocket. The /proc/net/tcp reader's rows are added
// with `push` (the fallback path), so the inspector joins one representation whichever source it used.
import {
  AF_INET,
  type DiagSocket,
  type DumpRequest,
  NLMSG_DONE,
  NLMSG_ERROR,
  SOCK_DIAG_BY_FAMILY,
} from './inet-diag.ts';
import { formatIPv4, formatIPv6, TCP_STATES, type TcpState } from './proc-net-tcp.ts';

const NLMSG_HDRLEN = 16;
const DIAG_MSG_LEN = 72;
const INET_DIAG_INFO = 2;
const INET_DIAG_SKMEMINFO = 7;

/** Every state a connected or listening TCP socket can be in (1..12), for a dump request: not the
 * kernel's "bound, inactive" pseudo-state (13), whose walk visits every bound socket of the machine
 * (the bind hash: both ends of a million loopback connections) and which no connection is in. */
export const TCP_SOCKET_STATES: TcpState[] = TCP_STATES.slice(1) as TcpState[];

/** Row columns with their element types; grown together by doubling. */
export class SocketTable {
  length = 0;
  family = new Uint8Array(0);
  /** Index into TCP_STATES (0 for a state the table has no name for). */
  state = new Uint8Array(0);
  localPort = new Uint16Array(0);
  remotePort = new Uint16Array(0);
  /** Index into `addresses`. */
  localAddress = new Int32Array(0);
  remoteAddress = new Int32Array(0);
  rxQueue = new Uint32Array(0);
  txQueue = new Uint32Array(0);
  inode = new Uint32Array(0);
  /** Kernel buffer memory (skmeminfo rmem_alloc + wmem_queued + fwd_alloc); -1 where not dumped. */
  kernelMemory = new Float64Array(0);
  /** sk_drops (skmeminfo); -1 where not dumped. */
  drops = new Float64Array(0);
  /** tcp_info bytes_received + bytes_acked; -1 where not dumped. */
  kernelBytes = new Float64Array(0);
  /** Interned address strings. */
  readonly addresses: string[] = [];
  private readonly v4 = new Map<number, number>(); // address as read (little-endian u32) -> index
  private readonly v4mapped = new Map<number, number>();
  private readonly named = new Map<string, number>();

  constructor(capacity = 1024) {
    this.grow(capacity);
  }

  private grow(capacity: number): void {
    const n = this.length;
    const more = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(capacity);
      b.set(a.subarray(0, n));
      return b;
    };
    this.family = more(this.family);
    this.state = more(this.state);
    this.localPort = more(this.localPort);
    this.remotePort = more(this.remotePort);
    this.localAddress = more(this.localAddress);
    this.remoteAddress = more(this.remoteAddress);
    this.rxQueue = more(this.rxQueue);
    this.txQueue = more(this.txQueue);
    this.inode = more(this.inode);
    this.kernelMemory = more(this.kernelMemory);
    this.drops = more(this.drops);
    this.kernelBytes = more(this.kernelBytes);
  }

  /** A new row (its columns zero, the optional figures -1); returns its number. */
  addRow(): number {
    const i = this.length;
    if (i === this.family.length) this.grow(2 * i || 1024);
    this.kernelMemory[i] = -1;
    this.drops[i] = -1;
    this.kernelBytes[i] = -1;
    this.length = i + 1;
    return i;
  }

  /** The index of an address name. */
  intern(name: string): number {
    let k = this.named.get(name);
    if (k === undefined) {
      k = this.addresses.length;
      this.addresses.push(name);
      this.named.set(name, k);
    }
    return k;
  }

  /** The index of the IPv4 address at b[o..o+4). */
  internV4(b: Uint8Array, o: number, key: number): number {
    let k = this.v4.get(key);
    if (k === undefined) {
      k = this.intern(formatIPv4(b, o));
      this.v4.set(key, k);
    }
    return k;
  }

  /** The index of the IPv6 address at b[o..o+16); a v4-mapped one (dual-stack listeners) without
   * formatting it again. */
  internV6(b: Buffer, o: number): number {
    if (b.readUInt32LE(o) === 0 && b.readUInt32LE(o + 4) === 0 && b.readUInt32LE(o + 8) === 0xffff0000) {
      const key = b.readUInt32LE(o + 12);
      let k = this.v4mapped.get(key);
      if (k === undefined) {
        k = this.intern(formatIPv6(b, o));
        this.v4mapped.set(key, k);
      }
      return k;
    }
    return this.intern(formatIPv6(b, o));
  }

  /** Add a row given as an object (the /proc/net/tcp reader's). */
  push(r: Omit<DiagSocket, 'uid' | 'ifindex' | 'timer' | 'retrans' | 'expires'>): number {
    const i = this.addRow();
    this.family[i] = r.family;
    this.state[i] = Math.max(0, TCP_STATES.indexOf(r.state));
    this.localPort[i] = r.localPort;
    this.remotePort[i] = r.remotePort;
    this.localAddress[i] = this.intern(r.localAddress);
    this.remoteAddress[i] = this.intern(r.remoteAddress);
    this.rxQueue[i] = r.rxQueue;
    this.txQueue[i] = r.txQueue;
    this.inode[i] = r.inode;
    if (r.skmem) {
      this.kernelMemory[i] = r.skmem.rmemAlloc + r.skmem.wmemQueued + r.skmem.fwdAlloc;
      this.drops[i] = r.skmem.drops;
    }
    if (r.tcpInfo?.bytesReceived !== undefined && r.tcpInfo.bytesAcked !== undefined)
      this.kernelBytes[i] = r.tcpInfo.bytesReceived + r.tcpInfo.bytesAcked;
    return i;
  }

  stateName(i: number): TcpState {
    return TCP_STATES[this.state[i]];
  }

  /** Row i as an object (what a listener or --sockets needs; uid, timers and tcp_info are not kept). */
  row(
    i: number,
  ): Pick<
    DiagSocket,
    | 'family'
    | 'state'
    | 'localAddress'
    | 'localPort'
    | 'remoteAddress'
    | 'remotePort'
    | 'rxQueue'
    | 'txQueue'
    | 'inode'
  > {
    return {
      family: this.family[i] as 4 | 6,
      state: this.stateName(i),
      localAddress: this.addresses[this.localAddress[i]],
      localPort: this.localPort[i],
      remoteAddress: this.addresses[this.remoteAddress[i]],
      remotePort: this.remotePort[i],
      rxQueue: this.rxQueue[i],
      txQueue: this.txQueue[i],
      inode: this.inode[i],
    };
  }
}

export interface TableChunkResult {
  done: boolean;
  /** Negative errno from NLMSG_ERROR (0 = none). */
  error: number;
}

/**
 * Parse one or more netlink datagrams (concatenated, as recv'd: 4-byte aligned from `buf`'s start)
 * into `t`. The same bytes as inet-diag.ts parseDumpChunk reads, no object per socket.
 */
export function parseDumpIntoTable(buf: Buffer, t: SocketTable): TableChunkResult {
  const b = buf;
  const end = buf.length;
  const states = TCP_STATES.length;
  let o = 0;
  while (o + NLMSG_HDRLEN <= end) {
    const len = b.readUInt32LE(o);
    const type = b[o + 4] | (b[o + 5] << 8);
    if (len < NLMSG_HDRLEN || o + len > end) break; // truncated: ignore the rest
    if (type === NLMSG_DONE) return { done: true, error: len >= 20 ? Math.min(0, b.readInt32LE(o + 16)) : 0 };
    if (type === NLMSG_ERROR) {
      const err = len >= 20 ? b.readInt32LE(o + 16) : 0;
      if (err !== 0) return { done: true, error: err };
    } else if (type === SOCK_DIAG_BY_FAMILY && len >= NLMSG_HDRLEN + DIAG_MSG_LEN) {
      const m = o + NLMSG_HDRLEN;
      const i = t.addRow();
      const v4 = b[m] === AF_INET;
      t.family[i] = v4 ? 4 : 6;
      const st = b[m + 1];
      t.state[i] = st < states ? st : 0;
      t.localPort[i] = (b[m + 4] << 8) | b[m + 5];
      t.remotePort[i] = (b[m + 6] << 8) | b[m + 7];
      if (v4) {
        t.localAddress[i] = t.internV4(b, m + 8, b.readUInt32LE(m + 8));
        t.remoteAddress[i] = t.internV4(b, m + 24, b.readUInt32LE(m + 24));
      } else {
        t.localAddress[i] = t.internV6(b, m + 8);
        t.remoteAddress[i] = t.internV6(b, m + 24);
      }
      t.rxQueue[i] = b.readUInt32LE(m + 56);
      t.txQueue[i] = b.readUInt32LE(m + 60);
      t.inode[i] = b.readUInt32LE(m + 68);
      const mend = o + len;
      let a = m + DIAG_MSG_LEN;
      while (a + 4 <= mend) {
        const alen = b[a] | (b[a + 1] << 8);
        if (alen < 4 || a + alen > mend) break;
        const type = (b[a + 2] | (b[a + 3] << 8)) & 0x3fff;
        const p = a + 4;
        if (type === INET_DIAG_SKMEMINFO && alen - 4 >= 36) {
          // rmem_alloc + wmem_queued + fwd_alloc, as snapshot.ts skmemBytes
          t.kernelMemory[i] = b.readUInt32LE(p) + b.readUInt32LE(p + 20) + b.readUInt32LE(p + 16);
          t.drops[i] = b.readUInt32LE(p + 32);
        } else if (type === INET_DIAG_INFO && alen - 4 >= 136) {
          t.kernelBytes[i] = Number(b.readBigUInt64LE(p + 120)) + Number(b.readBigUInt64LE(p + 128));
        }
        a += (alen + 3) & ~3;
      }
    }
    o += (len + 3) & ~3;
  }
  return { done: false, error: 0 };
}

export type { DumpRequest };
