// The floor for bench/ws-pair.ts: a WebSocket echo server in C with one epoll loop (level-triggered, as
// the yardstick's echo_epoll), one read and one write per message, no library. It answers any request
// head with a fixed 101 (the accept key is not computed: bench/c/ws_load.c does not check it) and echoes
// every whole masked frame of up to 125 bytes that arrives in one read, unmasked with a 2-byte header; any
// other input closes the connection. A bench reference, not a server. With COUNTS (a file), it keeps
// there two native-endian 64-bit counters, messages echoed and connections upgraded (mapped shared:
// bench/ws-pair.ts reads them while it runs).
// usage: ws_echo PORT [COUNTS]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static const char REPLY[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: ws_echo PORT [COUNTS]\n"); return 2; }
  static long long local[2];
  volatile long long *counts = local;
  if (argc > 2) {
    int cf = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (cf < 0 || ftruncate(cf, 16)) { perror(argv[2]); return 1; }
    counts = mmap(0, 16, PROT_READ | PROT_WRITE, MAP_SHARED, cf, 0);
    if (counts == MAP_FAILED) { perror("mmap"); return 1; }
  }
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (bind(ls, (void *)&a, sizeof a) || listen(ls, 4096)) { perror("listen"); return 1; }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[1024];
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  static unsigned char buf[65536];
#define DROP(fd) (counts[1] -= upgraded[fd], upgraded[fd] = 0, close(fd))
  static char upgraded[1 << 20]; // by fd
  for (;;) {
    int n = epoll_wait(ep, evs, 1024, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        int c;
        while ((c = accept4(ls, 0, 0, SOCK_NONBLOCK)) >= 0) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          upgraded[c] = 0;
          struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r < 0 && errno == EAGAIN) continue;
      if (r <= 0) { DROP(fd); continue; }
      if (!upgraded[fd]) {
        // the whole head in one read (ws_load writes it in one call and waits for the answer)
        if (r < 4 || memcmp(buf + r - 4, "\r\n\r\n", 4) != 0) { DROP(fd); continue; }
        upgraded[fd] = 1;
        counts[1]++;
        if (write(fd, REPLY, sizeof REPLY - 1) < 0) DROP(fd);
        continue;
      }
      size_t len = buf[1] & 0x7f;
      if ((buf[1] & 0x80) == 0 || len > 125 || (size_t)r != 6 + len) { DROP(fd); continue; }
      unsigned char *key = buf + 2, *p = buf + 6;
      for (size_t j = 0; j < len; j++) p[j] ^= key[j & 3];
      p[-2] = buf[0];
      p[-1] = (unsigned char)len;
      counts[0]++;
      if (write(fd, p - 2, len + 2) < 0) DROP(fd);
    }
  }
}
