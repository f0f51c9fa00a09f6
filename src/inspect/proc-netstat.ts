// /proc/net/netstat and /proc/net/snmp: pairs of lines "Prefix: Name1 Name2 ..." / "Prefix: v1 v2 ...".
// These are small files, so plain string parsing is fine. The counters are per network namespace
// (machine-wide, not per listener): the inspector shows them as such, and as deltas between refreshes.
import { readFileSync } from 'node:fs';

export type CounterGroups = Record<string, Record<string, number>>;

/** Parse the header/value line pairs of /proc/net/netstat or /proc/net/snmp. */
export function parseNetstat(text: string, into: CounterGroups = {}): CounterGroups {
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const head = lines[i];
    const vals = lines[i + 1];
    const colon = head.indexOf(':');
    if (colon <= 0 || !vals.startsWith(head.slice(0, colon + 1))) {
      i--; // out of step (e.g. a blank line): resynchronise on the next line
      continue;
    }
    const prefix = head.slice(0, colon);
    const names = head
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    const values = vals
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    const group = (into[prefix] ??= {});
    for (let k = 0; k < names.length && k < values.length; k++) group[names[k]] = Number(values[k]);
  }
  return into;
}

/** The counters that explain lost or delayed connections, machine-wide. */
export interface TcpCounters {
  /** Accept queue was full when a handshake completed or a SYN arrived (TcpExt.ListenOverflows). */
  ListenOverflows: number;
  /** Any drop at a listening socket, overflows included (TcpExt.ListenDrops). */
  ListenDrops: number;
  SyncookiesSent: number;
  SyncookiesRecv: number;
  SyncookiesFailed: number;
  /** Segments dropped because the socket's backlog (owned by user) was full. */
  TCPBacklogDrop: number;
  /** SYN queue full, SYN answered with a cookie / dropped. */
  TCPReqQFullDoCookies: number;
  TCPReqQFullDrop: number;
  TCPAbortOnMemory: number;
  TCPTimeWaitOverflow: number;
  EmbryonicRsts: number;
  /** From /proc/net/snmp Tcp: */
  ActiveOpens: number;
  PassiveOpens: number;
  AttemptFails: number;
  EstabResets: number;
  CurrEstab: number;
  RetransSegs: number;
  InErrs: number;
  OutRsts: number;
}

const TCPEXT_KEYS = [
  'ListenOverflows',
  'ListenDrops',
  'SyncookiesSent',
  'SyncookiesRecv',
  'SyncookiesFailed',
  'TCPBacklogDrop',
  'TCPReqQFullDoCookies',
  'TCPReqQFullDrop',
  'TCPAbortOnMemory',
  'TCPTimeWaitOverflow',
  'EmbryonicRsts',
] as const;
const TCP_KEYS = [
  'ActiveOpens',
  'PassiveOpens',
  'AttemptFails',
  'EstabResets',
  'CurrEstab',
  'RetransSegs',
  'InErrs',
  'OutRsts',
] as const;

/** Pick the TcpCounters out of parsed groups; absent counters (older kernels) are 0. */
export function pickTcpCounters(groups: CounterGroups): TcpCounters {
  const out = {} as TcpCounters;
  for (const k of TCPEXT_KEYS) out[k] = groups.TcpExt?.[k] ?? 0;
  for (const k of TCP_KEYS) out[k] = groups.Tcp?.[k] ?? 0;
  return out;
}

/** Read /proc/net/netstat and /proc/net/snmp. Missing files yield empty groups. */
export function readCounterGroups(procRoot = '/proc'): CounterGroups {
  const groups: CounterGroups = {};
  for (const f of ['netstat', 'snmp']) {
    try {
      parseNetstat(readFileSync(`${procRoot}/net/${f}`, 'latin1'), groups);
    } catch {
      // not available (non-Linux or hidden procfs): leave empty
    }
  }
  return groups;
}

export function readTcpCounters(procRoot = '/proc'): TcpCounters {
  return pickTcpCounters(readCounterGroups(procRoot));
}

/** after - before, per counter (CurrEstab is a gauge: the current value is kept). */
export function counterDelta(before: TcpCounters, after: TcpCounters): TcpCounters {
  const out = {} as TcpCounters;
  for (const k of Object.keys(after) as (keyof TcpCounters)[]) {
    out[k] = k === 'CurrEstab' ? after[k] : after[k] - (before[k] ?? 0);
  }
  return out;
}
