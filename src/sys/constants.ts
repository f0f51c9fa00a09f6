// constants.ts — Linux ABI numbers for sockets, fcntl, poll, epoll, rlimits.
//
// Why it is shaped this way: plain `const` numbers (no enums: Node's type stripping forbids them, and
// constants inline in V8). All values are from Linux's asm-generic headers, which x86_64 and arm64 both
// use for these names (they differ on mips/sparc/alpha/parisc, which we do not support); they were
// checked against a C program compiled on x86_64 glibc. EPOLLET is 1<<31: written here as 0x80000000 so
// it stays positive; bitwise ORs turn it negative, which is still the right bit pattern for a uint32.

// Address families, socket types, socket() flags
export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000; // = O_NONBLOCK
export const SOCK_CLOEXEC = 0o2000000; // = O_CLOEXEC
export const SOMAXCONN = 4096; // kernel default of net.core.somaxconn since 5.4

// setsockopt levels and options
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;
export const SO_RCVTIMEO = 20;
export const SO_SNDTIMEO = 21;
export const IPPROTO_IP = 0;
export const SOL_IP = 0;
export const IPPROTO_TCP = 6;
export const SOL_TCP = 6;
export const IPPROTO_IPV6 = 41;
export const TCP_NODELAY = 1;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;
export const IPV6_V6ONLY = 26;
/** Bind a source address without reserving a port until connect(): many sources, few ephemeral ports. */
export const IP_BIND_ADDRESS_NO_PORT = 24;

// shutdown()
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

// send/recv flags
export const MSG_PEEK = 0x2;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;

// fcntl
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_DUPFD_CLOEXEC = 1030;
export const FD_CLOEXEC = 1;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;

// poll(2)
export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const POLLRDHUP = 0x2000;

// epoll(7)
export const EPOLLIN = 0x1;
export const EPOLLPRI = 0x2;
export const EPOLLOUT = 0x4;
export const EPOLLERR = 0x8;
export const EPOLLHUP = 0x10;
export const EPOLLRDHUP = 0x2000;
export const EPOLLEXCLUSIVE = 0x10000000;
export const EPOLLWAKEUP = 0x20000000;
export const EPOLLONESHOT = 0x40000000;
export const EPOLLET = 0x80000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLL_CLOEXEC = 0o2000000;

// eventfd(2)
export const EFD_SEMAPHORE = 1;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;

// resources, select
export const RLIMIT_NOFILE = 7;
export const FD_SETSIZE = 1024;
