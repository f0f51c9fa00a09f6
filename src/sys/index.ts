// index.ts — the public surface of the syscall bindings (src/sys).
//
// Why it is shaped this way: one import for the engines (`import * as sys from '../sys/index.ts'`), while
// each concern stays in its own small file. Importing is free on any OS; the first binding used on a
// non-Linux system throws "the syscall backend needs Linux; use --backend node".
export * from './constants.ts';
export * from './epoll.ts';
export * from './errno.ts';
export * from './fd.ts';
export * from './io-uring.ts';
export {
  addressOf,
  assertSyscallBackendAvailable,
  BACKEND_UNAVAILABLE,
  SyscallBackendUnavailableError,
  syscallBackendAvailable,
} from './libc.ts';
export * from './poll.ts';
export { recvRaw, sendRaw } from './raw-io.ts';
export * from './select.ts';
export * from './sockaddr.ts';
export * from './socket.ts';
export * from './tcp.ts';
export { libuvBackendFd } from './uv.ts';
