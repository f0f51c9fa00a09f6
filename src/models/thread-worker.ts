// One thread of the thread-pool model (a worker_thread). It loads the app itself (module instances are
// per thread), then serves the connected descriptors the acceptor hands it, one at a time, blocking in
// read()/write() on this thread (BlockingConnection 'thread' mode). It owns each descriptor from the
// moment it receives it: BlockingConnection closes it when the client is done, then the thread says
// 'done' and gets the next one. Its counters live in its own ServerCore; the acceptor sums them.
// The app's setup() runs here too. Its bus reaches the other threads through the acceptor, which relays
// (thread-bus.ts); a thread blocked in read() on its client delivers what arrives between the ticks of
// the socket's receive timeout (THREAD_TICK_MS).
import { parentPort, workerData } from 'node:worker_threads';
import { loadApp } from '../apps/index.ts';
import { BlockingConnection, READ_BUFFER_BYTES } from '../backends/blocking/connection.ts';
import type { BusMessage } from '../bus/bus.ts';
import { type AppRuntime, startAppRuntime } from '../bus/runtime.ts';
import { type BusAck, busAcknowledger, threadBusSender } from '../bus/thread-bus.ts';
import { coreOptions, ServerCore, type ServerStats } from '../net/server-core.ts';
import type { ResolvedTls } from '../net/tls/config.ts';
import { reloadTlsContexts } from '../net/tls/context.ts';
import { type FromWorker, ipcLogger, type WireOptions } from './worker-protocol.ts';

export type ToThread =
  | BusMessage
  | BusAck
  | { t: 'serve'; fd: number }
  | { t: 'stats'; id: number }
  | { t: 'drain' }
  | { t: 'finish' }
  | { t: 'tls-reload'; tls: ResolvedTls };
/** 'done': the client is gone; its counters so far (kept by the acceptor should this thread die). */
export type FromThread = FromWorker | BusMessage | BusAck | { t: 'done'; stats: ServerStats };

const port = parentPort!;
const send = (message: FromThread) => port.postMessage(message);
const wire = workerData.options as WireOptions;

let core: ServerCore | null = null;
let runtime: AppRuntime | null = null;
const logger = ipcLogger(send);
/** Publications to the acceptor, bounded by what it has acknowledged; and our acknowledgements. */
const uplink = threadBusSender(send, logger, 'the acceptor');
const acknowledge = busAcknowledger(send);
let draining = false;
const buf = Buffer.allocUnsafe(READ_BUFFER_BYTES); // one read buffer for every client of this thread

try {
  const app = await loadApp(wire.appSpec);
  // The acceptor admits connections (maxConnections); a thread serves whatever it is handed.
  runtime = await startAppRuntime(app, { logger, where: 'thread', post: uplink.send });
  core = new ServerCore(coreOptions({ ...wire, app, logger, maxConnections: Infinity }));
  core.start();
  send({ t: 'ready', port: wire.port });
} catch (error) {
  send({ t: 'fatal', message: (error as Error).message });
}

port.on('message', (m: ToThread) => {
  if (m.t === 'bus') {
    runtime?.bus?.receive(m);
    acknowledge(m);
    return;
  }
  if (m.t === 'bus-ack') {
    uplink.ack(m.bytes);
    return;
  }
  if (!core) return;
  if (m.t === 'tls-reload') {
    if (wire.tls) Object.assign(wire.tls, m.tls);
    reloadTlsContexts();
  } else if (m.t === 'serve') {
    if (draining) {
      // Accepted as the server stops: served under the drain (quiet -> ended; the deadline holds).
      core.refreshClock();
      core.start();
    }
    const c = core;
    void new BlockingConnection(c, m.fd, 'thread', buf)
      .serve()
      .then(() => send({ t: 'done', stats: structuredClone(c.stats) }));
  } else if (m.t === 'stats') send({ t: 'stats', id: m.id, stats: structuredClone(core.stats) });
  else if (m.t === 'drain') {
    draining = true;
    void core.drain(wire.drainTimeout);
  } else if (m.t === 'finish') {
    core.stop();
    send({ t: 'final', stats: structuredClone(core.stats) });
  }
});
