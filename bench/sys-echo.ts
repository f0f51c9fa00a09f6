// bench/sys-echo.ts — the src/sys bindings' FFI cost, measured: an epoll echo server that mirrors the C
// reference (../shared/yardstick/echo_epoll.c) call for call — level-triggered, non-blocking, 127.0.0.1,
// backlog 4096, 512 events per epoll_wait, 64 KiB read buffer, TCP_NODELAY — so that
// `ratio -- node bench/sys-echo.ts {PORT}` compares only the cost of making the same syscalls from JS.
// usage: node bench/sys-echo.ts PORT
import {
  accept4,
  addressOf,
  close,
  EAGAIN,
  EPOLLIN,
  Epoll,
  getsockname,
  IPPROTO_TCP,
  listenTcp,
  read,
  SOCK_NONBLOCK,
  setsockopt,
  TCP_NODELAY,
  write,
  writePtr,
} from '../src/sys/index.ts';

const port = Number(process.argv[2] ?? 7000);
const ls = listenTcp({ host: '127.0.0.1', port, backlog: 4096, reusePort: true });
const ep = new Epoll(512);
ep.add(ls, EPOLLIN);
const buf = Buffer.alloc(65536);
const bufAddr = addressOf(buf);
process.stderr.write(`sys-echo listening on 127.0.0.1:${getsockname(ls).port}\n`);

for (;;) {
  const n = ep.wait(-1);
  for (let i = 0; i < n; i++) {
    const fd = ep.fd(i);
    if (fd === ls) {
      let c: number;
      while ((c = accept4(ls, SOCK_NONBLOCK)) >= 0) {
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, 1);
        ep.add(c, EPOLLIN);
      }
      continue;
    }
    const r = read(fd, buf, 65536);
    if (r === -EAGAIN) continue;
    if (r <= 0) {
      close(fd);
      continue;
    }
    let w = write(fd, buf, r);
    for (let off = w; w > 0 && off < r; off += w) w = writePtr(fd, bufAddr + off, r - off);
  }
}
