// The handler API: an application is a codec plus a few callbacks. The same App object runs under every
// I/O model and backend; models that start workers load the app's module in each worker.
// An app that needs more than per-connection hooks (state shared with its copies in other workers, a
// timer, a resource to release) gets setup(ctx): it runs once in each process (or thread) that serves the
// app, before its first connection, and may return a teardown run after that process's last connection.
// ctx.bus carries messages between the app's copies:
//   let bus: Bus;
//   const members = new Set<Connection>();
//   export default defineApp({
//     protocol: 'line',
//     setup(ctx) {
//       bus = ctx.bus;
//       return bus.subscribe('news', (text) => { for (const c of members) c.send(String(text)); });
//     },
//     open(conn) { members.add(conn); },
//     close(conn) { members.delete(conn); },
//     message(conn, line) { bus.publish('news', line.toString()); },
//   });
// publish(topic, payload) reaches every subscriber of the topic in every worker of this server (the
// supervisor relays), including this process's own (synchronously, inside publish); with
// `--bus redis://HOST:PORT` it also reaches every server on that Redis. Payloads are strings or bytes,
// delivered at most once, in order per publisher (see src/bus/bus.ts). src/apps/chat.ts is the example.
import type { Bus } from './bus/bus.ts';
import type { Logger } from './log.ts';
import type { CloseReason, Connection } from './net/connection-api.ts';
import type { Codec } from './protocols/codec.ts';
import { resolveCodec } from './protocols/index.ts';

export type MaybePromise = void | Promise<void>;

/** An app's default timeouts, in ms (see AppSpec.timeouts). */
export interface AppTimeouts {
  idleTimeout?: number;
  partialTimeout?: number;
}

/** What setup() gets: the app's message bus and the server's logger. */
export interface AppContext {
  /** Topics shared by this app's copies in every worker (and every server on the bus). */
  readonly bus: Bus;
  readonly logger: Logger;
}

/** Returned by setup(): runs when the process stops serving, after its last connection closed. */
export type Teardown = () => MaybePromise;
export type SetupResult = void | Teardown | Promise<void> | Promise<Teardown | undefined>;

export interface AppSpec<In = Buffer, Out = Buffer | string> {
  /** A codec object, or the name of a built-in one: 'raw', 'line', 'length'. */
  protocol: Codec<In, Out> | string;
  /** A new connection is accepted. */
  open?(conn: Connection<Out>): MaybePromise;
  /**
   * One decoded message. The message may be a view of the read buffer, valid until this call returns
   * synchronously: copy it to keep it. If message() returns a promise, the connection delivers its next
   * message after the promise settles (reading pauses meanwhile) and async handlers receive owned copies.
   */
  message(conn: Connection<Out>, message: In): MaybePromise;
  /** The write buffer fell back below the low watermark after send() returned false. */
  drain?(conn: Connection<Out>): void;
  /** The connection is gone; called exactly once, with why. */
  close?(conn: Connection<Out>, reason: CloseReason): void;
  /** This app keeps state in one process: models with several workers refuse to run it. */
  singleProcess?: boolean;
  /**
   * This app passes messages between clients (chat). Under iterative (one client in all), prefork and
   * the thread pool (--workers clients at once, the rest wait to be accepted) few take part: serve()
   * warns.
   */
  crossClient?: boolean;
  /** Once per serving process (or thread), before its first connection; may return a teardown. */
  setup?(ctx: AppContext): SetupResult;
  /**
   * Timeouts in ms this app runs with unless the server is given its own (serve's idleTimeout and
   * partialTimeout; 0 turns one off). An app that faces the internet sets them: the built-in http app
   * uses nginx's defaults (see the README's "Defaults and timeouts").
   */
  timeouts?: AppTimeouts;
}

// biome-ignore lint/suspicious/noExplicitAny: an App of any message types, as models and registries hold them.
export interface App<In = any, Out = any> {
  readonly codec: Codec<In, Out>;
  readonly open: ((conn: Connection<Out>) => MaybePromise) | undefined;
  readonly message: (conn: Connection<Out>, message: In) => MaybePromise;
  readonly drain: ((conn: Connection<Out>) => void) | undefined;
  readonly close: ((conn: Connection<Out>, reason: CloseReason) => void) | undefined;
  readonly setup: ((ctx: AppContext) => SetupResult) | undefined;
  /** Deliver owned copies of messages (set for async message handlers). */
  readonly retainMessages: boolean;
  readonly singleProcess: boolean;
  readonly crossClient: boolean;
  readonly timeouts: Readonly<AppTimeouts>;
  readonly [APP]: true;
}

const APP = Symbol.for('c10k.app');

export function defineApp<In = Buffer, Out = Buffer | string>(spec: AppSpec<In, Out>): App<In, Out> {
  if (spec === null || typeof spec !== 'object') throw new TypeError('defineApp needs an object');
  if (typeof spec.message !== 'function')
    throw new TypeError('defineApp: message(conn, message) is required');
  for (const hook of ['open', 'drain', 'close', 'setup'] as const) {
    if (spec[hook] !== undefined && typeof spec[hook] !== 'function') {
      throw new TypeError(`defineApp: ${hook} must be a function`);
    }
  }
  const isAsync = (fn: unknown) => typeof fn === 'function' && fn.constructor?.name === 'AsyncFunction';
  return Object.freeze({
    codec: resolveCodec(spec.protocol) as Codec<In, Out>,
    open: spec.open?.bind(spec),
    message: spec.message.bind(spec),
    drain: spec.drain?.bind(spec),
    close: spec.close?.bind(spec),
    setup: spec.setup?.bind(spec),
    retainMessages: isAsync(spec.message),
    singleProcess: spec.singleProcess ?? false,
    crossClient: spec.crossClient ?? false,
    timeouts: Object.freeze({ ...spec.timeouts }),
    [APP]: true as const,
  });
}

export function isApp(value: unknown): value is App {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[APP] === true;
}
