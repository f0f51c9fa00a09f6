// PROXY protocol v1 (text) and v2 (binary) headers, as sent by HAProxy, AWS NLB, etc. ahead of the client's
// bytes. Only pure parsing lives here: replacing a connection's remote address is the connection layer's
// job, so the layer runs a ProxyPreface on the first bytes of a connection from a trusted peer and, once it
// reports 'done', adopts the header and decodes `rest` with the app's codec.
// Spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
import { formatAddress, parseIPv4, parseIPv6 } from './cidr.ts';
import { ProtocolError } from './codec.ts';

export interface ProxyAddress {
  address: string;
  port: number;
}

export interface ProxyHeader {
  version: 1 | 2;
  /** 'PROXY': relayed for a client (addresses given); 'LOCAL': the proxy's own connection (health check). */
  command: 'PROXY' | 'LOCAL';
  family: 'IPv4' | 'IPv6' | 'unix' | 'unknown';
  /** The client as the proxy saw it, and the address it connected to (absent for LOCAL / UNKNOWN / unix). */
  source?: ProxyAddress;
  destination?: ProxyAddress;
}

export type ProxyParse = { done: false } | { done: true; consumed: number; header: ProxyHeader };

export interface ProxyOptions {
  /** Largest v2 address+TLV block accepted (default 4096; the field allows 65535). */
  maxV2Length?: number;
}

const V1_PREFIX = Buffer.from('PROXY ');
const V2_SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');
const V1_MAX = 107; // the longest v1 line, CRLF included
const NEED_MORE: ProxyParse = { done: false };

function bad(why: string): never {
  throw new ProtocolError(`PROXY protocol: ${why}`);
}

/** True while `buf` is a (possibly partial) prefix of `sig`. */
function startsLike(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  for (let i = 0; i < n; i++) if (buf[i] !== sig[i]) return false;
  return true;
}

/** Do these first bytes of a connection start a PROXY header (v1 or v2)? (For refusing untrusted ones.) */
export function looksLikeProxyHeader(buf: Buffer): boolean {
  return buf.length > 0 && (startsLike(buf, V1_PREFIX) || startsLike(buf, V2_SIGNATURE));
}

/**
 * Parse a PROXY header at the start of `buf` (the first bytes of a connection). `{done: false}` means a
 * valid prefix that needs more bytes; malformed input throws ProtocolError.
 */
export function parseProxyHeader(buf: Buffer, options: ProxyOptions = {}): ProxyParse {
  if (buf.length === 0) return NEED_MORE;
  if (buf[0] === 0x50) {
    if (!startsLike(buf, V1_PREFIX)) bad('not a PROXY header');
    return parseV1(buf);
  }
  if (buf[0] === 0x0d) {
    if (!startsLike(buf, V2_SIGNATURE)) bad('bad v2 signature');
    return parseV2(buf, options.maxV2Length ?? 4096);
  }
  bad('not a PROXY header');
}

function parseV1(buf: Buffer): ProxyParse {
  const limit = Math.min(buf.length, V1_MAX);
  let lf = -1;
  for (let i = 0; i < limit; i++) {
    if (buf[i] === 0x0a) {
      lf = i;
      break;
    }
  }
  if (lf === -1) {
    if (buf.length >= V1_MAX) bad(`v1 header longer than ${V1_MAX} bytes`);
    return NEED_MORE;
  }
  if (lf === 0 || buf[lf - 1] !== 0x0d) bad('v1 header not terminated by CRLF');
  const line = buf.toString('latin1', 0, lf - 1);
  const parts = line.split(' ');
  const consumed = lf + 1;
  if (parts[1] === 'UNKNOWN')
    return { done: true, consumed, header: { version: 1, command: 'PROXY', family: 'unknown' } };
  if (parts.length !== 6) bad('v1 header needs 6 fields');
  const [, proto, src, dst, sport, dport] = parts;
  let family: 'IPv4' | 'IPv6';
  if (proto === 'TCP4') {
    if (parseIPv4(src) === null || parseIPv4(dst) === null) bad('v1 TCP4 addresses are not IPv4');
    family = 'IPv4';
  } else if (proto === 'TCP6') {
    if (parseIPv6(src) === null || parseIPv6(dst) === null) bad('v1 TCP6 addresses are not IPv6');
    family = 'IPv6';
  } else bad(`v1 protocol '${proto}' is not TCP4, TCP6 or UNKNOWN`);
  return {
    done: true,
    consumed,
    header: {
      version: 1,
      command: 'PROXY',
      family,
      source: { address: src, port: v1Port(sport) },
      destination: { address: dst, port: v1Port(dport) },
    },
  };
}

function v1Port(text: string): number {
  if (!/^(0|[1-9]\d{0,4})$/.test(text) || Number(text) > 65535) bad(`v1 port '${text}' is not 0-65535`);
  return Number(text);
}

function parseV2(buf: Buffer, maxLength: number): ProxyParse {
  if (buf.length < 16) return NEED_MORE;
  const versionCommand = buf[12];
  if (versionCommand >> 4 !== 2) bad(`v2 version ${versionCommand >> 4} is not 2`);
  const cmd = versionCommand & 0x0f;
  if (cmd > 1) bad(`v2 command ${cmd} is not LOCAL or PROXY`);
  const familyTransport = buf[13];
  const fam = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  if (fam > 3 || transport > 2) bad(`v2 family/transport 0x${familyTransport.toString(16)} unknown`);
  const length = buf.readUInt16BE(14);
  if (length > maxLength) bad(`v2 header of ${length} bytes exceeds the limit of ${maxLength}`);
  const need = fam === 1 ? 12 : fam === 2 ? 36 : fam === 3 ? 216 : 0;
  if (length < need) bad(`v2 address block of ${length} bytes is too short for its family`);
  if (buf.length < 16 + length) return NEED_MORE;
  const consumed = 16 + length;
  const family = fam === 1 ? 'IPv4' : fam === 2 ? 'IPv6' : fam === 3 ? 'unix' : 'unknown';
  // LOCAL ignores the address block; so does UNSPEC. TLVs after the addresses are skipped.
  if (cmd === 0) return { done: true, consumed, header: { version: 2, command: 'LOCAL', family } };
  const header: ProxyHeader = { version: 2, command: 'PROXY', family };
  if (fam === 1) {
    header.source = { address: `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}`, port: buf.readUInt16BE(24) };
    header.destination = {
      address: `${buf[20]}.${buf[21]}.${buf[22]}.${buf[23]}`,
      port: buf.readUInt16BE(26),
    };
  } else if (fam === 2) {
    header.source = { address: formatAddress(buf.subarray(16, 32)), port: buf.readUInt16BE(48) };
    header.destination = { address: formatAddress(buf.subarray(32, 48)), port: buf.readUInt16BE(50) };
  }
  return { done: true, consumed, header };
}

export type PrefaceResult = { state: 'need-more' } | { state: 'done'; header: ProxyHeader; rest: Buffer };

/**
 * Incremental PROXY header reader for the first bytes of one connection. push() each chunk until it says
 * 'done'; `rest` is what followed the header in that chunk (a view of it: borrowed like the chunk).
 * Bytes of an incomplete header are copied, at most 16 + maxV2Length (v2) or 107 (v1).
 */
export class ProxyPreface {
  private held: Buffer | null = null;
  private readonly options: ProxyOptions;

  constructor(options: ProxyOptions = {}) {
    this.options = options;
  }

  /** Bytes held while the header is incomplete. */
  get buffered(): number {
    return this.held?.length ?? 0;
  }

  push(chunk: Buffer): PrefaceResult {
    const before = this.held?.length ?? 0;
    const buf = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
    const result = parseProxyHeader(buf, this.options);
    if (!result.done) {
      this.held = this.held === null ? Buffer.from(chunk) : buf;
      return { state: 'need-more' };
    }
    this.held = null;
    return { state: 'done', header: result.header, rest: chunk.subarray(result.consumed - before) };
  }
}

export const proxyPreface = (options: ProxyOptions = {}): ProxyPreface => new ProxyPreface(options);

/** Encode a header (for tests, load generators and proxies): v1 text or v2 binary. */
export function encodeProxyHeader(header: ProxyHeader): Buffer {
  const { source: s, destination: d } = header;
  if (header.version === 1) {
    if (header.family === 'unknown' || s === undefined || d === undefined)
      return Buffer.from('PROXY UNKNOWN\r\n');
    const proto = header.family === 'IPv6' ? 'TCP6' : 'TCP4';
    return Buffer.from(`PROXY ${proto} ${s.address} ${d.address} ${s.port} ${d.port}\r\n`, 'latin1');
  }
  const local = header.command === 'LOCAL' || s === undefined || d === undefined;
  const fam = local ? 0 : header.family === 'IPv6' ? 2 : 1;
  const length = fam === 1 ? 12 : fam === 2 ? 36 : 0;
  const out = Buffer.alloc(16 + length);
  V2_SIGNATURE.copy(out, 0);
  out[12] = 0x20 | (header.command === 'LOCAL' ? 0 : 1);
  out[13] = fam === 0 ? 0 : (fam << 4) | 1;
  out.writeUInt16BE(length, 14);
  if (fam === 1) {
    out.set(parseIPv4(s!.address) ?? bad('bad IPv4 source'), 16);
    out.set(parseIPv4(d!.address) ?? bad('bad IPv4 destination'), 20);
    out.writeUInt16BE(s!.port, 24);
    out.writeUInt16BE(d!.port, 26);
  } else if (fam === 2) {
    out.set(parseIPv6(s!.address) ?? bad('bad IPv6 source'), 16);
    out.set(parseIPv6(d!.address) ?? bad('bad IPv6 destination'), 32);
    out.writeUInt16BE(s!.port, 48);
    out.writeUInt16BE(d!.port, 50);
  }
  return out;
}
