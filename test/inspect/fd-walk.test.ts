// fd-scan.ts's two readers share one walk of /proc/PID/fd: they agree on a live process (scanSocketTable
// reads another process's table through a pidfd where it may), and a process that is gone gives an
// incomplete, empty reading (never a table reported whole).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { test } from 'node:test';
import { fastFdScanAvailable, scanSocketFds, scanSocketTable } from '../../src/inspect/fd-scan.ts';

test('scanSocketTable and scanSocketFds read the same sockets of a live process', async () => {
  await fastFdScanAvailable();
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  await once(client, 'connect');
  try {
    const t = scanSocketTable(process.pid);
    const s = scanSocketFds(process.pid, null);
    assert.ok(t.complete && s.complete);
    assert.ok(t.inodes.length >= 3, `${t.inodes.length} sockets: listener, client, accepted`);
    assert.equal(t.fdCount, s.fdCount);
    const first = new Map<number, number>();
    for (let k = 0; k < t.inodes.length; k++) if (!first.has(t.inodes[k])) first.set(t.inodes[k], t.fds[k]);
    assert.deepEqual([...first], [...s.held]);
    // another process, read through its pidfd where allowed: the same sockets as its fd names' walk
    const other = spawn('python3', [
      '-c',
      "import socket,os,sys\nk=[socket.socketpair() for _ in range(300)]\nfor s in k[::7]: s[0].close()\nos.dup2(k[1][1].fileno(), 900)\nprint('ok',flush=True)\nsys.stdin.read()",
    ]);
    try {
      await once(other.stdout!, 'data');
      const ours = readdirSync('/proc/self/fd').length;
      const ot = scanSocketTable(other.pid!);
      assert.equal(readdirSync('/proc/self/fd').length, ours, 'every copy of its fds closed (in batches)');
      const os = scanSocketFds(other.pid!, null);
      assert.ok(ot.complete && os.complete);
      assert.equal(ot.fdCount, os.fdCount);
      assert.equal(ot.inodes.length, os.held.size + 1, 'fd 900 is a second fd of one socket');
      const firstOther = new Map<number, number>();
      for (let k = 0; k < ot.inodes.length; k++)
        if (!firstOther.has(ot.inodes[k])) firstOther.set(ot.inodes[k], ot.fds[k]);
      assert.deepEqual([...firstOther], [...os.held]);
    } finally {
      other.kill();
    }
    // a limit stops the walk: never reported whole
    const one = scanSocketFds(process.pid, null, { firstOnly: true });
    assert.equal(one.held.size, 1);
    assert.equal(one.complete, false);
    assert.equal(one.fdCount, null);
  } finally {
    client.destroy();
    server.close();
  }
});

test('a process that is gone reads as incomplete and empty', async () => {
  await fastFdScanAvailable();
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid!;
  await once(child, 'exit');
  await new Promise((r) => setTimeout(r, 50)); // reaped by node's SIGCHLD handler
  const t = scanSocketTable(pid);
  assert.equal(t.complete, false);
  assert.equal(t.fdCount, null);
  assert.equal(t.inodes.length, 0);
  const s = scanSocketFds(pid, null);
  assert.equal(s.complete, false);
  assert.equal(s.held.size, 0);
});
