// bench/ffi-cost.ts — what one system call made through koffi costs in CPU against the same call made
// from C, and how much of that is the FFI call itself warm. An echoed message costs the syscall backend
// two such calls (a receive and a send), so their extra cost is the floor under its ratio to the C echo
// server: nothing the reactor does can go below it.
// Why the warm figure is not the answer: here a system call evicts what the FFI path had cached, and
// the first FFI call after one stalls on each piece of V8, Node-API and koffi state it touches (that is
// where the profile puts the time). This VM's kernel isolates its page tables (Meltdown's PTI) and the
// CPU shows no PCID, so every system call also flushes the TLB.
//   node bench/ffi-cost.ts [--calls 1000000] [--rounds 5]
// The C side needs a C compiler (cc); without one it is skipped with a printed reason.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bindLibc } from '../src/sys/libc.ts';
import { median } from './lib/yardstick.ts';

const { values } = parseArgs({
  options: { calls: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '5' } },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(CALLS) || CALLS < 1 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error('usage: node bench/ffi-cost.ts [--calls N] [--rounds N]  (N: a whole number, at least 1)');
  process.exit(2);
}
const SYS_GETPPID: Record<string, number> = { x64: 110, arm64: 173 };
const nr = SYS_GETPPID[process.arch];
if (process.platform !== 'linux' || nr === undefined) {
  console.error('bench/ffi-cost.ts needs Linux on x64 or arm64');
  process.exit(2);
}

const c = bindLibc({ syscall: 'long syscall(long nr)', abs: 'int abs(int)' });

/** CPU ns (user + system) per call of f, over CALLS calls after a warm-up. */
function cpuPerCall(f: () => void): number {
  for (let i = 0; i < 100_000; i++) f();
  const t0 = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) f();
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / CALLS;
}

/** The C loop: CALLS times syscall(SYS_getppid); prints CPU ns per call. Null without a compiler. */
function buildC(): string | null {
  const dir = join(tmpdir(), 'c10k-ffi-cost');
  const bin = join(dir, 'getppid-loop');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const source = join(dir, 'getppid-loop.c');
  writeFileSync(
    source,
    `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
static double cpu(void) { struct rusage r; getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e9 + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e3; }
int main(int argc, char **argv) { long n = atol(argv[1]);
  for (long i = 0; i < 100000; i++) syscall(SYS_getppid);
  double t0 = cpu(); for (long i = 0; i < n; i++) syscall(SYS_getppid);
  printf("%.1f\\n", (cpu() - t0) / n); return 0; }
`,
  );
  try {
    execFileSync('cc', ['-O2', '-o', bin, source], { stdio: 'pipe' });
    return bin;
  } catch (error) {
    console.log(`C side skipped: cannot compile with cc (${(error as Error).message.split('\n')[0]})`);
    return null;
  }
}

const cLoop = buildC();
const rows: Record<string, number[]> = { c: [], ffiWarm: [], ffiSyscall: [], ffiSyscallThenCall: [] };
// Rounds alternate C and JS, so a swing of this shared machine lands on both.
for (let r = 0; r < ROUNDS; r++) {
  if (cLoop) rows.c!.push(Number(execFileSync(cLoop, [String(CALLS)]).toString()));
  rows.ffiWarm!.push(cpuPerCall(() => c.abs(-3)));
  rows.ffiSyscall!.push(cpuPerCall(() => c.syscall(nr)));
  rows.ffiSyscallThenCall!.push(
    cpuPerCall(() => {
      c.syscall(nr);
      c.abs(-3);
    }),
  );
}
const m = (k: string) => median(rows[k]!);
const fmt = (ns: number) => `${ns.toFixed(0).padStart(6)} ns`;
console.log(`CPU per call, median of ${ROUNDS} rounds of ${CALLS.toLocaleString('en-US')} calls`);
console.log(`  koffi call, warm (abs, no system call)              ${fmt(m('ffiWarm'))}`);
console.log(`  koffi syscall(getppid)                               ${fmt(m('ffiSyscall'))}`);
console.log(`  koffi syscall(getppid) then a second koffi call     ${fmt(m('ffiSyscallThenCall'))}`);
if (cLoop) {
  const extra = m('ffiSyscall') - m('c');
  console.log(`  C syscall(getppid)                                   ${fmt(m('c'))}`);
  const floor = (refUs: number) => `${(1 + (2 * extra) / (refUs * 1000)).toFixed(2)} at ${refUs} us`;
  console.log(
    `a system call through koffi costs ${extra.toFixed(0)} ns more CPU than from C; an echoed message makes two ` +
      `(${((2 * extra) / 1000).toFixed(2)} us), so the lowest ratio to a C echo server costing R us a message ` +
      `(ratio's ref_us_per_msg) is ${[6, 8, 10, 12].map(floor).join(', ')}`,
  );
}
