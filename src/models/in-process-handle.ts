// The ServerHandle of a model that serves in this process alone (reactor on either backend, proactor,
// iterative): its one ServerCore is the stats, this process is the pid, and close() runs the model's stop once.
import type { ServerCore } from '../net/server-core.ts';
import type { Backend, ListenSpec, ResolvedServeOptions, ServerHandle } from './types.ts';

export function inProcessHandle(
  model: string,
  backend: Backend,
  options: ResolvedServeOptions,
  port: number,
  core: ServerCore,
  stop: () => Promise<void>,
): ServerHandle {
  let closing: Promise<void> | null = null;
  return {
    model,
    backend,
    host: options.host,
    port,
    pids: () => [process.pid],
    stats: async () => structuredClone(core.stats),
    close: () => (closing ??= stop()),
  };
}

/** A backend's event loop, as a model starts it: listen, serve, close; dispose() if it never listened. */
export interface EventLoop {
  readonly core: ServerCore;
  listen(spec: ListenSpec): number | Promise<number>;
  close(): Promise<void>;
  dispose(): void;
}

/** Listen with `loop` (releasing it if that fails) and hand back its handle. */
export async function serveLoop(
  model: string,
  backend: Backend,
  options: ResolvedServeOptions,
  loop: EventLoop,
  spec: ListenSpec,
): Promise<ServerHandle> {
  let port: number;
  try {
    port = await loop.listen(spec);
  } catch (error) {
    loop.dispose();
    throw error;
  }
  return inProcessHandle(model, backend, options, port, loop.core, () => loop.close());
}
