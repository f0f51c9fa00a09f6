// helpers.ts — shared fixtures for the src/sys tests: a connected loopback pair on real sockets.
import {
  accept4,
  close,
  connectTcp,
  getsockname,
  listenTcp,
  POLLIN,
  PollFds,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
} from '../../src/sys/index.ts';

export type Pair = { listener: number; client: number; server: number; port: number; closeAll(): void };

/** Waits up to timeoutMs for POLLIN-style readiness on fd (events configurable); returns revents. */
export function waitFor(fd: number, events: number = POLLIN, timeoutMs = 2000): number {
  const p = new PollFds(1);
  p.add(fd, events);
  const n = p.poll(timeoutMs);
  return n > 0 ? p.revents(0) : 0;
}

/** listenTcp on 127.0.0.1:0, connectTcp to it, accept4: three non-blocking fds. */
export function tcpPair(host = '127.0.0.1'): Pair {
  const listener = listenTcp({ host, port: 0 });
  const { port } = getsockname(listener);
  const client = connectTcp(host, port);
  waitFor(listener);
  const server = accept4(listener, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (server < 0) throw new Error(`accept4 failed: ${server}`);
  return {
    listener,
    client,
    server,
    port,
    closeAll() {
      close(client);
      close(server);
      close(listener);
    },
  };
}
