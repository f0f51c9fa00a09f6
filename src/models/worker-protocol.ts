// What crosses the IPC channel between a supervising process and its workers (prefork workers,
// multi-reactor workers, process-per-connection children): the serve options in a serializable form (the
// app travels as its module spec, the logger as 'log' messages), stats requests, drain orders, the
// final stats a worker sends before it exits, and the app bus (sub/unsub/pub, relayed by the supervisor). Channels use serialization: 'advanced' (Infinity survives).
import type { BusMessage } from '../bus/bus.ts';
import type { LogFields, Logger, LogLevel } from '../log.ts';
import { siblingModulePath } from '../module-path.ts';
import { CLOSE_REASONS } from '../net/connection-api.ts';
import type { ServerStats } from '../net/server-core.ts';
import type { ListenSpec, ResolvedServeOptions } from './types.ts';

export const WORKER_MAIN = siblingModulePath('./worker-main.ts', import.meta.url);

export type WireOptions = Omit<ResolvedServeOptions, 'app' | 'logger'> & { appSpec: string };

export type WorkerRole = 'reactor' | 'proactor' | 'prefork' | 'connection';

export type ToWorker =
  | { t: 'start'; role: WorkerRole; options: WireOptions; listen: ListenSpec }
  | { t: 'stats'; id: number }
  | { t: 'drain' }
  | BusMessage; // a publication for this worker's subscribers (the supervisor's bus relay)

export type FromWorker =
  | { t: 'ready'; port: number }
  | { t: 'fatal'; message: string }
  | { t: 'log'; level: LogLevel; message: string; fields?: LogFields }
  | { t: 'stats'; id: number; stats: ServerStats }
  | { t: 'final'; stats: ServerStats }
  | BusMessage; // this worker's app (un)subscribes or publishes

export function toWire(options: ResolvedServeOptions): WireOptions {
  const { app: _app, logger: _logger, ...rest } = options;
  return { ...rest, appSpec: options.appSpec! };
}

/** A logger that forwards every entry to the parent (whose logger decides what to print). */
export function ipcLogger(send: (message: FromWorker) => void): Logger {
  const emit = (level: LogLevel) => (message: string, fields?: LogFields) => {
    const clean: LogFields = { pid: process.pid };
    if (fields) {
      for (const key in fields) {
        const value = fields[key];
        if (value instanceof Error) clean[key] = value.message;
        else if (value === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof value))
          clean[key] = value;
        else clean[key] = String(value);
      }
    }
    send({ t: 'log', level, message, fields: clean });
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** Add b's counters to a (active and the byte/message counters add up; startedAt keeps the earliest). */
export function addStats(a: ServerStats, b: ServerStats): ServerStats {
  a.startedAt = Math.min(a.startedAt, b.startedAt);
  a.accepted += b.accepted;
  a.active += b.active;
  a.rejected += b.rejected;
  a.bytesIn += b.bytesIn;
  a.bytesOut += b.bytesOut;
  a.messagesIn += b.messagesIn;
  a.messagesOut += b.messagesOut;
  a.tlsHandshakes += b.tlsHandshakes ?? 0;
  a.tlsResumed += b.tlsResumed ?? 0;
  a.tlsHandshaking += b.tlsHandshaking ?? 0;
  for (const reason of CLOSE_REASONS) a.closed[reason] += b.closed[reason] ?? 0;
  return a;
}
