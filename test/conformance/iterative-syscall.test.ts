import { conformance } from './suite.ts';

conformance({
  name: 'iterative (syscall)',
  options: { model: 'iterative', backend: 'syscall' },
  concurrency: 1,
});
