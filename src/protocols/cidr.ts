// CIDR lists (`127.0.0.0/8,::1/128,10.0.0.0/8`) as a matcher for peer addresses, used to decide which
// peers may send a PROXY protocol header. Every address becomes 16 bytes: IPv4 as its IPv4-mapped IPv6
// form (::ffff:a.b.c.d), so an IPv4 range matches both `10.1.2.3` and `::ffff:10.1.2.3` (what a dual-stack
// socket reports). The address text itself is parsed and printed by src/sys/sockaddr.ts (pure functions).
import { formatIPv6, parseIPv4, parseIPv6 } from '../sys/sockaddr.ts';

export { parseIPv4, parseIPv6 };

/** 16 bytes for an IPv4 or IPv6 address (zone ids and brackets tolerated), or null if it is neither. */
export function parseAddress(text: string): Uint8Array | null {
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  if (!text.includes(':')) {
    const v4 = parseIPv4(text);
    if (v4 === null) return null;
    const out = new Uint8Array(16);
    out[10] = out[11] = 0xff;
    out.set(v4, 12);
    return out;
  }
  return parseIPv6(text);
}

/** The usual text form of 16 address bytes: dotted IPv4 for IPv4-mapped, else compressed IPv6. */
export function formatAddress(bytes: Uint8Array, mappedAsIPv4 = false): string {
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) {
    const v4 = `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
    return mappedAsIPv4 ? v4 : `::ffff:${v4}`;
  }
  return formatIPv6(bytes);
}

interface Range {
  bytes: Uint8Array;
  prefix: number; // in bits, over the 16-byte form
}

function parseRange(entry: string): Range {
  const slash = entry.indexOf('/');
  const addressText = slash === -1 ? entry : entry.slice(0, slash);
  const bytes = parseAddress(addressText);
  if (bytes === null) throw new RangeError(`not an IP address in CIDR list: '${entry}'`);
  const v4 = !addressText.includes(':');
  const width = v4 ? 32 : 128;
  let prefix = width;
  if (slash !== -1) {
    const p = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > width)
      throw new RangeError(`bad prefix length in CIDR list: '${entry}'`);
    prefix = Number(p);
  }
  return { bytes, prefix: v4 ? 96 + prefix : prefix };
}

function inRange(address: Uint8Array, range: Range): boolean {
  const full = range.prefix >> 3;
  for (let i = 0; i < full; i++) if (address[i] !== range.bytes[i]) return false;
  const bits = range.prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (address[full] & mask) === (range.bytes[full] & mask);
}

/**
 * A matcher for a comma-separated (or array) list of CIDR ranges or single addresses. Throws RangeError on
 * a malformed entry; the matcher answers false for text that is not an address.
 */
export function parseCidrList(list: string | readonly string[]): (address: string) => boolean {
  const entries = (typeof list === 'string' ? list.split(',') : list)
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const ranges = entries.map(parseRange);
  return (address: string) => {
    const bytes = parseAddress(address);
    if (bytes === null) return false;
    for (const range of ranges) if (inRange(bytes, range)) return true;
    return false;
  };
}
