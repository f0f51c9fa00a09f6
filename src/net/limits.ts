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
  /**
   * Most bytes a decoder may hold for one unfinished message (0: the codec's own bound; default 0). Read
   * by the built-in codecs: line (the line), length (the frame), resp (the command), http (the body).
   */
  maxMessageBytes: number;
  /** Most parts of one message (0: the codec's own bound; default 0): resp arguments, http header fields. */
  maxMessageParts: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  highWaterMark: 64 * 1024,
  lowWaterMark: 16 * 1024,
  maxWriteBuffer: 1024 * 1024,
  idleTimeout: 0,
  partialTimeout: 0,
  maxMessageBytes: 0,
  maxMessageParts: 0,
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
  if (!Number.isInteger(limits.maxMessageBytes) || limits.maxMessageBytes > 2 ** 32)
    throw new RangeError(`maxMessageBytes must be a whole number up to 4 GiB, got ${limits.maxMessageBytes}`);
  if (!Number.isInteger(limits.maxMessageParts) || limits.maxMessageParts > 2 ** 24)
    throw new RangeError(`maxMessageParts must be a whole number up to 2^24, got ${limits.maxMessageParts}`);
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
