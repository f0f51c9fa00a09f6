// A listening socket that never accepts, for tests, the bench and fixture capture: a child process
// calls socket/bind/listen through koffi and then only idles, so completed handshakes stay in the
// accept queue (node:net would accept them). Run as a file it does nothing unless given 'child', so a
// bare `node --test` that picks it up passes. The child exits when its stdin closes (parent gone).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface RawListener {
  pid: number;
  port: number;
  fd: number;
  close(): Promise<void>;
}

/** Spawn a child holding a non-accepting listener on loopback (127.0.0.1 or ::1), port chosen by the kernel. */
export async function startRawListener(backlog: number, family: 4 | 6 = 4): Promise<RawListener> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), 'child', String(backlog), String(family)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => {
      rl.close();
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`raw listener exited with ${code}`)));
    setTimeout(() => reject(new Error('raw listener did not start')), 5000).unref();
  });
  const { port, fd } = JSON.parse(line) as { port: number; fd: number };
  return {
    pid: child.pid!,
    port,
    fd,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

async function childMain(backlog: number, family: 4 | 6): Promise<void> {
  const koffi = (await import('koffi')).default;
  const lib = koffi.load('libc.so.6');
  const socket = lib.func('int socket(int, int, int)');
  const bind = lib.func('int bind(int, const void *, uint32_t)');
  const listen = lib.func('int listen(int, int)');
  const getsockname = lib.func('int getsockname(int, void *, _Inout_ uint32_t *)');
  const af = family === 4 ? 2 : 10;
  const fd = socket(af, 1 | 0o2000000, 0);
  if (fd < 0) throw new Error(`socket: errno ${koffi.errno()}`);
  const sa = Buffer.alloc(28);
  sa.writeUInt16LE(af, 0);
  if (family === 4) sa.writeUInt32BE(0x7f000001, 4);
  else sa[8 + 15] = 1; // ::1
  if (bind(fd, sa, family === 4 ? 16 : 28) < 0) throw new Error(`bind: errno ${koffi.errno()}`);
  if (listen(fd, backlog) < 0) throw new Error(`listen: errno ${koffi.errno()}`);
  const len = [28];
  if (getsockname(fd, sa, len) < 0) throw new Error(`getsockname: errno ${koffi.errno()}`);
  process.stdout.write(JSON.stringify({ port: sa.readUInt16BE(2), fd }) + '\n');
  process.stdin.on('data', () => {});
  process.stdin.on('end', () => process.exit(0));
}

if (process.argv[2] === 'child' && process.argv[1] === fileURLToPath(import.meta.url)) {
  await childMain(Number(process.argv[3]), process.argv[4] === '6' ? 6 : 4);
}
