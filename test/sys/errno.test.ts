import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { test } from 'node:test';
import * as sys from '../../src/sys/index.ts';

test('errno constants match the platform (os.constants.errno)', () => {
  const names = [
    'EAGAIN',
    'EWOULDBLOCK',
    'EINTR',
    'EMFILE',
    'ENFILE',
    'ECONNRESET',
    'EPIPE',
    'EINPROGRESS',
    'ECONNREFUSED',
    'EADDRINUSE',
    'EADDRNOTAVAIL',
    'ENOBUFS',
    'ENOMEM',
    'EBADF',
    'EINVAL',
    'ETIMEDOUT',
    'ENOTCONN',
    'ECONNABORTED',
    'EHOSTUNREACH',
    'ENOTSOCK',
    'EALREADY',
    'EISCONN',
    'ENOENT',
    'EEXIST',
  ] as const;
  const table = sys as unknown as Record<string, number>;
  const os = constants.errno as Record<string, number>;
  for (const name of names) assert.equal(table[name], os[name], name);
});

test('errnoName and SysError', () => {
  assert.equal(sys.errnoName(sys.EMFILE), 'EMFILE');
  assert.equal(sys.errnoName(-sys.EAGAIN), 'EAGAIN');
  assert.equal(sys.errnoName(9999), 'E9999');
  const err = new sys.SysError('accept4', sys.EMFILE);
  assert.ok(err instanceof Error);
  assert.equal(err.message, 'accept4: EMFILE (too many open files)');
  assert.equal(err.code, 'EMFILE');
  assert.equal(err.errno, 24);
  assert.equal(err.syscall, 'accept4');
  assert.throws(() => sys.check('read', -sys.ECONNRESET), { code: 'ECONNRESET', syscall: 'read' });
  assert.equal(sys.check('read', 5), 5);
});

test('a failing setup call throws a typed SysError', () => {
  assert.throws(
    () => sys.socket(12345, sys.SOCK_STREAM),
    (err: unknown) => {
      assert.ok(err instanceof sys.SysError);
      assert.equal(err.code, 'EAFNOSUPPORT');
      assert.match(err.message, /^socket: EAFNOSUPPORT \(/);
      return true;
    },
  );
});

test('the backend loads on Linux', () => {
  assert.equal(process.platform, 'linux');
  sys.assertSyscallBackendAvailable();
  assert.equal(sys.syscallBackendAvailable(), true);
});

test('on a non-Linux platform, importing works and the first use throws a clear error', () => {
  const index = new URL('../../src/sys/index.ts', import.meta.url).href;
  const script = `
    Object.defineProperty(process, 'platform', { value: 'darwin' });
    const sys = await import(${JSON.stringify(index)});
    const out = { imported: true, available: sys.syscallBackendAvailable() };
    try { sys.socket(sys.AF_INET, sys.SOCK_STREAM); } catch (err) { out.message = err.message; out.code = err.code; }
    try { sys.assertSyscallBackendAvailable(); } catch (err) { out.assert = err.message; }
    console.log(JSON.stringify(out));`;
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const out = JSON.parse(res.stdout);
  assert.equal(out.imported, true);
  assert.equal(out.available, false);
  assert.equal(out.message, 'the syscall backend needs Linux; use --backend node (platform is darwin)');
  assert.equal(out.code, 'ERR_SYSCALL_BACKEND_UNAVAILABLE');
  assert.equal(out.assert, out.message);
});
