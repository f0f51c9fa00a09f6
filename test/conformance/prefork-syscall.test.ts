import { conformance } from './suite.ts';

conformance({
  name: 'prefork (syscall, 4 workers)',
  options: { model: 'prefork', backend: 'syscall', workers: 4 },
  concurrency: 4,
});
