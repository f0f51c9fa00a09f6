import { conformance } from './suite.ts';

conformance({
  name: 'multi-reactor (node, reuseport)',
  options: { model: 'multi-reactor', backend: 'node', workers: 2, balance: 'reuseport' },
  concurrency: Infinity,
  workers: 2,
});

conformance({
  name: 'multi-reactor (node, shared)',
  options: { model: 'multi-reactor', backend: 'node', workers: 2, balance: 'shared' },
  concurrency: Infinity,
  workers: 2,
});
