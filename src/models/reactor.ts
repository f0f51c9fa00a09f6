// The reactor: one event loop in this process multiplexes every socket, on node:net (libuv's loop) or on
// the syscall backend (our own select/poll/epoll loop over FFI).
import { NodeReactor } from '../backends/node/reactor.ts';
import { SyscallReactor } from '../backends/syscall/reactor.ts';
import * as sys from '../sys/index.ts';
import { applyHeapPolicy } from './heap-policy.ts';
import { serveLoop } from './in-process-handle.ts';
import type { ListenSpec, ModelDefinition, ResolvedServeOptions, ServerHandle } from './types.ts';

export async function startNodeReactor(
  options: ResolvedServeOptions,
  spec: ListenSpec = {},
): Promise<ServerHandle> {
  applyHeapPolicy(options.smallYoungGeneration ?? false);
  return serveLoop('reactor', 'node', options, new NodeReactor(options), spec);
}

export async function startSyscallReactor(
  options: ResolvedServeOptions,
  spec: ListenSpec = {},
): Promise<ServerHandle> {
  sys.assertSyscallBackendAvailable();
  applyHeapPolicy(options.smallYoungGeneration ?? false);
  return serveLoop('reactor', 'syscall', options, new SyscallReactor(options), spec);
}

export const reactor: ModelDefinition = {
  name: 'reactor',
  summary: 'one event loop multiplexes every socket (select, poll or epoll); one core',
  backends: {
    node: startNodeReactor,
    syscall: startSyscallReactor,
  },
};
