// raw-io.ts — the two calls an echo costs per message, at their cheapest: receive into and send from raw
// addresses, as recvfrom(2)/sendto(2) made as direct system calls (see bindSys in libc.ts).
//
// Why it is shaped this way (what each saves: docs/performance.md):
//  - in a multi-threaded process (Node is one) glibc's read()/write() wrap the system call in pthread
//    cancellation bookkeeping; a direct system call (bindSys) has none;
//  - recvfrom/sendto skip the VFS layer's read/write path (fdget_pos, rw_verify_area, fsnotify);
//  - raw addresses as pointer-sized integers need no Buffer marshalling in koffi.
// Both return the byte count, or -errno from the call itself. sendRaw passes MSG_NOSIGNAL (a reset peer gives -EPIPE, never SIGPIPE).
import { MSG_NOSIGNAL } from './constants.ts';
import { bindSys } from './libc.ts';

const c = bindSys({
  // recvfrom(fd, buf, n, flags, src_addr, addrlen) / sendto(fd, buf, n, flags, dest_addr, addrlen)
  recv: 'intptr_t recvfrom(int fd, intptr_t buf, size_t n, int flags, intptr_t a, intptr_t b)',
  send: 'intptr_t sendto(int fd, intptr_t buf, size_t n, int flags, intptr_t a, intptr_t b)',
});

/** Receive up to n bytes at address `addr`: bytes, 0 at EOF, or -errno. */
export function recvRaw(fd: number, addr: number, n: number): number {
  return c.recv(fd, addr, n, 0, 0, 0);
}

/** Send n bytes from address `addr` (keep the memory alive during the call): bytes sent, or -errno. */
export function sendRaw(fd: number, addr: number, n: number): number {
  return c.send(fd, addr, n, MSG_NOSIGNAL, 0, 0);
}
