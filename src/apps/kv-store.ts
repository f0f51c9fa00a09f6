// The kv app's data (src/apps/kv.ts): strings only, one database, bounded by key count and estimated
// memory. Values are kept already encoded as RESP bulk replies (GET sends the stored Buffer as is); keys
// are latin1 strings (binary-safe, one byte per char). Expiry is lazy on access plus a bounded periodic
// sweep on an unref'd timer.

export interface KvStoreOptions {
  /** Most keys held (default 5,000,000); writes that would add a key beyond it get an OOM error. */
  maxKeys?: number;
  /** Estimated bytes of keys + values + per-key overhead (default 512 MiB); above it, writes get OOM. */
  maxMemory?: number;
  /** How often the expiry sweep runs, ms (default 100), and how many keys with a TTL it checks each time. */
  sweepIntervalMs?: number;
  sweepBatch?: number;
}

const OVERHEAD = 64; // rough bytes per key beyond its key and value (Map slot, string header, Buffer)

/** The data: one Map of encoded values, one of expiry times (ms since the epoch) for keys that have one. */
export class KvStore {
  readonly values = new Map<string, Buffer>();
  readonly expires = new Map<string, number>();
  memory = 0;
  readonly maxKeys: number;
  readonly maxMemory: number;
  private sweeper: Iterator<[string, number]> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly sweepIntervalMs: number;
  private readonly sweepBatch: number;

  constructor(options: KvStoreOptions = {}) {
    this.maxKeys = options.maxKeys ?? 5_000_000;
    this.maxMemory = options.maxMemory ?? 512 * 1024 * 1024;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 100;
    this.sweepBatch = options.sweepBatch ?? 200;
  }

  /** The encoded value of a live key (expired keys are removed on the way). */
  get(key: string): Buffer | undefined {
    const value = this.values.get(key);
    if (value === undefined || this.expires.size === 0) return value;
    const at = this.expires.get(key);
    if (at !== undefined && at <= Date.now()) {
      this.delete(key);
      return undefined;
    }
    return value;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Store an encoded value; keepTtl keeps an existing expiry, else it is cleared. */
  set(key: string, encoded: Buffer, keepTtl = false): void {
    const old = this.values.get(key);
    this.memory += encoded.length - (old === undefined ? -(key.length + OVERHEAD) : old.length);
    this.values.set(key, encoded);
    if (!keepTtl && this.expires.size > 0) this.expires.delete(key);
  }

  expireAt(key: string, at: number): void {
    this.expires.set(key, at);
    if (this.timer === null && this.sweepIntervalMs > 0) {
      this.timer = setInterval(() => this.sweep(), this.sweepIntervalMs);
      this.timer.unref();
    }
  }

  delete(key: string): boolean {
    const old = this.values.get(key);
    if (old === undefined) return false;
    this.values.delete(key);
    this.expires.delete(key);
    this.memory -= key.length + OVERHEAD + old.length;
    return true;
  }

  /** The bytes storing `encoded` under `key` adds to `memory` (negative when it shrinks a value). */
  growth(key: string, encoded: Buffer): number {
    const old = this.values.get(key);
    return old === undefined ? key.length + OVERHEAD + encoded.length : encoded.length - old.length;
  }

  /**
   * May a write that adds `growth` bytes and `newKeys` keys go ahead? As Redis's noeviction does, every
   * write that grows memory is checked, whether it adds a key or makes a value bigger, and refused (OOM)
   * when memory would pass maxMemory; a write that frees memory is always allowed.
   */
  fits(growth: number, newKeys: number): boolean {
    if (growth > 0 && this.memory + growth > this.maxMemory) return false;
    return newKeys === 0 || this.values.size + newKeys <= this.maxKeys;
  }

  clear(): void {
    this.values.clear();
    this.expires.clear();
    this.memory = 0;
    this.sweeper = null;
  }

  /** Check up to sweepBatch keys with a TTL, resuming where the last sweep stopped. */
  sweep(now = Date.now()): number {
    let removed = 0;
    this.sweeper ??= this.expires.entries();
    for (let i = 0; i < this.sweepBatch; i++) {
      const next = this.sweeper.next();
      if (next.done) {
        this.sweeper = null;
        break;
      }
      if (next.value[1] <= now && this.delete(next.value[0])) removed++;
    }
    if (this.expires.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
    return removed;
  }

  /** Stop the sweep timer. */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
