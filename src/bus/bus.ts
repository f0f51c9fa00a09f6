// The app message bus: topics an app publishes to and subscribes to, reaching the same app in every
// worker of the server and, with `--bus redis://HOST:PORT`, in every server sharing that Redis.
// Two halves, so the same app code runs under every model:
// - ProcessBus is what the app holds (ctx.bus in setup()): its handlers, and an uplink that tells the
//   hub what this process subscribes to and publishes. Subscribers in the publishing process get a
//   message synchronously inside publish(); elsewhere it arrives asynchronously.
// - BusHub is the relay: one per server, in the supervisor (its members are the workers, reached over
//   IPC) or in the serving process itself (one member). It forwards a publication to the other members
//   subscribed to the topic, and to Redis if there is one (whose messages it hands to its members).
// Delivery is at most once, in order per publisher and path; a subscription takes effect shortly after
// subscribe() returns (a round trip to the hub, or to Redis). Payloads are text or bytes (they cross
// processes and machines); every queue on the way is bounded: a message that does not fit is dropped,
// counted and logged, never buffered without limit.
import type { Logger } from '../log.ts';
import { parseBusUrl, RedisBus } from './redis.ts';

export type BusPayload = string | Buffer;
export type BusHandler = (payload: BusPayload, topic: string) => void;

export interface Bus {
  /** Send to every subscriber of `topic` in every worker (and every server on the bus). */
  publish(topic: string, payload: string | Uint8Array): void;
  /** Call `handler` for each message on `topic`; returns the function that unsubscribes it. */
  subscribe(topic: string, handler: BusHandler): () => void;
}

/** What crosses IPC between a worker's ProcessBus and the supervisor's hub. */
export type BusMessage =
  | { t: 'bus'; op: 'sub' | 'unsub'; topic: string }
  | { t: 'bus'; op: 'pub'; topic: string; payload: string | Uint8Array };

export const MAX_TOPIC_LENGTH = 256;
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Bytes of publications waiting on one IPC channel before further ones are dropped. */
export const MAX_IPC_PENDING_BYTES = 16 * 1024 * 1024;

/** How a ProcessBus reaches its hub. */
export interface Uplink {
  sub(topic: string): void;
  unsub(topic: string): void;
  pub(topic: string, payload: string | Uint8Array): void;
}

/** A payload's length in bytes. */
export const payloadSize = (p: string | Uint8Array) =>
  typeof p === 'string' ? Buffer.byteLength(p) : p.length;
/** Over IPC a Buffer may arrive as a plain Uint8Array: hand apps a Buffer view of it. */
const asPayload = (p: string | Uint8Array): BusPayload =>
  typeof p === 'string' || Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.length);

export class ProcessBus implements Bus {
  private readonly handlers = new Map<string, Set<BusHandler>>();
  private readonly uplink: Uplink;
  private readonly logger: Logger;
  private closed = false;

  constructor(uplink: Uplink, logger: Logger) {
    this.uplink = uplink;
    this.logger = logger;
  }

  publish(topic: string, payload: string | Uint8Array): void {
    checkTopic(topic);
    if (typeof payload !== 'string' && !(payload instanceof Uint8Array))
      throw new TypeError('bus payload must be a string or bytes');
    if (payloadSize(payload) > MAX_PAYLOAD_BYTES)
      throw new RangeError(`bus payload larger than ${MAX_PAYLOAD_BYTES} bytes`);
    if (this.closed) return;
    this.deliver(topic, payload);
    this.uplink.pub(topic, payload);
  }

  subscribe(topic: string, handler: BusHandler): () => void {
    checkTopic(topic);
    if (typeof handler !== 'function') throw new TypeError('bus handler must be a function');
    let set = this.handlers.get(topic);
    if (set === undefined) {
      this.handlers.set(topic, (set = new Set()));
      if (!this.closed) this.uplink.sub(topic);
    }
    set.add(handler);
    return () => {
      const current = this.handlers.get(topic);
      if (current === undefined || !current.delete(handler) || current.size > 0) return;
      this.handlers.delete(topic);
      if (!this.closed) this.uplink.unsub(topic);
    };
  }

  /** A message for this process (from its own publish() or from the hub). */
  deliver(topic: string, payload: string | Uint8Array): void {
    const set = this.handlers.get(topic);
    if (set === undefined) return;
    const p = asPayload(payload);
    for (const handler of set) {
      try {
        handler(p, topic);
      } catch (error) {
        this.logger.error(`bus handler for '${topic}' threw`, { error });
      }
    }
  }

  /** A bus message from the supervisor. */
  receive(message: BusMessage): void {
    if (message.op === 'pub') this.deliver(message.topic, message.payload);
  }

  close(): void {
    this.closed = true;
    this.handlers.clear();
  }
}

function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH)
    throw new TypeError(`bus topic must be a string of 1 to ${MAX_TOPIC_LENGTH} characters`);
}

/** One member of a hub: a worker (over IPC) or the serving process's own ProcessBus. */
export interface HubMember {
  /** A sub/unsub/pub from this member. */
  receive(message: BusMessage): void;
  leave(): void;
}

interface Member {
  readonly deliver: (topic: string, payload: string | Uint8Array) => void;
  readonly topics: Set<string>;
}

export interface HubOptions {
  /** `redis://HOST:PORT` to span servers; undefined: this server only. */
  url?: string;
  logger: Logger;
}

export class BusHub {
  private readonly topics = new Map<string, Set<Member>>();
  private readonly logger: Logger;
  private readonly url: string | undefined;
  private remote: RedisBus | null = null;
  private closed = false;

  constructor(options: HubOptions) {
    this.logger = options.logger;
    this.url = options.url;
    if (this.url !== undefined) parseBusUrl(this.url); // fail early on a bad URL
  }

  /** A member elsewhere (a worker, a child, a thread): publications for it go out through `send`. */
  joinVia(send: (message: BusMessage) => void): HubMember {
    return this.join((topic, payload) => send({ t: 'bus', op: 'pub', topic, payload }));
  }

  join(deliver: (topic: string, payload: string | Uint8Array) => void): HubMember {
    const member: Member = { deliver, topics: new Set() };
    return {
      receive: (m) => {
        if (this.closed) return;
        if (m.op === 'pub') this.publish(member, m.topic, m.payload);
        else if (m.op === 'sub') this.subscribe(member, m.topic);
        else this.unsubscribe(member, m.topic);
      },
      leave: () => {
        for (const topic of [...member.topics]) this.unsubscribe(member, topic);
      },
    };
  }

  /** Stop relaying and close the Redis connections. */
  close(): void {
    this.closed = true;
    this.remote?.close();
    this.remote = null;
  }

  private redis(): RedisBus | null {
    if (this.url === undefined || this.closed) return null;
    if (this.remote === null) {
      // Connected on first use: a server whose app never touches the bus opens no connection.
      this.remote = new RedisBus(this.url, this.logger);
      this.remote.onMessage = (topic, payload) => {
        for (const m of this.topics.get(topic) ?? []) m.deliver(topic, payload);
      };
    }
    return this.remote;
  }

  private publish(from: Member, topic: string, payload: string | Uint8Array): void {
    const members = this.topics.get(topic);
    if (members !== undefined) for (const m of members) if (m !== from) m.deliver(topic, payload);
    this.redis()?.publish(topic, payload);
  }

  private subscribe(member: Member, topic: string): void {
    if (member.topics.has(topic)) return;
    member.topics.add(topic);
    let members = this.topics.get(topic);
    if (members === undefined) {
      this.topics.set(topic, (members = new Set()));
      this.redis()?.subscribe(topic);
    }
    members.add(member);
  }

  private unsubscribe(member: Member, topic: string): void {
    if (!member.topics.delete(topic)) return;
    const members = this.topics.get(topic);
    if (members === undefined) return;
    members.delete(member);
    if (members.size === 0) {
      this.topics.delete(topic);
      this.remote?.unsubscribe(topic);
    }
  }
}

/** A ProcessBus that is a member of `hub` in this same process (no IPC between them). */
export function joinHub(hub: BusHub, logger: Logger): ProcessBus {
  let member: HubMember | null = null;
  const bus = new ProcessBus(
    {
      sub: (topic) => member!.receive({ t: 'bus', op: 'sub', topic }),
      unsub: (topic) => member!.receive({ t: 'bus', op: 'unsub', topic }),
      pub: (topic, payload) => member!.receive({ t: 'bus', op: 'pub', topic, payload }),
    },
    logger,
  );
  member = hub.join((topic, payload) => bus.deliver(topic, payload));
  return bus;
}

/** A ProcessBus joined to its own hub: the bus of a model that serves in one process. */
export function localBus(logger: Logger, url?: string): { bus: ProcessBus; close(): void } {
  const hub = new BusHub({ url, logger });
  const bus = joinHub(hub, logger);
  return {
    bus,
    close: () => {
      bus.close();
      hub.close();
    },
  };
}

interface IpcChannel {
  readonly connected: boolean;
  send(message: unknown, callback: (error: Error | null) => void): boolean;
}

/**
 * The publication bytes sent to a peer and not yet taken by it, bounded by MAX_IPC_PENDING_BYTES: past
 * it (a peer that stopped reading) admit() refuses, and the refusals are counted and logged.
 */
export function pendingBytes(
  logger: Logger,
  what: string,
): { admit(bytes: number): boolean; release(bytes: number): void } {
  let pending = 0;
  let dropped = 0;
  return {
    admit(bytes) {
      if (pending + bytes > MAX_IPC_PENDING_BYTES) {
        if (dropped++ % 10_000 === 0)
          logger.warn(`bus: ${what} is not keeping up; publications dropped`, { dropped });
        return false;
      }
      pending += bytes;
      return true;
    },
    release(bytes) {
      pending = Math.max(0, pending - bytes);
    },
  };
}

/**
 * Bus messages over one IPC channel, with a bound on the publication bytes not yet written to it (see
 * pendingBytes): publications past it are dropped.
 */
export function ipcBusSender(
  channel: () => IpcChannel | null,
  logger: Logger,
  what: string,
): (message: BusMessage) => void {
  const pending = pendingBytes(logger, what);
  return (message) => {
    const ch = channel();
    if (ch === null || !ch.connected) return;
    const bytes = message.op === 'pub' ? payloadSize(message.payload) + 64 : 0;
    if (bytes > 0 && !pending.admit(bytes)) return;
    try {
      ch.send(message, () => pending.release(bytes));
    } catch {
      pending.release(bytes); // the channel closed under us
    }
  };
}

/** A ProcessBus whose hub is elsewhere: its subscriptions and publications go out through `send`. */
export function uplinkBus(send: (message: BusMessage) => void, logger: Logger): ProcessBus {
  return new ProcessBus(
    {
      sub: (topic) => send({ t: 'bus', op: 'sub', topic }),
      unsub: (topic) => send({ t: 'bus', op: 'unsub', topic }),
      pub: (topic, payload) => send({ t: 'bus', op: 'pub', topic, payload }),
    },
    logger,
  );
}

/** The bus of a worker: its hub is the supervisor's, over the IPC channel to the parent. */
export function workerBus(logger: Logger): ProcessBus {
  const send = ipcBusSender(
    () => (process.send ? (process as unknown as IpcChannel) : null),
    logger,
    'the supervisor',
  );
  return uplinkBus(send, logger);
}
