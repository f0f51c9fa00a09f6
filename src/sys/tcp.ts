// tcp.ts — the two helpers every engine and the load generator start with: listenTcp() and connectTcp().
//
// Why it is shaped this way: the sequence socket/setsockopt/bind/listen (or bind-source/connect) is easy to
// get subtly wrong (leaking the fd on error, forgetting CLOEXEC, binding a source port too early), so it
// lives in one place. They return bare fds: the caller owns them and registers them with epoll/poll.
import {
  AF_INET,
  AF_INET6,
  IP_BIND_ADDRESS_NO_PORT,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_V6ONLY,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_IP,
  SOL_SOCKET,
  TCP_NODELAY,
} from './constants.ts';
import { EINPROGRESS, SysError } from './errno.ts';
import { addressFamily } from './sockaddr.ts';
import { bind, close, connect, listen, setsockopt, socket } from './socket.ts';

export type ListenTcpOptions = {
  /** IP literal to bind; default '0.0.0.0'. '::' listens on IPv6 (and IPv4-mapped unless ipv6Only). */
  host?: string;
  /** 0 (default) lets the kernel pick: read it back with getsockname(fd).port. */
  port?: number;
  /** Accept-queue length; the kernel caps it at net.core.somaxconn. Default 511 (like Node). */
  backlog?: number;
  /** SO_REUSEPORT: several sockets (processes) share the port, the kernel spreads connections. */
  reusePort?: boolean;
  /** SO_REUSEADDR (default true): rebind while old connections sit in TIME_WAIT. */
  reuseAddr?: boolean;
  /** SOCK_NONBLOCK (default true): accept4 returns -EAGAIN instead of blocking. */
  nonBlocking?: boolean;
  /** IPV6_V6ONLY for an IPv6 host. */
  ipv6Only?: boolean;
};

/** socket + setsockopt + bind + listen; returns the listening fd (CLOEXEC). Throws SysError. */
export function listenTcp(opts: ListenTcpOptions = {}): number {
  const host = opts.host ?? '0.0.0.0';
  const port = opts.port ?? 0;
  const family = addressFamily(host);
  const fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | (opts.nonBlocking === false ? 0 : SOCK_NONBLOCK));
  try {
    if (opts.reuseAddr !== false) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (opts.reusePort) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (family === AF_INET6 && opts.ipv6Only !== undefined) {
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, opts.ipv6Only);
    }
    bind(fd, host, port);
    listen(fd, opts.backlog ?? 511);
    return fd;
  } catch (err) {
    close(fd);
    throw err;
  }
}

export type ConnectTcpOptions = {
  /** Source address to bind first (e.g. 127.0.0.2 to get a fresh 4-tuple space on loopback). */
  localAddress?: string;
  /** Source port; default: chosen at connect() (IP_BIND_ADDRESS_NO_PORT), so sources share ports. */
  localPort?: number;
  /** SOCK_NONBLOCK (default true): connect() then returns at once, completion shows as POLLOUT. */
  nonBlocking?: boolean;
  /** TCP_NODELAY (default false). */
  noDelay?: boolean;
};

/**
 * socket + (bind source) + connect; returns the fd. Non-blocking (default): the connection may still
 * be in progress; wait for POLLOUT/EPOLLOUT, then socketError(fd) is 0 or the errno (ECONNREFUSED...).
 * Throws SysError for immediate failures (EADDRNOTAVAIL when out of ports, ECONNREFUSED, EMFILE...).
 */
export function connectTcp(host: string, port: number, opts: ConnectTcpOptions = {}): number {
  const nonBlocking = opts.nonBlocking !== false;
  const family = addressFamily(host);
  const fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | (nonBlocking ? SOCK_NONBLOCK : 0));
  try {
    if (opts.noDelay) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    if (opts.localAddress !== undefined) {
      if (addressFamily(opts.localAddress) !== family) {
        throw new TypeError(`localAddress ${opts.localAddress} is not the same family as ${host}`);
      }
      if (opts.localPort === undefined && family === AF_INET) {
        try {
          setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1);
        } catch {
          // kernels before 4.2: bind() then reserves a port per source address, which still works
        }
      }
      bind(fd, opts.localAddress, opts.localPort ?? 0);
    }
    const r = connect(fd, host, port);
    if (r < 0 && !(nonBlocking && r === -EINPROGRESS)) {
      throw new SysError('connect', -r, family === AF_INET ? `${host}:${port}` : `[${host}]:${port}`);
    }
    return fd;
  } catch (err) {
    close(fd);
    throw err;
  }
}
