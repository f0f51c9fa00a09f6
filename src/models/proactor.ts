// The proactor: one io_uring event loop in this process (src/backends/uring/proactor.ts), and
// multi-proactor: one per worker process under the same supervisor as multi-reactor (--balance reuseport:
// a SO_REUSEPORT socket per worker slot; shared: one inherited socket), each worker with its own ring.
// Both need io_uring (Linux 6.0+): where the kernel lacks it they refuse to start with one line naming
// what is missing and the models that do work.
import { assertProactorAvailable, BUFFERS, Proactor } from '../backends/uring/proactor.ts';
import { applyHeapPolicy } from './heap-policy.ts';
import { serveLoop } from './in-process-handle.ts';
import { startEventLoopWorkers } from './multi-reactor.ts';
import type { ListenSpec, ModelDefinition, ResolvedServeOptions, ServerHandle } from './types.ts';

/** One proactor in this process; `buffers`: the shared receive buffers (fewer in tests, to run them dry). */
export async function startProactor(
  options: ResolvedServeOptions,
  spec: ListenSpec = {},
  buffers = BUFFERS,
): Promise<ServerHandle> {
  const flags = assertProactorAvailable(options.model);
  applyHeapPolicy(options.smallYoungGeneration ?? false); // a worker process applied it already
  return serveLoop('proactor', 'syscall', options, new Proactor(options, flags, buffers), spec);
}

const NODE = 'the proactor is io_uring, which node:net does not use: run it on --backend syscall';

export const proactor: ModelDefinition = {
  name: 'proactor',
  summary: 'one io_uring loop: the kernel accepts, receives and sends, we handle completions; one core',
  backends: { syscall: (options) => startProactor(options), node: NODE },
};

async function startMultiProactor(options: ResolvedServeOptions): Promise<ServerHandle> {
  assertProactorAvailable(options.model); // here, before any worker is spawned
  return startEventLoopWorkers(options, 'multi-proactor', 'proactor');
}

export const multiProactor: ModelDefinition = {
  name: 'multi-proactor',
  summary: 'one io_uring proactor per core in worker processes sharing the port',
  backends: { syscall: startMultiProactor, node: NODE },
};
