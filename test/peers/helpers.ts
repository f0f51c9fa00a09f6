// Real peers (redis-cli, redis-benchmark, wrk, haproxy, redis-server) as the tests use them: whether a
// binary is installed (a test skips with the reason when it is not), running one with a time bound,
// a free loopback port, and a `c10k serve` child stopped at the end.
import { type ChildProcess, execFile, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { exited, startServe } from '../helpers/cli.ts';
import { peerMissing, skipWithoutPeer } from '../helpers/peer.ts';

const execFileP = promisify(execFile);

/**
 * false, or the reason to skip: '<binary> not installed (apt-get install <package>)'. For a test's `skip`
 * option; under CI a missing binary fails the run (test/helpers/peer.ts).
 */
export function missing(binary: string, aptPackage: string): string | false {
  return skipWithoutPeer(absent(binary, aptPackage));
}

/** The same check inside a test: the reason to call t.skip() with, or false; under CI it throws. */
export function missingNow(binary: string, aptPackage: string): string | false {
  return peerMissing(absent(binary, aptPackage));
}

function absent(binary: string, aptPackage: string): string | false {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;
  return found ? false : `${binary} not installed (apt-get install ${aptPackage})`;
}

export async function run(binary: string, args: string[], timeoutMs = 20_000) {
  return execFileP(binary, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** `c10k serve ARGS --port 0` as a child process; stop() sends SIGTERM and waits for a clean exit. */
export async function c10kServe(
  args: string[],
): Promise<{ port: number; child: ChildProcess; stop(): Promise<number | null> }> {
  const { child, port } = await startServe([...args, '--port', '0']);
  return {
    port,
    child,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited(child);
    },
  };
}
