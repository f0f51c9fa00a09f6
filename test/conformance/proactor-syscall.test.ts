// The conformance suite on the io_uring proactor, in one process and as multi-proactor workers. On a
// kernel without io_uring every case is skipped, with the reason printed.
import { test } from 'node:test';
import { ioUringSupport } from '../../src/sys/index.ts';
import { conformance } from './suite.ts';

const support = ioUringSupport();
if (!support.ok) {
  console.log(`# proactor conformance skipped: ${support.reason}`);
  test(`proactor conformance (skipped: ${support.reason})`, { skip: support.reason }, () => {});
} else {
  conformance({
    name: 'proactor (syscall, io_uring)',
    options: { model: 'proactor', backend: 'syscall' },
    concurrency: Infinity,
  });
  conformance({
    name: 'multi-proactor (syscall, io_uring, reuseport)',
    options: { model: 'multi-proactor', backend: 'syscall', workers: 2, balance: 'reuseport' },
    concurrency: Infinity,
    workers: 2,
  });
}
