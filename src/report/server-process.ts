// Starting and stopping a `c10k serve` child for a bench step: in its own process group, so that the
// whole tree (workers, children) goes when the step ends, whatever state the model is in.
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { siblingModulePath } from '../module-path.ts';

const BIN = siblingModulePath('../../bin/c10k.ts', import.meta.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/** Servers started and not yet stopped: a bench stopped by a signal stops them too (stopAllServers). */
const live = new Set<ChildProcess>();

/**
 * Stop every server this process started and has not stopped (their whole process groups). A server
 * runs in a group of its own, so a signal to the bench does not reach it: without this, a bench
 * interrupted or timed out would leave its server and workers running.
 */
export async function stopAllServers(graceMs = 2000): Promise<void> {
  await Promise.all([...live].map((c) => stopGroup(c, graceMs)));
}

export interface ServerProcess extends ChildProcess {
  /** The last lines the server wrote to stderr. */
  errorTail(): string;
}

/**
 * Start `c10k serve --app echo` with `args` on `port`; the child once it accepts, or why it did not.
 * `nodeOptions` go to the server and its workers through NODE_OPTIONS.
 */
export async function startServer(
  args: string[],
  port: number,
  nodeOptions = '',
): Promise<ServerProcess | string> {
  const argv = [BIN, 'serve', '--app', 'echo', '--port', String(port), '--log-level', 'error', ...args];
  const NODE_OPTIONS = [process.env.NODE_OPTIONS, nodeOptions].filter(Boolean).join(' ');
  const child = spawn(process.execPath, argv, {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
    env: NODE_OPTIONS ? { ...process.env, NODE_OPTIONS } : process.env,
  }) as ServerProcess;
  live.add(child);
  child.once('exit', () => live.delete(child));
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  child.errorTail = () => err.trim().split('\n').slice(-3).join(' | ').slice(0, 300);
  const until = Date.now() + 20_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > until) {
      await stopGroup(child, 1000);
      return `server did not start: ${child.errorTail() || 'no output'}`;
    }
    await sleep(100);
  }
  await sleep(500); // let the probe connection and start-up settle
  return child;
}

/** Stop a detached child's whole process group: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopGroup(child: ChildProcess, graceMs: number): Promise<void> {
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {}
  };
  kill('SIGTERM');
  const done = await Promise.race([exited(child).then(() => true), sleep(graceMs).then(() => false)]);
  kill('SIGKILL');
  if (!done) await Promise.race([exited(child), sleep(2000)]);
}
