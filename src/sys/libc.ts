// libc.ts — the one place that loads koffi and libc.
//
// Why it is shaped this way: every other src/sys module declares its C prototypes in a table through
// `bindLibc()`. The table's entries start as stubs; the first call of any stub loads koffi + libc.so.6
// and swaps every entry of that table for the real koffi function object. So importing src/sys on
// macOS (or anywhere koffi/libc is missing) costs nothing and fails only when a binding is first used,
// with one clear message; after that first call the hot path is a plain property load plus the koffi
// call, with no "is it loaded?" branch.
import { createRequire } from 'node:module';
import type * as KoffiModule from 'koffi';

export type Koffi = typeof KoffiModule;
/** A koffi function object: call it synchronously, or `.async(...args, (err, result) => ...)` on a worker. */
export type CFunction = {
  // biome-ignore lint/suspicious/noExplicitAny: koffi converts each argument according to the C prototype.
  (...args: any[]): any;
  // biome-ignore lint/suspicious/noExplicitAny: same, plus a trailing (err, result) callback.
  async: (...args: any[]) => void;
};

export const BACKEND_UNAVAILABLE = 'the syscall backend needs Linux; use --backend node';

/** Thrown when the syscall backend cannot run here (not Linux, or koffi / libc.so.6 cannot load). */
export class SyscallBackendUnavailableError extends Error {
  readonly code = 'ERR_SYSCALL_BACKEND_UNAVAILABLE';
  constructor(detail?: string, options?: ErrorOptions) {
    super(detail ? `${BACKEND_UNAVAILABLE} (${detail})` : BACKEND_UNAVAILABLE, options);
    this.name = 'SyscallBackendUnavailableError';
  }
}

let koffiModule: Koffi | null = null;
let libcHandle: KoffiModule.LibraryHandle | null = null;
let loadError: Error | null = null;

function load(): void {
  if (libcHandle !== null) return;
  if (loadError !== null) throw loadError;
  if (process.platform !== 'linux') {
    loadError = new SyscallBackendUnavailableError(`platform is ${process.platform}`);
    throw loadError;
  }
  try {
    const require = createRequire(import.meta.url);
    koffiModule = require('koffi') as Koffi;
    libcHandle = koffiModule.load('libc.so.6');
  } catch (err) {
    loadError = new SyscallBackendUnavailableError(`cannot load koffi/libc.so.6: ${(err as Error).message}`, {
      cause: err,
    });
    throw loadError;
  }
}

/** Throws SyscallBackendUnavailableError unless koffi and libc load; call it early to fail fast. */
export function assertSyscallBackendAvailable(): void {
  load();
}

/** True when the syscall backend can run here (never throws). */
export function syscallBackendAvailable(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

/** The koffi module itself (loads it on first use). */
export function koffi(): Koffi {
  load();
  return koffiModule!;
}

/**
 * errno of the calling thread, for the few calls not made through bindSys() (other libraries' functions).
 * Not to be trusted after anything else has run: koffi does not save errno with the call, it is the
 * thread's live value, and the runtime (a GC, a futex) may have changed it since.
 */
export function lastErrno(): number {
  if (CLOBBER_ERRNO >= 0) koffiModule!.errno(CLOBBER_ERRNO);
  return koffiModule!.errno();
}

// ---- system calls whose result carries its own errno --------------------------------------------------
//
// koffi.errno() is the thread's *live* errno: between a failing call and the read of errno, the runtime
// may run (a GC, a futex, a memory map) and overwrite it, so ECONNRESET could be read as EAGAIN (a
// connection left waiting) or a port in use reported as `bind: EAGAIN`. So system calls are not made
// through glibc's wrappers, which turn the kernel's -errno into -1 + errno, but through a stub of a few
// instructions that makes the system call and returns the kernel's result as is: the value, or -errno,
// in the one return register, with no errno at all. The stub is glibc's syscall() without its errno
// store, copied into an executable page at load (no native addon, nothing compiled). Where it cannot be
// (another architecture, a system that refuses executable memory), glibc's syscall() or the named
// function is called and errno is read at once: the old way, the best there is without the stub.

/** glibc's syscall() minus its errno store: (nr, a..f) in the C calling convention -> raw result. */
const STUB: Record<string, number[]> = {
  // mov rax,rdi; mov rdi,rsi; mov rsi,rdx; mov rdx,rcx; mov r10,r8; mov r8,r9; mov r9,[rsp+8]; syscall; ret
  x64: [
    0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x48, 0x89, 0xd6, 0x48, 0x89, 0xca, 0x4d, 0x89, 0xc2, 0x4d, 0x89,
    0xc8, 0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05, 0xc3,
  ],
  // mov x8,x0; mov x0,x1; mov x1,x2; mov x2,x3; mov x3,x4; mov x4,x5; mov x5,x6; svc #0; ret
  arm64: [
    0xaa0003e8, 0xaa0103e0, 0xaa0203e1, 0xaa0303e2, 0xaa0403e3, 0xaa0503e4, 0xaa0603e5, 0xd4000001,
    0xd65f03c0,
  ].flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]),
};

/** System call numbers: [x86_64, arm64 (asm-generic)]. */
const SYSCALL_NUMBERS: Record<string, readonly [number, number]> = {
  read: [0, 63],
  write: [1, 64],
  close: [3, 57],
  ioctl: [16, 29],
  writev: [20, 66],
  dup: [32, 23],
  socket: [41, 198],
  connect: [42, 203],
  sendto: [44, 206],
  recvfrom: [45, 207],
  shutdown: [48, 210],
  bind: [49, 200],
  listen: [50, 201],
  getsockname: [51, 204],
  getpeername: [52, 205],
  setsockopt: [54, 208],
  getsockopt: [55, 209],
  fcntl: [72, 25],
  epoll_ctl: [233, 21],
  pselect6: [270, 72],
  ppoll: [271, 73],
  epoll_pwait: [281, 22],
  accept4: [288, 242],
  eventfd2: [290, 19],
  epoll_create1: [291, 20],
  pipe2: [293, 59],
  prlimit64: [302, 261],
  io_uring_setup: [425, 425],
  io_uring_enter: [426, 426],
  io_uring_register: [427, 427],
};

/** Test hook: C10K_CLOBBER_ERRNO=N sets errno to N after every system call and before every errno read,
 * as the runtime might; C10K_SYSCALLS=libc forces the errno path (to show what the stub protects from). */
const CLOBBER_ERRNO = Number(process.env.C10K_CLOBBER_ERRNO ?? -1);
const FORCE_LIBC = process.env.C10K_SYSCALLS === 'libc';

let stubAddress: unknown = null; // the stub's pointer, or null when it is not available
let stubTried = false;
let protoCount = 0;

function loadStub(): unknown {
  if (stubTried) return stubAddress;
  stubTried = true;
  const code = STUB[process.arch];
  if (code === undefined || FORCE_LIBC) return null;
  const k = koffiModule!;
  try {
    const m = libcHandle!;
    const mmap = m.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, intptr_t off)');
    const mprotect = m.func('int mprotect(void *addr, size_t len, int prot)');
    const memcpy = m.func('void *memcpy(void *dst, const void *src, size_t n)');
    const PROT_READ = 1,
      PROT_WRITE = 2,
      PROT_EXEC = 4,
      MAP_PRIVATE = 2,
      MAP_ANONYMOUS = 0x20;
    const page = mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page === null || k.address(page) === 0xffff_ffff_ffff_ffffn) return null; // MAP_FAILED
    memcpy(page, Buffer.from(code), code.length);
    // arm64: the kernel syncs the instruction cache when it maps the page executable
    if (mprotect(page, 4096, PROT_READ | PROT_EXEC) !== 0) return null;
    const getpid = k.decode(page, k.proto(`long c10k_sys_probe(long nr)`)) as CFunction;
    const nr = process.arch === 'x64' ? 39 : 172;
    if (Number(getpid(nr)) !== process.pid) return null;
    stubAddress = page;
  } catch {
    stubAddress = null;
  }
  return stubAddress;
}

/** Whether system calls return their errno with their result (the stub), or through errno (fallback). */
export function syscallErrnoMode(): 'result' | 'errno' {
  load();
  return loadStub() !== null ? 'result' : 'errno';
}

/**
 * Declares system calls, bound lazily as bindLibc() does: `bindSys({ read: 'long read(int fd, void *buf,
 * size_t n)' })`. The C name is the system call's (the key may differ: `readp: 'long read(...)'`); each
 * returns its result or -errno, never -1, sync or `.async` (whose callback gets the same).
 */
export function bindSys<T extends Record<string, string>>(decls: T): { [K in keyof T]: CFunction } {
  const table = {} as { [K in keyof T]: CFunction };
  let bound = false;
  const bindAll = (): void => {
    if (bound) return;
    load();
    for (const key of Object.keys(decls) as (keyof T & string)[]) table[key] = sysFunction(decls[key]!);
    bound = true;
  };
  for (const key of Object.keys(decls) as (keyof T & string)[]) {
    const stub = ((...args: unknown[]) => {
      bindAll();
      return table[key](...args);
    }) as CFunction;
    stub.async = (...args: unknown[]) => {
      bindAll();
      table[key].async(...args);
    };
    table[key] = stub;
  }
  return table;
}

// (nr, ...args) -> f(nr, ...args), one fixed arity each: no rest array on the hot path.
const WITH_NR: ((f: CFunction, nr: number) => CFunction)[] = [
  (f, nr) => (() => f(nr)) as CFunction,
  (f, nr) => ((a: unknown) => f(nr, a)) as CFunction,
  (f, nr) => ((a: unknown, b: unknown) => f(nr, a, b)) as CFunction,
  (f, nr) => ((a: unknown, b: unknown, c: unknown) => f(nr, a, b, c)) as CFunction,
  (f, nr) => ((a: unknown, b: unknown, c: unknown, d: unknown) => f(nr, a, b, c, d)) as CFunction,
  (f, nr) =>
    ((a: unknown, b: unknown, c: unknown, d: unknown, e: unknown) => f(nr, a, b, c, d, e)) as CFunction,
  (f, nr) =>
    ((a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, g: unknown) =>
      f(nr, a, b, c, d, e, g)) as CFunction,
];

function sysFunction(decl: string): CFunction {
  const m = /^\s*(.*?)\b(\w+)\s*\((.*)\)\s*$/.exec(decl);
  if (m === null) throw new Error(`bindSys: cannot parse '${decl}'`);
  const [, ret, name, params] = m as unknown as [string, string, string, string];
  const arity = params.trim() === '' ? 0 : params.split(',').length;
  const numbers = SYSCALL_NUMBERS[name];
  const nr =
    numbers === undefined
      ? undefined
      : process.arch === 'x64'
        ? numbers[0]
        : process.arch === 'arm64'
          ? numbers[1]
          : undefined;
  const k = koffiModule!;
  const withNr = `${ret} c10k_sys_${name}_${++protoCount}(long nr${arity > 0 ? `, ${params}` : ''})`;
  const stub = nr === undefined ? null : loadStub();
  if (stub !== null) {
    const direct = k.decode(stub, k.proto(withNr)) as CFunction;
    const f = WITH_NR[arity]!(direct, nr!);
    const clobbering = CLOBBER_ERRNO >= 0;
    const g = clobbering
      ? (((...args: unknown[]) => {
          const r = f(...args);
          k.errno(CLOBBER_ERRNO);
          return r;
        }) as CFunction)
      : f;
    g.async = (...args: unknown[]) => direct.async(nr, ...args);
    return g;
  }
  // Fallback: glibc (its syscall() where the number is known, else the named function), errno read
  // at once after the call; koffi restores the worker's errno for an .async callback.
  const viaLibc =
    nr === undefined
      ? (libcHandle!.func(decl) as CFunction)
      : (libcHandle!.func(withNr.replace(/c10k_sys_\w+\(/, 'syscall(')) as CFunction);
  const call = nr === undefined ? viaLibc : WITH_NR[arity]!(viaLibc, nr);
  const g = ((...args: unknown[]) => {
    const r = call(...args);
    return r < 0 ? -lastErrno() : r;
  }) as CFunction;
  g.async = (...args: unknown[]) => {
    const done = args.pop() as (err: unknown, r: number) => void;
    const rest = nr === undefined ? args : [nr, ...args];
    viaLibc.async(...rest, (err: unknown, r: number) => done(err, r < 0 ? -lastErrno() : r));
  };
  return g;
}

/**
 * Declares a table of C prototypes, bound lazily. `bindLibc({ read: 'long read(int fd, void *buf, size_t n)' })`
 * returns `{ read: CFunction }`; the first call (sync or `.async`) of any entry binds the whole table.
 */
export function bindLibc<T extends Record<string, string>>(decls: T): { [K in keyof T]: CFunction } {
  const table = {} as { [K in keyof T]: CFunction };
  let bound = false;
  const bindAll = (): void => {
    if (bound) return;
    load();
    for (const name of Object.keys(decls) as (keyof T)[]) {
      table[name] = libcHandle!.func(decls[name]!) as CFunction;
    }
    bound = true;
  };
  for (const name of Object.keys(decls) as (keyof T)[]) {
    const stub = ((...args: unknown[]) => {
      bindAll();
      return table[name](...args);
    }) as CFunction;
    stub.async = (...args: unknown[]) => {
      bindAll();
      table[name].async(...args);
    };
    table[name] = stub;
  }
  return table;
}

/** Address of a Buffer's first byte as a Number (exact below 2^53, which holds for user-space pointers). */
export function addressOf(buf: Uint8Array): number {
  return Number(koffi().address(buf));
}

/**
 * Runs `fn` (a bindSys() function: its result is the value or -errno) on koffi's worker threads (libuv's
 * pool) and resolves with its result.
 */
export function callAsync(fn: CFunction, ...args: unknown[]): Promise<number> {
  if (!exitHooked) hookExit();
  inFlight++;
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: unknown, r: number | bigint) => {
      inFlight--;
      if (err) reject(err);
      else resolve(Number(r));
    });
  });
}

// Leaving with calls still blocked on the pool. Node's exit runs libuv's cleanup, which joins the pool's
// threads: one blocked in read(), accept() or epoll_wait() for a peer that never comes would hold the
// exiting process forever (an app's process.exit(), or an uncaught exception, in a server waiting for
// clients; a connection child whose client is idle). So at the 'exit' event, if a call is still in
// flight, the 'exit' listeners registered after this one run, then _exit(2) ends the process at once
// with the same code, C stdio flushed (Node's own stdio is synchronous on Linux; only exit-time extras
// such as V8 coverage files are skipped).
let inFlight = 0;
let exitHooked = false;
const exitTable = bindLibc({ _exit: 'void _exit(int status)', fflush: 'int fflush(void *stream)' });

function hookExit(): void {
  exitHooked = true;
  // Node prints an uncaught exception after the 'exit' event: print it here instead.
  let fatal: unknown;
  let hasFatal = false;
  process.on('uncaughtExceptionMonitor', (error) => {
    fatal = error;
    hasFatal = true;
  });
  const onExit = (code: number) => {
    if (inFlight === 0) return;
    const listeners = process.listeners('exit');
    for (const listener of listeners.slice(listeners.indexOf(onExit) + 1)) {
      try {
        listener.call(process, code);
      } catch {}
    }
    if (hasFatal) {
      const text = fatal instanceof Error ? (fatal.stack ?? String(fatal)) : String(fatal);
      process.stderr.write(`Uncaught ${text}\n`);
    }
    exitTable.fflush(null);
    const final = Number(process.exitCode ?? code);
    exitTable._exit(Number.isInteger(final) ? final : code);
  };
  process.on('exit', onExit);
}
