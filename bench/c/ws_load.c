// Closed-loop WebSocket echo load in C (echo_load of the yardstick, plus the upgrade and masked frames):
// CONNS connections each upgrade (blocking, one after another), then send a masked text frame of SIZE
// bytes, wait for the echo (an unmasked frame: SIZE plus its 2- or 4-byte header), and repeat for
// SECONDS. It costs a server-side bench far less CPU per message than a JavaScript client, so that the
// servers, not the load, are the busy side. It counts bytes, it does not check them (c10k load does).
// usage: ws_load PORT CONNS SIZE SECONDS [NSRC]
// prints one line: conns=N msgs=N msgs_per_s=N closed=N
// SIZE 0: hold the upgraded connections idle for SECONDS instead; prints held=N once they are all open.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct { int fd, got, dead; } conn_t;

static long long now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }

static void send_all(int fd, const char *p, int n) {
  while (n > 0) { ssize_t w = write(fd, p, n); if (w < 0) { if (errno == EAGAIN) continue; return; } p += w; n -= w; }
}

static const char REQUEST[] =
  "GET / HTTP/1.1\r\nHost: c10k\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/** Upgrade a blocking socket: 0 when the server answered 101. */
static int upgrade(int fd) {
  char head[4096]; int n = 0;
  send_all(fd, REQUEST, sizeof REQUEST - 1);
  while (n < (int)sizeof head - 1) {
    ssize_t r = read(fd, head + n, 1); // byte by byte: nothing after the head may be taken here
    if (r <= 0) return -1;
    n++;
    if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0) break;
  }
  head[n] = 0;
  return strncmp(head, "HTTP/1.1 101 ", 13) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: ws_load PORT CONNS SIZE SECONDS [NSRC]\n"); return 2; }
  int port = atoi(argv[1]), C = atoi(argv[2]), S = atoi(argv[3]); double secs = atof(argv[4]);
  int nsrc = argc > 5 ? atoi(argv[5]) : 1;
  if (S < 0 || S > 65535) { fprintf(stderr, "ws_load: SIZE must be 0..65535\n"); return 2; }
  int h = S < 126 ? 2 : 4, back = h + S, F = h + 4 + S;
  unsigned char *frame = malloc(F), key[4] = {0x12, 0x34, 0x56, 0x78};
  frame[0] = 0x81;
  if (h == 2) frame[1] = 0x80 | S; else { frame[1] = 0x80 | 126; frame[2] = S >> 8; frame[3] = S & 0xff; }
  memcpy(frame + h, key, 4);
  for (int i = 0; i < S; i++) frame[h + 4 + i] = 'x' ^ key[i & 3];
  conn_t *cs = calloc(C, sizeof *cs); static char buf[65536];
  int ep = epoll_create1(0), one = 1, ok = 0, closed = 0;
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  for (int i = 0; i < C; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { perror("socket"); break; }
    if (nsrc > 1) {
      struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002 + (i % nsrc))};
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      if (bind(fd, (void *)&src, sizeof src)) { perror("bind"); close(fd); break; }
    }
    if (connect(fd, (void *)&dst, sizeof dst)) { perror("connect"); close(fd); break; }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (upgrade(fd)) { fprintf(stderr, "ws_load: upgrade refused\n"); close(fd); break; }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    cs[ok].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[ok]};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    ok++;
  }
  if (S == 0) {
    printf("held=%d\n", ok);
    fflush(stdout);
    usleep((useconds_t)(secs * 1e6));
    return 0;
  }
  long long start = now_ns(), end = start + (long long)(secs * 1e9), msgs = 0;
  for (int i = 0; i < ok; i++) send_all(cs[i].fd, (char *)frame, F);
  struct epoll_event evs[512];
  while (now_ns() < end) {
    int n = epoll_wait(ep, evs, 512, 100);
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r == 0 || (r < 0 && errno != EAGAIN)) { if (!c->dead) { c->dead = 1; closed++; epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, 0); } continue; }
      if (r < 0) continue;
      c->got += r;
      while (c->got >= back) { c->got -= back; msgs++; send_all(c->fd, (char *)frame, F); }
    }
  }
  double el = (now_ns() - start) / 1e9;
  printf("conns=%d msgs=%lld msgs_per_s=%.0f closed=%d\n", ok, msgs, msgs / el, closed);
  return 0;
}
