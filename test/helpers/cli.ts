// Run the c10k binary as a user would, with the project's Node.
import { type ChildProcess, spawn } from 'node:child_process';

export const NODE = process.execPath;
export const BIN = new URL('../../bin/c10k.ts', import.meta.url).pathname;

export function runCli(
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // On timeout SIGTERM first, so a command can stop what it started in process groups of its own (a
    // bench's servers), then SIGKILL if it has not exited 5 s later.
    let kill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      reject(new Error(`c10k ${args.join(' ')} did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Start `c10k serve ...` and resolve once it logs that it is serving; returns the child and its port. */
export function startServe(
  args: string[],
  timeoutMs = 15_000,
  /** In a process group of its own (to signal the whole group, as Ctrl-C in a terminal does). */
  detached = false,
): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached });
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start: ${stderr}`));
    }, timeoutMs);
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /serving .* on [^ ]+:(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), stderr: () => stderr });
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`serve exited before serving: ${stderr}`));
    });
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}
