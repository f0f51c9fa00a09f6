import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as sys from '../../src/sys/index.ts';
import { tcpPair, waitFor } from './helpers.ts';

test('loopback round trip: listen, getsockname, connect, accept4, write/read, shutdown', () => {
  const listener = sys.listenTcp({ host: '127.0.0.1', port: 0, backlog: 16 });
  const local = sys.getsockname(listener);
  assert.equal(local.family, 'IPv4');
  assert.equal(local.address, '127.0.0.1');
  assert.ok(local.port > 0);
  assert.equal(sys.getsockopt(listener, sys.SOL_SOCKET, sys.SO_REUSEADDR), 1);

  // Nothing queued yet: a non-blocking accept says EAGAIN rather than blocking or throwing.
  assert.equal(sys.accept4(listener, sys.SOCK_NONBLOCK), -sys.EAGAIN);

  const client = sys.connectTcp('127.0.0.1', local.port, { noDelay: true });
  assert.ok(waitFor(client, sys.POLLOUT) & sys.POLLOUT);
  assert.equal(sys.socketError(client), 0);
  assert.equal(sys.getsockopt(client, sys.IPPROTO_TCP, sys.TCP_NODELAY), 1);

  waitFor(listener);
  const peer = Buffer.alloc(sys.SOCKADDR_STORAGE_SIZE);
  const server = sys.accept4(listener, sys.SOCK_NONBLOCK | sys.SOCK_CLOEXEC, peer);
  assert.ok(server > 0);
  const clientLocal = sys.getsockname(client);
  assert.deepEqual(sys.decodeSockaddr(peer), clientLocal);
  assert.deepEqual(sys.getpeername(server), clientLocal);
  assert.deepEqual(sys.getpeername(client), local);

  const buf = Buffer.alloc(64);
  assert.equal(sys.read(server, buf, buf.length), -sys.EAGAIN, 'empty non-blocking read');

  const msg = Buffer.from('hello, kernel');
  assert.equal(sys.write(client, msg, msg.length), msg.length);
  waitFor(server);
  const n = sys.read(server, buf, buf.length);
  assert.equal(buf.subarray(0, n).toString(), 'hello, kernel');

  // writev from several Buffers (pooled ones included: addresses honour byteOffset) and readPtr/writePtr.
  const parts = [Buffer.from('ab'), Buffer.from('cde'), Buffer.alloc(3, 'x')];
  assert.equal(sys.writevBuffers(server, parts), 8);
  waitFor(client);
  const addr = sys.addressOf(buf);
  assert.equal(sys.readPtr(client, addr + 10, 54), 8);
  assert.equal(buf.subarray(10, 18).toString(), 'abcdexxx');
  assert.equal(sys.writePtr(client, addr + 12, 3), 3);
  waitFor(server);
  assert.equal(sys.recv(server, buf, 64, sys.MSG_PEEK), 3);
  assert.equal(sys.recv(server, buf, 64, 0), 3);
  assert.equal(buf.subarray(0, 3).toString(), 'cde');

  // Half-close: the peer reads EOF (0), and can still write back.
  assert.equal(sys.shutdown(client, sys.SHUT_WR), 0);
  waitFor(server);
  assert.equal(sys.read(server, buf, buf.length), 0);
  assert.equal(sys.send(server, msg, 5, sys.MSG_NOSIGNAL), 5);
  waitFor(client);
  assert.equal(sys.read(client, buf, buf.length), 5);

  for (const fd of [client, server, listener]) assert.equal(sys.close(fd), 0);
  assert.equal(sys.close(server), -sys.EBADF);
});

test('a peer that closes with unread data resets: read gives -ECONNRESET, then write -EPIPE', () => {
  const p = tcpPair();
  const junk = Buffer.alloc(100, 1);
  assert.equal(sys.write(p.client, junk, junk.length), 100);
  waitFor(p.server);
  sys.close(p.server); // unread data in its receive queue: the kernel sends RST, not FIN
  assert.ok(waitFor(p.client, sys.POLLIN | sys.POLLRDHUP) !== 0);
  const buf = Buffer.alloc(16);
  assert.equal(sys.read(p.client, buf, 16), -sys.ECONNRESET);
  const w = sys.send(p.client, junk, 10, sys.MSG_NOSIGNAL);
  assert.ok(w === -sys.EPIPE || w === -sys.ECONNRESET, `write after RST: ${sys.errnoName(w)}`);
  // Node ignores SIGPIPE, so plain write() reports EPIPE too instead of killing the process.
  assert.equal(sys.write(p.client, junk, 10), -sys.EPIPE);
  sys.close(p.client);
  sys.close(p.listener);
});

test('SO_LINGER 0 makes close() send RST', () => {
  const p = tcpPair();
  sys.setLinger(p.server, true, 0);
  sys.close(p.server);
  waitFor(p.client);
  assert.equal(sys.read(p.client, Buffer.alloc(4), 4), -sys.ECONNRESET);
  sys.close(p.client);
  sys.close(p.listener);
});

test('connectTcp from a chosen source address, refused connections, EADDRINUSE', () => {
  const p = tcpPair();
  const c2 = sys.connectTcp('127.0.0.1', p.port, { localAddress: '127.0.0.2' });
  assert.equal(sys.getsockname(c2).address, '127.0.0.2');
  sys.close(c2);
  assert.throws(() => sys.listenTcp({ host: '127.0.0.1', port: p.port, reuseAddr: false }), {
    name: 'SysError',
    code: 'EADDRINUSE',
    message: new RegExp(`^bind: EADDRINUSE \\(address already in use\\) 127\\.0\\.0\\.1:${p.port}$`),
  });
  // SO_REUSEPORT lets a second socket share the port.
  const a = sys.listenTcp({ host: '127.0.0.1', port: 0, reusePort: true });
  const b = sys.listenTcp({ host: '127.0.0.1', port: sys.getsockname(a).port, reusePort: true });
  sys.close(a);
  sys.close(b);
  p.closeAll();
  // Nobody listens on the closed port any more: a blocking connect is refused at once.
  assert.throws(() => sys.connectTcp('127.0.0.1', p.port, { nonBlocking: false }), { code: 'ECONNREFUSED' });
  // A non-blocking one reports it through SO_ERROR.
  const c3 = sys.connectTcp('127.0.0.1', p.port);
  waitFor(c3, sys.POLLOUT);
  assert.equal(sys.socketError(c3), sys.ECONNREFUSED);
  sys.close(c3);
});

test('IPv6 dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d, like Node', async () => {
  const listener = sys.listenTcp({ host: '::', port: 0, ipv6Only: false });
  const { port, family } = sys.getsockname(listener);
  assert.equal(family, 'IPv6');
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => sock.once('connect', resolve));
  waitFor(listener);
  const peer = Buffer.alloc(sys.SOCKADDR_STORAGE_SIZE);
  const fd = sys.accept4(listener, sys.SOCK_CLOEXEC, peer);
  assert.deepEqual(sys.decodeSockaddr(peer), {
    family: 'IPv6',
    address: '::ffff:127.0.0.1',
    port: sock.localPort,
  });
  const v6 = sys.connectTcp('::1', port);
  waitFor(listener);
  const fd6 = sys.accept4(listener, sys.SOCK_CLOEXEC, peer);
  assert.deepEqual(sys.decodeSockaddr(peer), sys.getsockname(v6));
  assert.equal(sys.decodeSockaddr(peer).address, '::1');
  sock.destroy();
  for (const x of [fd, fd6, v6, listener]) sys.close(x);
});

test('fcntl helpers, pipe2, eventfd, rlimit', () => {
  const [r, w] = sys.pipe2(sys.O_CLOEXEC);
  assert.equal(sys.fcntl(r, sys.F_GETFL) & sys.O_NONBLOCK, 0);
  sys.setNonBlocking(r);
  assert.equal(sys.fcntl(r, sys.F_GETFL) & sys.O_NONBLOCK, sys.O_NONBLOCK);
  assert.equal(sys.fcntl(r, sys.F_GETFD) & sys.FD_CLOEXEC, sys.FD_CLOEXEC);
  sys.setCloexec(r, false);
  assert.equal(sys.fcntl(r, sys.F_GETFD) & sys.FD_CLOEXEC, 0);
  assert.equal(sys.read(r, Buffer.alloc(1), 1), -sys.EAGAIN);
  sys.close(r);
  sys.close(w);

  const efd = sys.eventfd(0, sys.EFD_NONBLOCK | sys.EFD_CLOEXEC);
  assert.equal(sys.eventfdRead(efd), -sys.EAGAIN);
  sys.eventfdWrite(efd, 2);
  sys.eventfdWrite(efd, 3);
  assert.equal(sys.eventfdRead(efd), 5);
  sys.close(efd);

  const lim = sys.getrlimit(sys.RLIMIT_NOFILE);
  assert.ok(lim.soft > 0 && lim.soft <= lim.hard);
  assert.throws(() => sys.fcntl(-1, sys.F_GETFL), { code: 'EBADF', syscall: 'fcntl' });
});

test('blocking-socket async calls run off the event loop', async () => {
  const listener = sys.listenTcp({ host: '127.0.0.1', port: 0, nonBlocking: false });
  const { port } = sys.getsockname(listener);
  const accepted = sys.acceptAsync(listener, sys.SOCK_CLOEXEC);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const client = sys.connectTcp('127.0.0.1', port, { nonBlocking: false });
  const server = await accepted;
  assert.ok(server > 0);
  const buf = Buffer.alloc(16);
  const reading = sys.readAsync(server, buf);
  let timerFired = false;
  setTimeout(() => {
    timerFired = true;
    sys.write(client, Buffer.from('ping'), 4);
  }, 20);
  assert.equal(await reading, 4);
  assert.ok(timerFired);
  assert.equal(buf.subarray(0, 4).toString(), 'ping');
  assert.equal(await sys.writeAsync(server, Buffer.from('pong')), 4);
  sys.close(server);
  assert.equal(await sys.readAsync(client, buf), 4);
  assert.equal(await sys.readAsync(client, buf), 0);
  sys.close(client);
  sys.close(listener);
  assert.equal(await sys.readAsync(client, buf), -sys.EBADF, 'errno survives the worker thread');
});

test('EMFILE becomes a SysError with code EMFILE (child process with a low RLIMIT_NOFILE)', () => {
  const child = fileURLToPath(new URL('./fixtures/emfile.ts', import.meta.url));
  const out = spawnSync(process.execPath, [child], { encoding: 'utf8', timeout: 20000 });
  assert.equal(out.status, 0, out.stderr);
  const res = JSON.parse(out.stdout.trim());
  assert.deepEqual(res.socket, { name: 'SysError', code: 'EMFILE', syscall: 'socket', errno: 24 });
  assert.equal(res.socketMessage, 'socket: EMFILE (too many open files)');
  assert.equal(res.accept, -sys.EMFILE);
  assert.equal(res.acceptMessage, 'accept4: EMFILE (too many open files)');
  assert.equal(res.softAfter, 64);
});
