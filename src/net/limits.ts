// Every per-connection bound in one place, with the defaults the command line shows.

export interface ConnectionLimits {
  /** send() returns false once this many bytes wait to be written (default 64 KiB). */
  highWaterMark: number;
  /** After send() returned false, the app's drain() runs when the queue falls to this (default 16 KiB). */
  lowWaterMark: number;
  /** More than this queued: the peer is too slow and is closed with reason 'slow-consumer' (default 1 MiB). */
  maxWriteBuffer: number;
  /** Close a connection with no traffic either way for this long, in ms (0: never; default 0). */
  idleTimeout: number;
  /** Close a connection that holds a partial message this long, in ms (slowloris; 0: never; default 0). */
  partialTimeout: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  highWaterMark: 64 * 1024,
  lowWaterMark: 16 * 1024,
  maxWriteBuffer: 1024 * 1024,
  idleTimeout: 0,
  partialTimeout: 0,
};

export function resolveLimits(partial: Partial<ConnectionLimits> = {}): ConnectionLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof ConnectionLimits)[]) {
    const value = partial[key];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 0)
      throw new RangeError(`${key} must be a number >= 0, got ${value}`);
    limits[key] = value;
  }
  if (limits.lowWaterMark > limits.highWaterMark) {
    throw new RangeError(
      `lowWaterMark (${limits.lowWaterMark}) exceeds highWaterMark (${limits.highWaterMark})`,
    );
  }
  if (limits.maxWriteBuffer < limits.highWaterMark) {
    throw new RangeError(
      `maxWriteBuffer (${limits.maxWriteBuffer}) is below highWaterMark (${limits.highWaterMark})`,
    );
  }
  return limits;
}
