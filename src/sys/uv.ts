// uv.ts — the descriptor libuv (Node's event loop) waits on.
//
// Why it is shaped this way: the syscall reactor may block in its own epoll_wait for a short while when
// traffic pauses. Watching libuv's backend descriptor (itself an epoll fd: readable when anything Node
// waits for is ready — IPC, signals, child processes, thread-pool completions) lets such a wait end the
// moment Node has work, instead of after the timeout. The libuv symbols are exported by the node binary
// for addons, so dlopen(NULL) finds them. Returns -1 where they are not available.
import { koffi } from './libc.ts';

let backendFd: number | undefined;

export function libuvBackendFd(): number {
  if (backendFd !== undefined) return backendFd;
  try {
    const self = koffi().load(null as unknown as string);
    const loop = self.func('void *uv_default_loop()')();
    backendFd = self.func('int uv_backend_fd(void *loop)')(loop) as number;
  } catch {
    backendFd = -1;
  }
  return backendFd;
}
