import { tlsConformance } from './tls-suite.ts';

tlsConformance({
  name: 'reactor (syscall, epoll, edge-triggered)',
  options: { model: 'reactor', backend: 'syscall' },
  concurrency: Infinity,
});
tlsConformance({
  name: 'reactor (syscall, poll, level-triggered)',
  options: { model: 'reactor', backend: 'syscall', multiplexer: 'poll', trigger: 'level' },
  concurrency: Infinity,
});
tlsConformance({
  name: 'reactor (node)',
  options: { model: 'reactor', backend: 'node' },
  concurrency: Infinity,
});
