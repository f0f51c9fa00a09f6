// Finding 8 of issue 16: errno cannot lie. The test hook C10K_CLOBBER_ERRNO=N makes the server overwrite
// errno after every system call and before every read of errno, as a GC or a futex between the call and
// the read might. With system calls that return their own -errno (bindSys) nothing changes: a port in use
// is still reported as such, a reset is still 'peer-reset', nothing healthy is closed and nothing hangs,
// on epoll (level and edge), poll and select, server (accept, read, write) and client (connect) side.
// Each check first shows that the hook bites: the same run through glibc's errno (C10K_SYSCALLS=libc)
// goes wrong.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { syscallBackendAvailable } from '../../src/sys/index.ts';
import { syscallErrnoMode } from '../../src/sys/libc.ts';
import { type ServerChild, startServerChild } from '../faults/helpers.ts';
import { runCli, startServe } from '../helpers/cli.ts';

const skip = syscallBackendAvailable() ? false : 'the syscall backend needs Linux';
const EAGAIN = 11;
const EBADF = 9;
const ALLOC_ECHO = new URL('./apps/alloc-echo.ts', import.meta.url).pathname;

/** Run `fn` with these variables in process.env (children spawned meanwhile inherit them). */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One client: connect, echo a message, then either end (FIN) or reset (RST). Resolves when closed. */
function oneClient(port: number, reset: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('no echo within 10 s'));
    }, 10_000);
    sock.on('connect', () => sock.write('ping'));
    let got = '';
    sock.on('data', (d) => {
      got += d;
      if (got.length < 4) return;
      clearTimeout(timer);
      if (reset) {
        sock.resetAndDestroy();
        resolve();
      } else sock.end();
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

interface Outcome {
  resets: number;
  fins: number;
  closed: Record<string, number>;
  active: number;
}

/** `n` clients (every other one resets) against a server in a child; the server's counts once settled. */
async function resetsAndCloses(server: ServerChild, n: number): Promise<Outcome> {
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < n; i++) jobs.push(oneClient(server.port, i % 2 === 0));
  await Promise.all(jobs);
  let stats = (await server.probe()).stats;
  for (let i = 0; i < 100 && stats.active > 0; i++) {
    await sleep(50);
    stats = (await server.probe()).stats;
  }
  const closed = Object.fromEntries(Object.entries(stats.closed).filter(([, v]) => v > 0));
  return { resets: Math.ceil(n / 2), fins: Math.floor(n / 2), closed, active: stats.active };
}

test('system calls return their own -errno here (the stub loads on x86_64 and arm64)', { skip }, () => {
  const expected =
    process.env.C10K_SYSCALLS === 'libc' || !['x64', 'arm64'].includes(process.arch) ? 'errno' : 'result';
  assert.equal(syscallErrnoMode(), expected);
});

const MODES = [
  { multiplexer: 'epoll', trigger: 'level' },
  { multiplexer: 'epoll', trigger: 'edge' },
  { multiplexer: 'poll', trigger: 'level' },
  { multiplexer: 'select', trigger: 'level' },
] as const;

for (const { multiplexer, trigger } of MODES) {
  for (const clobber of [EAGAIN, EBADF]) {
    test(`${multiplexer} ${trigger}-triggered, errno overwritten with ${clobber} after every call: resets are 'peer-reset', FINs 'peer-closed', none left open`, {
      skip,
    }, async () => {
      const server = await withEnv({ C10K_CLOBBER_ERRNO: String(clobber) }, () =>
        startServerChild({ app: ALLOC_ECHO, backend: 'syscall', port: 0, multiplexer, trigger }),
      );
      try {
        const o = await resetsAndCloses(server, 200);
        assert.deepEqual(
          { active: o.active, closed: o.closed },
          { active: 0, closed: { 'peer-reset': o.resets, 'peer-closed': o.fins } },
        );
      } finally {
        server.kill();
      }
    });
  }
}

test('the hook bites: through glibc and errno, the same clobbering mislabels resets or leaves connections open', {
  skip,
}, async () => {
  const server = await withEnv({ C10K_CLOBBER_ERRNO: String(EAGAIN), C10K_SYSCALLS: 'libc' }, () =>
    startServerChild({ app: 'echo', backend: 'syscall', port: 0, multiplexer: 'epoll', trigger: 'edge' }),
  );
  try {
    const o = await resetsAndCloses(server, 40);
    assert.ok(
      o.active > 0 || (o.closed['peer-reset'] ?? 0) !== o.resets,
      `expected damage, got ${JSON.stringify(o)}`,
    );
  } finally {
    server.kill();
  }
});

test('setup path: a port in use is reported as such, whatever errno holds after the call', {
  skip,
}, async () => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    for (const clobber of [EAGAIN, 0, 4]) {
      const { code, stderr } = await withEnv({ C10K_CLOBBER_ERRNO: String(clobber) }, () =>
        runCli([
          'serve',
          '--app',
          'echo',
          '--backend',
          'syscall',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
        ]),
      );
      assert.notEqual(code, 0);
      assert.match(stderr, new RegExp(`port ${port} is already in use`), stderr);
    }
    // the hook bites: through errno the same call is misreported
    const { stderr } = await withEnv({ C10K_CLOBBER_ERRNO: String(EAGAIN), C10K_SYSCALLS: 'libc' }, () =>
      runCli([
        'serve',
        '--app',
        'echo',
        '--backend',
        'syscall',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
      ]),
    );
    assert.doesNotMatch(stderr, /already in use/, stderr);
  } finally {
    holder.close();
  }
});

test('client side: connect (non-blocking, EINPROGRESS) and the load generator work with errno overwritten', {
  skip,
}, async () => {
  const { child, port } = await startServe(['--app', 'echo', '--backend', 'node', '--port', '0']);
  try {
    const run = (env: Record<string, string>) =>
      withEnv(env, () =>
        runCli([
          'load',
          '--port',
          String(port),
          '--connections',
          '50',
          '--duration',
          '500ms',
          '--engine',
          'sys',
          '--json',
        ]),
      );
    const ok = await run({ C10K_CLOBBER_ERRNO: String(EAGAIN) });
    assert.equal(ok.code, 0, ok.stderr);
    const report = JSON.parse(ok.stdout);
    assert.equal(report.connections.established, 50, JSON.stringify(report.connections));
    assert.equal(report.connections.failed.total, 0);
    assert.equal(report.mismatches, 0);
    assert.ok(report.messages > 0);
    // the hook bites: through errno, EINPROGRESS reads as EAGAIN and the connects fail
    const bad = await run({ C10K_CLOBBER_ERRNO: String(EAGAIN), C10K_SYSCALLS: 'libc' });
    const badReport = bad.stdout ? JSON.parse(bad.stdout) : null;
    assert.ok(
      badReport === null || badReport.connections.established < 50,
      JSON.stringify(badReport?.connections),
    );
  } finally {
    child.kill();
  }
});
