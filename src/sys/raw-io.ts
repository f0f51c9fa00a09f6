// raw-io.ts — the two calls an echo costs per message, at their cheapest: receive into and send from raw
// addresses, as recvfrom(2)/sendto(2) made through syscall(2).
//
// Why it is shaped this way (measured by the load generator against the C echo server, 1000 connections):
//  - in a multi-threaded process (Node is one) glibc's read()/write() wrap the system call in pthread
//    cancellation bookkeeping (~50 ns a message); syscall(2) has none;
//  - recvfrom/sendto skip the VFS layer read/write cross (fdget_pos, rw_verify_area, fsnotify): ~3.5% of
//    the CPU per message;
//  - raw addresses as pointer-sized integers need no Buffer marshalling in koffi.
// On x86_64 and arm64 Linux syscall()'s variadic arguments travel in the same registers as a fixed
// prototype's, so it is declared as one; elsewhere these fall back to read/write. Both return the byte
// count, or -errno. sendRaw passes MSG_NOSIGNAL (a reset peer gives -EPIPE, never SIGPIPE).
import { MSG_NOSIGNAL } from './constants.ts';
import { bindLibc, lastErrno } from './libc.ts';

const SYSCALL_NR: Record<string, [recvfrom: number, sendto: number]> = { x64: [45, 44], arm64: [207, 206] };
const nr = process.platform === 'linux' ? SYSCALL_NR[process.arch] : undefined;
const USE_SYSCALL = nr !== undefined;
const NR_RECVFROM = nr?.[0] ?? -1;
const NR_SENDTO = nr?.[1] ?? -1;

const c = bindLibc({
  // recvfrom(fd, buf, n, flags, src_addr, addrlen) / sendto(fd, buf, n, flags, dest_addr, addrlen)
  syscall6: 'intptr_t syscall(long nr, int fd, intptr_t buf, size_t n, int flags, intptr_t a, intptr_t b)',
  read: 'intptr_t read(int fd, intptr_t buf, size_t n)',
  write: 'intptr_t write(int fd, intptr_t buf, size_t n)',
});

/** Receive up to n bytes at address `addr`: bytes, 0 at EOF, or -errno. */
export function recvRaw(fd: number, addr: number, n: number): number {
  const r = USE_SYSCALL ? c.syscall6(NR_RECVFROM, fd, addr, n, 0, 0, 0) : c.read(fd, addr, n);
  return r < 0 ? -lastErrno() : r;
}

/** Send n bytes from address `addr` (keep the memory alive during the call): bytes sent, or -errno. */
export function sendRaw(fd: number, addr: number, n: number): number {
  const r = USE_SYSCALL ? c.syscall6(NR_SENDTO, fd, addr, n, MSG_NOSIGNAL, 0, 0) : c.write(fd, addr, n);
  return r < 0 ? -lastErrno() : r;
}
