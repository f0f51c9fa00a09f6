// sockaddr.ts — struct sockaddr_in / sockaddr_in6 in Buffers, and IP text <-> bytes.
//
// Why it is shaped this way: bind/connect/accept4/getsockname take raw sockaddr bytes, so we encode
// them by hand (koffi structs would allocate per call and could not express the big-endian port). We
// only accept IP *literals* (no DNS: a server or load generator resolves names once, elsewhere). Text
// output follows Node/libuv (`::1`, `::ffff:127.0.0.1`, RFC 5952 compression) so addresses compare equal
// across the syscall and node backends. sa_family is host-endian: little-endian on x86_64 and arm64.
import { AF_INET, AF_INET6 } from './constants.ts';

export const SOCKADDR_IN_SIZE = 16;
export const SOCKADDR_IN6_SIZE = 28;
/** sizeof(struct sockaddr_storage): big enough for any address the kernel may return. */
export const SOCKADDR_STORAGE_SIZE = 128;

export type SockAddr = { family: 'IPv4' | 'IPv6'; address: string; port: number; scopeId?: number };

/** '1.2.3.4' -> [1,2,3,4]; null unless four decimal octets without leading zeros. */
export function parseIPv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out.push(v);
  }
  return out;
}

/** '::1' -> 16 bytes (no zone: strip '%...' first); null if not an IPv6 literal. */
export function parseIPv6(s: string): Uint8Array | null {
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null;
  const head = dbl === -1 ? s : s.slice(0, dbl);
  const tail = dbl === -1 ? '' : s.slice(dbl + 2);
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === '' ? [] : tail.split(':');
  const groups: number[][] = [[], []];
  const lists = [headParts, tailParts];
  const lastList = dbl === -1 ? 0 : 1; // a dotted IPv4 tail may only be the address's last part
  for (let l = 0; l < 2; l++) {
    const list = lists[l]!;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      if (l === lastList && i === list.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (v4 === null) return null;
        groups[l]!.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        groups[l]!.push(Number.parseInt(p, 16));
      } else {
        return null;
      }
    }
  }
  const n = groups[0]!.length + groups[1]!.length;
  if (dbl === -1 ? n !== 8 : n > 7) return null;
  const words = [...groups[0]!, ...new Array<number>(8 - n).fill(0), ...groups[1]!];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  return out;
}

/** 16 bytes -> text, like libuv's inet_ntop (what Node prints): '::1', '::ffff:10.0.0.1', '2001:db8::1'. */
export function formatIPv6(b: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[offset + 2 * i]! << 8) | b[offset + 2 * i + 1]!);
  // Longest run of zero words (first one on ties), compressed only if >= 2 words long.
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    // Embedded IPv4: IPv4-compatible (::a.b.c.d) or IPv4-mapped (::ffff:a.b.c.d).
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += `${b[offset + 12]}.${b[offset + 13]}.${b[offset + 14]}.${b[offset + 15]}`;
      return out;
    }
    out += words[i]!.toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`invalid port ${port}: expected an integer in 0..65535`);
  }
}

/** AF_INET or AF_INET6 for an IP literal ('[::1]' and '%scope' accepted); throws TypeError otherwise. */
export function addressFamily(host: string): typeof AF_INET | typeof AF_INET6 {
  if (parseIPv4(host) !== null) return AF_INET;
  splitV6(host);
  return AF_INET6;
}

function splitV6(host: string): { bytes: Uint8Array; scopeId: number } {
  let h = host;
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  let scopeId = 0;
  const pct = h.indexOf('%');
  if (pct !== -1) {
    const zone = h.slice(pct + 1);
    if (!/^[0-9]+$/.test(zone))
      throw new TypeError(`unsupported IPv6 zone '${zone}' in ${host}: use a number`);
    scopeId = Number(zone);
    h = h.slice(0, pct);
  }
  const bytes = parseIPv6(h);
  if (bytes === null) throw new TypeError(`not an IP address literal: '${host}'`);
  return { bytes, scopeId };
}

/**
 * Writes a sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes) for `host`:`port` at the start of `out`
 * and returns its length (the socklen_t to pass along).
 */
export function encodeSockaddrInto(out: Buffer, host: string, port: number): number {
  checkPort(port);
  const v4 = parseIPv4(host);
  if (v4 !== null) {
    if (out.length < SOCKADDR_IN_SIZE) throw new RangeError('sockaddr buffer too small');
    out.fill(0, 0, SOCKADDR_IN_SIZE);
    out.writeUInt16LE(AF_INET, 0);
    out.writeUInt16BE(port, 2);
    for (let i = 0; i < 4; i++) out[4 + i] = v4[i]!;
    return SOCKADDR_IN_SIZE;
  }
  const { bytes, scopeId } = splitV6(host);
  if (out.length < SOCKADDR_IN6_SIZE) throw new RangeError('sockaddr buffer too small');
  out.fill(0, 0, SOCKADDR_IN6_SIZE);
  out.writeUInt16LE(AF_INET6, 0);
  out.writeUInt16BE(port, 2);
  // bytes 4..8: sin6_flowinfo = 0
  out.set(bytes, 8);
  out.writeUInt32LE(scopeId, 24);
  return SOCKADDR_IN6_SIZE;
}

/** A fresh Buffer holding exactly the sockaddr for `host`:`port` (its length is the socklen_t). */
export function encodeSockaddr(host: string, port: number): Buffer {
  const tmp = Buffer.alloc(SOCKADDR_IN6_SIZE);
  const len = encodeSockaddrInto(tmp, host, port);
  return tmp.subarray(0, len);
}

/** Decodes a sockaddr_in/sockaddr_in6 from `buf` (len = the socklen_t the kernel returned). */
export function decodeSockaddr(buf: Uint8Array, len: number = buf.length): SockAddr {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (len < 2) throw new TypeError(`sockaddr too short (${len} bytes)`);
  const family = b.readUInt16LE(0);
  if (family === AF_INET) {
    if (len < SOCKADDR_IN_SIZE) throw new TypeError(`sockaddr_in too short (${len} bytes)`);
    return { family: 'IPv4', address: `${b[4]}.${b[5]}.${b[6]}.${b[7]}`, port: b.readUInt16BE(2) };
  }
  if (family === AF_INET6) {
    if (len < SOCKADDR_IN6_SIZE) throw new TypeError(`sockaddr_in6 too short (${len} bytes)`);
    const scopeId = b.readUInt32LE(24);
    const out: SockAddr = { family: 'IPv6', address: formatIPv6(b, 8), port: b.readUInt16BE(2) };
    if (scopeId !== 0) out.scopeId = scopeId;
    return out;
  }
  throw new TypeError(`unsupported address family ${family}`);
}
