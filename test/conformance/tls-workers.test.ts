import { tlsConformance } from './tls-suite.ts';

tlsConformance({
  name: 'multi-reactor (syscall, reuseport)',
  options: { model: 'multi-reactor', backend: 'syscall', workers: 2 },
  concurrency: Infinity,
  workers: 2,
});
tlsConformance({
  name: 'multi-reactor (node, shared)',
  options: { model: 'multi-reactor', backend: 'node', workers: 2, balance: 'shared' },
  concurrency: Infinity,
  workers: 2,
});
tlsConformance({
  name: 'prefork (syscall, 4 workers)',
  options: { model: 'prefork', backend: 'syscall', workers: 4 },
  concurrency: 4,
});
tlsConformance({
  name: 'thread-pool (syscall, 4 threads)',
  options: { model: 'thread-pool', backend: 'syscall', workers: 4 },
  concurrency: 4,
});
tlsConformance({
  name: 'iterative (syscall)',
  options: { model: 'iterative', backend: 'syscall' },
  concurrency: 1,
});
tlsConformance({
  name: 'process-per-connection (syscall)',
  options: { model: 'process-per-connection', backend: 'syscall', maxChildren: 8 },
  concurrency: 8,
});
tlsConformance({
  name: 'process-per-connection (node)',
  options: { model: 'process-per-connection', backend: 'node', maxChildren: 8 },
  concurrency: 8,
});
