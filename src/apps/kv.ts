// A key-value store on RESP, enough for redis-cli and redis-benchmark (strings only, one database).
// Shaped for the pipelined hot path: values are stored already encoded as RESP bulk replies, so GET sends
// the stored Buffer as is and MGET concatenates; keys are latin1 strings (binary-safe, one byte per char).
// Expiry is lazy on access plus a bounded periodic sweep on an unref'd timer. Data lives in one process:
// the app is marked singleProcess so multi-worker models refuse it.
import { type App, defineApp } from '../app.ts';
import type { Connection } from '../net/connection-api.ts';
import { type RespOptions, type RespReply, resp, respCodec } from '../protocols/resp.ts';
import { Glob } from './glob.ts';
import { KvStore, type KvStoreOptions } from './kv-store.ts';

export { KvStore } from './kv-store.ts';

export interface KvOptions extends KvStoreOptions {
  /** Limits of the RESP decoder. */
  protocol?: RespOptions;
}

const OOM = resp.error("OOM command not allowed when used memory > 'maxmemory'.");
const SYNTAX = resp.error('ERR syntax error');
const NOT_INTEGER = resp.error('ERR value is not an integer or out of range');
const OVERFLOW = resp.error('ERR increment or decrement would overflow');
/** Returned by a command that answered by itself. */
const HANDLED = Buffer.alloc(0);
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** The bytes of a stored value (its bulk encoding without `$n\r\n` and the final CRLF). */
function payload(encoded: Buffer): Buffer {
  return encoded.subarray(encoded.indexOf(0x0a) + 1, encoded.length - 2);
}

/** Redis's string2ll: an optional '-', no leading zeros, no spaces, within int64. */
function parseInteger(buf: Buffer): number | bigint | null {
  const n = buf.length;
  if (n === 0 || n > 20) return null;
  let i = buf[0] === 0x2d ? 1 : 0;
  if (i === n || (buf[i] === 0x30 && n > i + 1) || (i === 1 && buf[1] === 0x30)) return null;
  let value = 0;
  for (; i < n; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return null;
    value = value * 10 + d;
  }
  if (buf[0] === 0x2d) value = -value;
  if (Number.isSafeInteger(value)) return value;
  const big = BigInt(buf.toString('latin1'));
  return big > INT64_MAX || big < INT64_MIN ? null : big;
}

const upper = (b: Buffer) => b.toString('latin1').toUpperCase();
const key = (b: Buffer) => b.toString('latin1');

type Run = (store: KvStore, args: Buffer[], conn: Connection<RespReply>) => RespReply | undefined;
interface Command {
  /** Redis-style arity: n exactly, or -n for at least n (the command name counts). */
  readonly arity: number;
  readonly run: Run;
}

function incrBy(store: KvStore, name: Buffer, delta: number | bigint): RespReply {
  const k = key(name);
  const old = store.get(k);
  const current = old === undefined ? 0 : parseInteger(payload(old));
  if (current === null) return NOT_INTEGER;
  let next: number | bigint;
  if (typeof current === 'number' && typeof delta === 'number' && Number.isSafeInteger(current + delta)) {
    next = current + delta;
  } else {
    next = BigInt(current) + BigInt(delta);
    if (next > INT64_MAX || next < INT64_MIN) return OVERFLOW;
  }
  const encoded = resp.bulk(String(next));
  if (!store.fits(store.growth(k, encoded), old === undefined ? 1 : 0)) return OOM;
  store.set(k, encoded, true);
  return resp.integer(next);
}

function ttl(store: KvStore, name: Buffer, unit: number): RespReply {
  const k = key(name);
  if (!store.has(k)) return resp.integer(-2);
  const at = store.expires.get(k);
  return resp.integer(at === undefined ? -1 : Math.max(0, Math.round((at - Date.now()) / unit)));
}

function expire(store: KvStore, args: Buffer[], unit: number): RespReply {
  const amount = parseInteger(args[2]);
  if (amount === null) return NOT_INTEGER;
  const k = key(args[1]);
  if (!store.has(k)) return resp.integer(0);
  const at = Date.now() + Number(amount) * unit;
  if (at <= Date.now()) store.delete(k);
  else store.expireAt(k, at);
  return resp.integer(1);
}

function set(store: KvStore, args: Buffer[]): RespReply {
  let ttlAt = 0;
  let nx = false;
  let xx = false;
  let keepTtl = false;
  let get = false;
  for (let i = 3; i < args.length; i++) {
    const opt = upper(args[i]);
    if (opt === 'NX' && !xx) nx = true;
    else if (opt === 'XX' && !nx) xx = true;
    else if (opt === 'GET') get = true;
    else if (opt === 'KEEPTTL' && ttlAt === 0) keepTtl = true;
    else if ((opt === 'EX' || opt === 'PX' || opt === 'EXAT' || opt === 'PXAT') && ttlAt === 0 && !keepTtl) {
      if (++i === args.length) return SYNTAX;
      const amount = parseInteger(args[i]);
      if (amount === null) return NOT_INTEGER;
      const ms = Number(amount) * (opt === 'EX' || opt === 'EXAT' ? 1000 : 1);
      if (ms <= 0 || !Number.isSafeInteger(ms)) return resp.error("ERR invalid expire time in 'set' command");
      ttlAt = opt.endsWith('AT') ? ms : Date.now() + ms;
    } else return SYNTAX;
  }
  const k = key(args[1]);
  const old = store.get(k);
  const previous = get ? (old ?? resp.NULL) : undefined;
  if ((nx && old !== undefined) || (xx && old === undefined)) return previous ?? resp.NULL;
  const encoded = resp.bulk(args[2]);
  if (!store.fits(store.growth(k, encoded), old === undefined ? 1 : 0)) return OOM;
  store.set(k, encoded, keepTtl);
  if (ttlAt !== 0) {
    if (ttlAt <= Date.now()) store.delete(k);
    else store.expireAt(k, ttlAt);
  }
  return previous ?? resp.OK;
}

function flush(store: KvStore): RespReply {
  store.clear();
  return resp.OK;
}

const CONFIG_NAMES = ['save', 'appendonly', 'maxmemory', 'databases', 'maxmemory-policy'];
const LONGEST_CONFIG_NAME = Math.max(...CONFIG_NAMES.map((n) => n.length));
/**
 * Matching is linear in the pattern, but a JavaScript loop over a 64 MiB argument still holds the event
 * loop too long (docs/performance.md): longer patterns are refused, so CONFIG GET stays quick whatever it gets.
 */
const MAX_CONFIG_PATTERN = 64 * 1024;
const PATTERN_TOO_LONG = resp.error(`ERR pattern longer than ${MAX_CONFIG_PATTERN} bytes`);

function configGet(store: KvStore, patterns: Buffer[]): RespReply {
  const known: Record<string, string> = {
    save: '',
    appendonly: 'no',
    maxmemory: String(store.maxMemory),
    databases: '1',
    'maxmemory-policy': 'noeviction',
  };
  const out: string[] = [];
  for (const p of patterns) if (p.length > MAX_CONFIG_PATTERN) return PATTERN_TOO_LONG;
  for (const p of patterns) {
    // Case-blind, as Redis's CONFIG GET; linear in the pattern whatever its shape (src/apps/glob.ts).
    const glob = new Glob(p, true, LONGEST_CONFIG_NAME);
    for (const name of CONFIG_NAMES)
      if (glob.matches(name) && !out.includes(name)) out.push(name, known[name]);
  }
  return resp.bulks(out);
}

function info(store: KvStore): RespReply {
  const lines = [
    '# Server',
    'redis_version:7.0.0',
    'redis_mode:standalone',
    'c10k_app:kv',
    `process_id:${process.pid}`,
    `uptime_in_seconds:${Math.floor(process.uptime())}`,
    '# Memory',
    `used_memory:${store.memory}`,
    `maxmemory:${store.maxMemory}`,
    '# Keyspace',
  ];
  if (store.values.size > 0)
    lines.push(`db0:keys=${store.values.size},expires=${store.expires.size},avg_ttl=0`);
  return resp.bulk(lines.join('\r\n') + '\r\n');
}

const COMMANDS: Record<string, Command> = {
  ping: {
    arity: -1,
    run: (_s, a) => (a.length === 1 ? resp.PONG : a.length === 2 ? resp.bulk(a[1]) : undefined),
  },
  echo: { arity: 2, run: (_s, a) => resp.bulk(a[1]) },
  get: { arity: 2, run: (s, a) => s.get(key(a[1])) ?? resp.NULL },
  set: { arity: -3, run: (s, a) => set(s, a) },
  del: {
    arity: -2,
    run: (s, a) => {
      let n = 0;
      for (let i = 1; i < a.length; i++) if (s.delete(key(a[i]))) n++;
      return resp.integer(n);
    },
  },
  exists: {
    arity: -2,
    run: (s, a) => {
      let n = 0;
      for (let i = 1; i < a.length; i++) if (s.has(key(a[i]))) n++;
      return resp.integer(n);
    },
  },
  incr: { arity: 2, run: (s, a) => incrBy(s, a[1], 1) },
  decr: { arity: 2, run: (s, a) => incrBy(s, a[1], -1) },
  incrby: {
    arity: 3,
    run: (s, a) => ((d) => (d === null ? NOT_INTEGER : incrBy(s, a[1], d)))(parseInteger(a[2])),
  },
  decrby: {
    arity: 3,
    run: (s, a) => ((d) => (d === null ? NOT_INTEGER : incrBy(s, a[1], -d)))(parseInteger(a[2])),
  },
  mget: {
    arity: -2,
    run: (s, a) => {
      const items: Buffer[] = [];
      for (let i = 1; i < a.length; i++) items.push(s.get(key(a[i])) ?? resp.NULL);
      return resp.array(items);
    },
  },
  mset: {
    arity: -3,
    run: (s, a) => {
      if (a.length % 2 === 0) return undefined; // wrong arity, answered by the caller
      // All or nothing: the growth of every pair (a key named twice counts once per pair, an overestimate).
      let fresh = 0;
      let growth = 0;
      const encoded: Buffer[] = [];
      for (let i = 1; i < a.length; i += 2) {
        const k = key(a[i]);
        if (!s.has(k)) fresh++;
        encoded.push(resp.bulk(a[i + 1]));
        growth += s.growth(k, encoded[encoded.length - 1]);
      }
      if (!s.fits(growth, fresh)) return OOM;
      for (let i = 1; i < a.length; i += 2) s.set(key(a[i]), encoded[(i - 1) / 2]);
      return resp.OK;
    },
  },
  ttl: { arity: 2, run: (s, a) => ttl(s, a[1], 1000) },
  pttl: { arity: 2, run: (s, a) => ttl(s, a[1], 1) },
  expire: { arity: 3, run: (s, a) => expire(s, a, 1000) },
  pexpire: { arity: 3, run: (s, a) => expire(s, a, 1) },
  dbsize: { arity: 1, run: (s) => resp.integer(s.values.size) },
  flushall: { arity: -1, run: (s) => flush(s) },
  flushdb: { arity: -1, run: (s) => flush(s) },
  select: {
    arity: 2,
    run: (_s, a) => (a[1].toString() === '0' ? resp.OK : resp.error('ERR DB index is out of range')),
  },
  info: { arity: -1, run: (s) => info(s) },
  command: {
    arity: -1,
    run: (_s, a) =>
      a.length > 1 && upper(a[1]) === 'COUNT' ? resp.integer(Object.keys(COMMANDS).length) : resp.EMPTY_ARRAY,
  },
  config: {
    arity: -2,
    run: (s, a) => {
      const sub = upper(a[1]);
      if (sub === 'GET' && a.length >= 3) return configGet(s, a.slice(2));
      if (sub === 'RESETSTAT') return resp.OK;
      return resp.error(`ERR CONFIG ${sub} is not supported by c10k kv`);
    },
  },
  client: {
    arity: -2,
    run: (_s, a, conn) => {
      const sub = upper(a[1]);
      if (sub === 'ID') return resp.integer(conn.id);
      if (sub === 'GETNAME') return resp.NULL;
      return resp.OK; // SETNAME, SETINFO, ...: accepted and ignored
    },
  },
  hello: {
    arity: -1,
    run: (_s, a) => {
      if (a.length > 1 && a[1].toString() !== '2')
        return resp.error('NOPROTO sorry, this protocol version is not supported');
      return resp.bulks([
        'server',
        'redis',
        'version',
        '7.0.0',
        'proto',
        '2',
        'mode',
        'standalone',
        'role',
        'master',
      ]);
    },
  },
  quit: {
    arity: -1,
    run: (_s, _a, conn) => {
      conn.send(resp.OK);
      conn.end();
      return HANDLED;
    },
  },
};

// Commands by the name as sent: upper and lower case hit directly, other spellings after toLowerCase().
const LOOKUP = new Map<string, Command>();
for (const [name, command] of Object.entries(COMMANDS)) {
  LOOKUP.set(name, command);
  LOOKUP.set(name.toUpperCase(), command);
}

function sanitize(text: string): string {
  return text.replace(/[\r\n]/g, ' ');
}

/** Redis's reply to an unknown command, byte for byte. */
export function unknownCommand(args: Buffer[]): Buffer {
  let rest = '';
  for (let i = 1; i < args.length && rest.length < 128; i++)
    rest += `'${args[i].toString().slice(0, 128 - rest.length)}' `;
  return resp.error(
    sanitize(`ERR unknown command '${args[0].toString().slice(0, 128)}', with args beginning with: ${rest}`),
  );
}

export function wrongArity(name: string): Buffer {
  return resp.error(`ERR wrong number of arguments for '${name}' command`);
}

/** A kv app and its store (tests and embedders inspect the store; the module's default export is one app). */
export function createKv(options: KvOptions = {}): { app: App<Buffer[], RespReply>; store: KvStore } {
  const store = new KvStore(options);
  const app = defineApp<Buffer[], RespReply>({
    protocol: respCodec(options.protocol),
    singleProcess: true,
    // a command half-sent for a minute is cut; an idle client is not, as Redis's `timeout 0` (pools)
    timeouts: { partialTimeout: 60_000 },
    // Replies to pipelined commands leave in one write per read: the connection layer corks them.
    message(conn, args) {
      const name = args[0].toString('latin1');
      const command = LOOKUP.get(name) ?? LOOKUP.get(name.toLowerCase());
      if (command === undefined) {
        conn.send(unknownCommand(args));
        return;
      }
      const arity = command.arity;
      if (arity > 0 ? args.length !== arity : args.length < -arity) {
        conn.send(wrongArity(name.toLowerCase()));
        return;
      }
      const reply = command.run(store, args, conn);
      if (reply === undefined) conn.send(wrongArity(name.toLowerCase()));
      else if (reply !== HANDLED) conn.send(reply as Buffer);
    },
  });
  return { app, store };
}

export default createKv().app;
