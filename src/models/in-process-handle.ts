// The ServerHandle of a model that serves in this process alone (reactor on either backend, iterative):
// its one ServerCore is the stats, this process is the pid, and close() runs the model's stop once.
import type { ServerCore } from '../net/server-core.ts';
import type { Backend, ResolvedServeOptions, ServerHandle } from './types.ts';

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
