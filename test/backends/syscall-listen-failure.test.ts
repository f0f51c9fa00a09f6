// A syscall reactor whose listen() fails after it opened the listening socket (here select cannot watch
// a descriptor >= FD_SETSIZE) closes that socket: the failed start leaves no descriptor open.
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { memoryLogger, serve } from '../../src/index.ts';
import { FD_SETSIZE, syscallBackendAvailable } from '../../src/sys/index.ts';

const openFds = () => readdirSync('/proc/self/fd').length;

test('syscall reactor: a listen that fails after opening its socket leaks no descriptor', {
  skip: syscallBackendAvailable() ? false : 'the syscall backend needs Linux',
}, async () => {
  const fillers: number[] = [];
  try {
    // Every descriptor up to past select's ceiling taken but one below it: the multiplexer's eventfd
    // gets that one, the listening socket one select cannot watch.
    while (openFds() < FD_SETSIZE + 8) fillers.push(openSync('/dev/null', 'r'));
    const low = fillers.findIndex((fd) => fd < FD_SETSIZE - 1);
    assert.ok(low >= 0);
    closeSync(fillers.splice(low, 1)[0]!);
    const before = openFds();
    await assert.rejects(
      serve({
        app: 'echo',
        model: 'reactor',
        backend: 'syscall',
        multiplexer: 'select',
        port: 0,
        logger: memoryLogger(),
      }),
      /1024|FD_SETSIZE/,
    );
    assert.equal(openFds(), before, 'every descriptor the failed start opened is closed');
  } finally {
    for (const fd of fillers) closeSync(fd);
  }
});

test('syscall reactor: select that cannot watch its own eventfd leaves it closed', {
  skip: syscallBackendAvailable() ? false : 'the syscall backend needs Linux',
}, async () => {
  const fillers: number[] = [];
  try {
    while (openFds() < FD_SETSIZE + 8) fillers.push(openSync('/dev/null', 'r'));
    const before = openFds();
    await assert.rejects(
      serve({
        app: 'echo',
        model: 'reactor',
        backend: 'syscall',
        multiplexer: 'select',
        port: 0,
        logger: memoryLogger(),
      }),
      /1024|FD_SETSIZE/,
    );
    assert.equal(openFds(), before, "the multiplexer's eventfd is closed");
  } finally {
    for (const fd of fillers) closeSync(fd);
  }
});
