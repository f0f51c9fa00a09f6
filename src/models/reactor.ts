import { startNodeReactor } from '../backends/node/reactor.ts';
import { startSyscallReactor } from '../backends/syscall/reactor.ts';
import type { ModelDefinition } from './types.ts';

export const reactor: ModelDefinition = {
  name: 'reactor',
  summary: 'one event loop multiplexes every socket (select, poll or epoll); one core',
  backends: {
    node: startNodeReactor,
    syscall: startSyscallReactor,
  },
};
