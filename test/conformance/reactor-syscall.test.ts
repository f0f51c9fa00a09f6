import { conformance } from './suite.ts';

for (const [multiplexer, trigger] of [
  ['epoll', 'level'],
  ['epoll', 'edge'],
  ['poll', 'level'],
  ['select', 'level'],
] as const) {
  conformance({
    name: `reactor (syscall, ${multiplexer}${multiplexer === 'epoll' ? `, ${trigger}-triggered` : ''})`,
    options: { model: 'reactor', backend: 'syscall', multiplexer, trigger },
    concurrency: Infinity,
    // select watches descriptors below 1024 only, and here the clients share the server's process.
    maxClientsAtOnce: multiplexer === 'select' ? 400 : undefined,
  });
}
