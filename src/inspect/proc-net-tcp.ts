// /proc/net/tcp and /proc/net/tcp6 readers. With 100,000 sockets these files are ~15 MB, so the parser
// scans the Buffer byte by byte (no split/regex, no per-line strings), skips rows whose port does not
// match as soon as the port is decoded, and can only count by state. Addresses are the kernel's %08X of
// each 32-bit word in host (little-endian) order; they are rendered like Node/libuv's inet_ntop.
import { readFileSync } from 'node:fs';
import { formatIPv6 } from '../sys/sockaddr.ts';

export { formatIPv6 };

/** Index = the kernel's numeric state (include/net/tcp_states.h). */
export const TCP_STATES = [
  'UNKNOWN',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
] as const;
export type TcpState = (typeof TCP_STATES)[number];
export const TCP_LISTEN = 10;
export const TCP_SYN_RECV = 3;

export interface TcpSocketRow {
  family: 4 | 6;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: TcpState;
  /** Bytes not yet acknowledged by the peer (send queue). */
  txQueue: number;
  /** Bytes received, not yet read; for LISTEN: the current accept-queue length. */
  rxQueue: number;
  uid: number;
  inode: number;
}

export interface ParseOptions {
  /** Keep only rows with this port; see `side`. */
  port?: number;
  /** Which end `port` is matched against (default 'local': the server's side). */
  side?: 'local' | 'remote' | 'either';
  /** Count rows per state only, build no row objects. */
  countOnly?: boolean;
}

export interface ParseResult {
  rows: TcpSocketRow[];
  /** Rows kept, per state name (only non-zero states are present). */
  counts: Partial<Record<TcpState, number>>;
  total: number;
}

// Hex digit value per byte, -1 when not a hex digit.
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

function hex32(b: Buffer, p: number): number {
  return (
    ((HEX[b[p]] << 28) |
      (HEX[b[p + 1]] << 24) |
      (HEX[b[p + 2]] << 20) |
      (HEX[b[p + 3]] << 16) |
      (HEX[b[p + 4]] << 12) |
      (HEX[b[p + 5]] << 8) |
      (HEX[b[p + 6]] << 4) |
      HEX[b[p + 7]]) >>>
    0
  );
}

function hex16(b: Buffer, p: number): number {
  return (HEX[b[p]] << 12) | (HEX[b[p + 1]] << 8) | (HEX[b[p + 2]] << 4) | HEX[b[p + 3]];
}

/** A little-endian host word (as printed by the kernel) to the 4 bytes in network order. */
function wordBytes(w: number, out: Uint8Array, at: number): void {
  out[at] = w & 0xff;
  out[at + 1] = (w >>> 8) & 0xff;
  out[at + 2] = (w >>> 16) & 0xff;
  out[at + 3] = w >>> 24;
}

export function formatIPv4(bytes: Uint8Array, at = 0): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

/** Decode the kernel's hex address (8 or 32 hex digits) at `p`. */
export function decodeHexAddress(b: Buffer, p: number, family: 4 | 6): string {
  const bytes = new Uint8Array(16);
  if (family === 4) {
    wordBytes(hex32(b, p), bytes, 0);
    return formatIPv4(bytes);
  }
  for (let i = 0; i < 4; i++) wordBytes(hex32(b, p + 8 * i), bytes, 4 * i);
  return formatIPv6(bytes);
}

/** Parse the contents of /proc/net/tcp (family 4) or /proc/net/tcp6 (family 6). */
export function parseProcNetTcp(
  buf: Buffer,
  family: 4 | 6,
  opts: ParseOptions = {},
  into?: ParseResult,
): ParseResult {
  const out: ParseResult = into ?? { rows: [], counts: {}, total: 0 };
  const stateCounts = new Array<number>(TCP_STATES.length).fill(0);
  const addrLen = family === 4 ? 8 : 32;
  const want = opts.port ?? -1;
  const side = opts.side ?? 'local';
  const cache = new Map<string, string>();
  const addr = (p: number): string => {
    const key = buf.toString('latin1', p, p + addrLen);
    let s = cache.get(key);
    if (s === undefined) cache.set(key, (s = decodeHexAddress(buf, p, family)));
    return s;
  };
  const n = buf.length;
  let pos = buf.indexOf(10) + 1; // skip the header line
  if (pos === 0) return out;
  while (pos < n) {
    let eol = buf.indexOf(10, pos);
    if (eol === -1) eol = n;
    // "   N: LLLLLLLL:PPPP RRRRRRRR:PPPP ST TTTTTTTT:RRRRRRRR tr:when retr uid timeout inode ..."
    let p = buf.indexOf(58, pos); // ':' after the slot number
    if (p === -1 || p >= eol) break;
    p += 2;
    const lAddr = p;
    const lPort = hex16(buf, p + addrLen + 1);
    const rAddr = p + addrLen + 6;
    const rPort = hex16(buf, rAddr + addrLen + 1);
    if (
      want >= 0 &&
      (side === 'local'
        ? lPort !== want
        : side === 'remote'
          ? rPort !== want
          : lPort !== want && rPort !== want)
    ) {
      pos = eol + 1;
      continue;
    }
    p = rAddr + addrLen + 6;
    const st = (HEX[buf[p]] << 4) | HEX[buf[p + 1]];
    const state = st > 0 && st < TCP_STATES.length ? st : 0;
    stateCounts[state]++;
    if (!opts.countOnly) {
      p += 3;
      const tx = hex32(buf, p);
      const rx = hex32(buf, p + 9);
      p += 18;
      // skip "tr:tm->when" and "retrnsmt", then read uid, skip timeout, read inode
      let field = 0;
      let uid = 0;
      let inode = 0;
      while (p < eol && field < 5) {
        while (buf[p] === 32) p++;
        if (field === 2 || field === 4) {
          let v = 0;
          let c = buf[p];
          while (c >= 48 && c <= 57) {
            v = v * 10 + c - 48;
            c = buf[++p];
          }
          if (field === 2) uid = v;
          else inode = v;
        } else {
          while (p < eol && buf[p] !== 32) p++;
        }
        field++;
      }
      out.rows.push({
        family,
        localAddress: addr(lAddr),
        localPort: lPort,
        remoteAddress: addr(rAddr),
        remotePort: rPort,
        state: TCP_STATES[state],
        txQueue: tx,
        rxQueue: rx,
        uid,
        inode,
      });
    }
    pos = eol + 1;
  }
  for (let i = 0; i < stateCounts.length; i++) {
    if (stateCounts[i] === 0) continue;
    const name = TCP_STATES[i];
    out.counts[name] = (out.counts[name] ?? 0) + stateCounts[i];
    out.total += stateCounts[i];
  }
  return out;
}

export interface ReadOptions extends ParseOptions {
  /** Default both. */
  families?: (4 | 6)[];
  /** Root of procfs, for tests (default '/proc'). */
  procRoot?: string;
}

/** Read and parse /proc/net/tcp and /proc/net/tcp6 (a missing file, e.g. no IPv6, counts as empty). */
export function readProcNetTcp(opts: ReadOptions = {}): ParseResult {
  const root = opts.procRoot ?? '/proc';
  const out: ParseResult = { rows: [], counts: {}, total: 0 };
  for (const family of opts.families ?? [4, 6]) {
    let buf: Buffer;
    try {
      buf = readFileSync(`${root}/net/${family === 4 ? 'tcp' : 'tcp6'}`);
    } catch {
      continue;
    }
    parseProcNetTcp(buf, family, opts, out);
  }
  return out;
}
