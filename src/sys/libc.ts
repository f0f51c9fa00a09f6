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
 * errno of the calling thread, right after a failing call. Only valid once a binding has run, which is
 * always the case on the error path. Inside a `.async` callback koffi has restored the worker's errno,
 * so it is valid there too (read it synchronously, before any other FFI call).
 */
export function lastErrno(): number {
  return koffiModule!.errno();
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
 * Runs `fn` on koffi's worker threads (libuv's pool) and resolves with its result, or `-errno` when the
 * C call returned a negative value. koffi restores the worker's errno while our callback runs.
 */
export function callAsync(fn: CFunction, ...args: unknown[]): Promise<number> {
  if (!exitHooked) hookExit();
  inFlight++;
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: unknown, r: number | bigint) => {
      inFlight--;
      if (err) reject(err);
      else if (r < 0) resolve(-lastErrno());
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
