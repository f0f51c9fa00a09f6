// Running an app's setup(ctx) in the process that serves it, and its teardown when that process stops.
// Every model calls this where the app's hooks run: serve() for the in-process models (reactor,
// iterative), worker-main.ts in each worker process, thread-worker.ts in each thread. The bus it hands
// the app depends on where that is: in a worker, the supervisor's (or a process-per-connection
// parent's) hub over IPC; in a thread, the acceptor's hub (thread-bus.ts); in the serving process, a hub
// of its own (which alone talks to Redis when there is a `--bus`). An app without setup() gets nothing:
// no bus, no Redis connection.
import type { App, AppContext } from '../app.ts';
import type { Logger } from '../log.ts';
import { type BusMessage, localBus, type ProcessBus, uplinkBus, workerBus } from './bus.ts';

export interface AppRuntime {
  /** The app's bus in this process (null: the app has no setup()). */
  readonly bus: ProcessBus | null;
  /** Run the app's teardown, then close its bus. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger: Logger;
  /** 'local': this process is the whole server; 'worker': a supervisor relays (over IPC); 'thread': a
   * thread-pool thread, whose acceptor relays (messages to it through `post`). */
  where: 'local' | 'worker' | 'thread';
  /** Where a thread's bus messages go ('thread'). */
  post?: (message: BusMessage) => void;
  /** The bus URL (`redis://HOST:PORT`), used by a local hub. */
  url?: string;
}

const NONE: AppRuntime = { bus: null, close: async () => {} };

export async function startAppRuntime(app: App, options: RuntimeOptions): Promise<AppRuntime> {
  if (app.setup === undefined) return NONE;
  const { logger } = options;
  let bus: ProcessBus;
  let closeBus: () => void;
  if (options.where === 'worker' || options.where === 'thread') {
    bus = options.where === 'worker' ? workerBus(logger) : uplinkBus(options.post!, logger);
    closeBus = () => bus.close();
  } else {
    const local = localBus(logger, options.url);
    bus = local.bus;
    closeBus = local.close;
  }
  const ctx: AppContext = { bus, logger };
  let teardown: unknown;
  try {
    teardown = await app.setup(ctx);
  } catch (error) {
    closeBus();
    throw new Error(`app setup failed: ${(error as Error).message}`);
  }
  let closing: Promise<void> | null = null;
  return {
    bus,
    close: () =>
      (closing ??= (async () => {
        try {
          if (typeof teardown === 'function') await teardown();
        } catch (error) {
          logger.error('app teardown threw', { error });
        } finally {
          closeBus();
        }
      })()),
  };
}
