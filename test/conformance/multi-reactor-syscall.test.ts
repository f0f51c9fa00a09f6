import { conformance } from './suite.ts';

conformance({
  name: 'multi-reactor (syscall, reuseport)',
  options: { model: 'multi-reactor', backend: 'syscall', workers: 2, balance: 'reuseport' },
  concurrency: Infinity,
  workers: 2,
});

conformance({
  name: 'multi-reactor (syscall, shared)',
  options: { model: 'multi-reactor', backend: 'syscall', workers: 2, balance: 'shared' },
  concurrency: Infinity,
  workers: 2,
});
