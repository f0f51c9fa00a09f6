import { conformance } from './suite.ts';

conformance({
  name: 'thread-pool (syscall, 4 threads)',
  options: { model: 'thread-pool', backend: 'syscall', workers: 4 },
  concurrency: 4,
});
