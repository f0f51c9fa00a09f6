// bench/uring-bare-echo.ts — the proactor's floor in JavaScript: a bare io_uring echo loop over
// src/sys/io-uring.ts with none of c10k's server around it (no ServerCore, handler, codec or Connection).
// It is the yardstick README's "bare JavaScript io_uring echo loop", kept here so it can be measured in
// the same session as the proactor, with the same command:
//   ratio -c 1000 -- node_modules/.bin/node bench/uring-bare-echo.ts --port {PORT}
// Default: one ring (single issuer, deferred task work), multishot accept, per connection one recv into
// its own 2 KiB buffer -> one send of what arrived -> the next recv, one io_uring_enter a turn (blocking
// for one completion: Node's own loop never runs). The switches put back one of the proactor's design
// choices at a time, to see what each costs:
//   --multishot     one multishot receive per connection into a provided buffer ring shared by all
//   --fixed         sockets in the registered file table (IOSQE_FIXED_FILE)
//   --node          a turn per setImmediate with the proactor's structure (non-blocking enter, up to
//                   8 rounds in 1 ms, then yield to Node; a lull waits up to 5 ms) instead of blocking
//   --peer          getpeername for every accepted socket, as the proactor's admission does
import { parseArgs } from 'node:util';
import * as sys from '../src/sys/index.ts';
import { bindLibc } from '../src/sys/libc.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    multishot: { type: 'boolean', default: false },
    fixed: { type: 'boolean', default: false },
    node: { type: 'boolean', default: false },
    peer: { type: 'boolean', default: false },
  },
});
if (values.port === undefined) {
  console.error('usage: node bench/uring-bare-echo.ts --port PORT [--multishot] [--fixed] [--node] [--peer]');
  process.exit(2);
}
const port = Number(values.port);

const OP_ACCEPT = 1;
const OP_RECV = 2;
const OP_SEND = 3;
const OP_OTHER = 4;
const BUF = 2048;
const MAXFD = 1 << 16;
const raw = bindLibc({ getpeername: 'int getpeername(int fd, void *addr, void *len)' });

const support = sys.ioUringSupport();
if (!support.ok) {
  console.error(`uring-bare-echo: ${support.reason}`);
  process.exit(2);
}
sys.raiseNofileLimit();
const ring = new sys.IoUring({ entries: 4096, cqEntries: 32768, flags: support.flags });
const fixed = values.fixed && ring.registerSparseFiles(MAXFD) === 0;
const multishot = values.multishot;
const pool = multishot ? new sys.BufferRing(ring, 0, 16384, BUF) : null;
// Per-connection buffers (touched only for the descriptors used), or the shared pool.
const own = multishot ? null : sys.Mapping.anonymous(MAXFD * BUF);
const ownAddress = own?.address ?? 0;
const poolAddress = pool?.data.address ?? 0;
const pending = new Int32Array(MAXFD); // bytes of the send in flight
const sent = new Int32Array(MAXFD); // of which the kernel took
const held = new Int32Array(MAXFD); // multishot: the pool buffer being sent (-1 none)
const armed = new Uint8Array(MAXFD);
const peer = Buffer.alloc(128);
const peerLen = Buffer.alloc(4);
let given = 0;

const listenFd = sys.listenTcp({
  host: '127.0.0.1',
  port,
  backlog: 4096,
  nonBlocking: true,
  reusePort: false,
});
ring.prepMultishotAccept(listenFd, sys.SOCK_NONBLOCK | sys.SOCK_CLOEXEC, (listenFd << 4) | OP_ACCEPT);

function recv(fd: number): void {
  if (multishot) {
    armed[fd] = 1;
    ring.prepRecvMultishot(fd, fixed, 0, (fd << 4) | OP_RECV);
  } else {
    ring.prepRecv(fd, fixed, ownAddress + fd * BUF, BUF, (fd << 4) | OP_RECV);
  }
}

function send(fd: number, address: number, len: number): void {
  ring.prepSend(fd, fixed, address, len, sys.MSG_NOSIGNAL, (fd << 4) | OP_SEND);
}

function close(fd: number): void {
  if (fixed) ring.prepFilesUpdate(fd, -1, OP_OTHER);
  if (held[fd]! >= 0) {
    pool!.give(held[fd]!);
    given++;
    held[fd] = -1;
  }
  armed[fd] = 0;
  sys.close(fd);
}

function complete(lo: number, res: number, flags: number): void {
  const op = lo & 15;
  const fd = lo >>> 4;
  if (op === OP_RECV) {
    const bid = (flags & sys.IORING_CQE_F_BUFFER) !== 0 ? flags >>> sys.IORING_CQE_BUFFER_SHIFT : -1;
    if (multishot && (flags & sys.IORING_CQE_F_MORE) === 0) armed[fd] = 0;
    if (res <= 0) {
      if (bid >= 0) {
        pool!.give(bid);
        given++;
      }
      if (res === -sys.ENOBUFS) recv(fd);
      else close(fd);
      return;
    }
    pending[fd] = res;
    sent[fd] = 0;
    if (multishot) {
      held[fd] = bid;
      send(fd, poolAddress + bid * BUF, res);
    } else send(fd, ownAddress + fd * BUF, res);
    return;
  }
  if (op === OP_SEND) {
    if (res < 0) return; // the receive side closes it
    sent[fd] += res;
    const base = multishot ? poolAddress + held[fd]! * BUF : ownAddress + fd * BUF;
    if (sent[fd]! < pending[fd]!) {
      send(fd, base + sent[fd]!, pending[fd]! - sent[fd]!);
      return;
    }
    if (multishot) {
      pool!.give(held[fd]!);
      given++;
      held[fd] = -1;
      if (armed[fd] === 0) recv(fd);
    } else recv(fd);
    return;
  }
  if (op === OP_ACCEPT) {
    if ((flags & sys.IORING_CQE_F_MORE) === 0)
      ring.prepMultishotAccept(listenFd, sys.SOCK_NONBLOCK | sys.SOCK_CLOEXEC, (listenFd << 4) | OP_ACCEPT);
    if (res < 0) return;
    if (res >= MAXFD) {
      sys.close(res);
      return;
    }
    if (values.peer) {
      peerLen.writeUInt32LE(peer.length, 0);
      raw.getpeername(res, peer, peerLen);
    }
    sys.setsockopt(res, sys.IPPROTO_TCP, sys.TCP_NODELAY, 1);
    held[res] = -1;
    if (fixed) ring.prepFilesUpdate(res, res, OP_OTHER);
    recv(res);
  }
}

function reap(): number {
  let total = 0;
  for (;;) {
    const n = ring.ready();
    if (n === 0) break;
    for (let i = 0; i < n; i++) {
      const ci = ring.cqIndex(i);
      complete(ring.userLo(ci), ring.res(ci), ring.cqeFlags(ci));
    }
    ring.advance(n);
    total += n;
  }
  if (given > 0) {
    pool!.flush();
    given = 0;
  }
  return total;
}

if (!values.node) {
  for (;;) {
    ring.enter(1);
    reap();
  }
} else {
  // The proactor's turn structure: rounds of non-blocking enter + reap, then a yield to Node.
  const turn = (): void => {
    const until = performance.now() + 1;
    for (let round = 1; ; round++) {
      ring.enter(0, -1);
      if (reap() === 0 && ring.pending === 0) break;
      if (round >= 8 || performance.now() >= until) {
        setImmediate(turn);
        return;
      }
    }
    ring.enter(1, 5);
    reap();
    setImmediate(turn);
  };
  setImmediate(turn);
}
