// Finding 10 of issue 16: safe defaults. The apps that face the internet cut slowloris and (http) idle
// clients out of the box, as nginx does; process-per-connection's child cap follows the memory available;
// each is printed at startup (--log-level info, the default).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CHILD_BYTES,
  CHILD_CEILING,
  cgroupRoom,
  childCapFor,
  defaultChildCap,
  memAvailable,
} from '../../src/models/child-cap.ts';
import { resolveServeOptions } from '../../src/serve.ts';
import { runCli, startServe } from '../helpers/cli.ts';

const MiB = 1024 * 1024;

test('child cap formula: max(1, min(256, floor(available x 0.5 / 32 MiB))), at and around each edge', () => {
  assert.equal(CHILD_BYTES, 32 * MiB);
  assert.equal(CHILD_CEILING, 256);
  assert.equal(childCapFor(0), 1);
  assert.equal(childCapFor(64 * MiB - 1), 1);
  assert.equal(childCapFor(64 * MiB), 1);
  assert.equal(childCapFor(128 * MiB - 1), 1);
  assert.equal(childCapFor(128 * MiB), 2);
  assert.equal(childCapFor(1024 * MiB), 16);
  assert.equal(childCapFor(16 * 1024 * MiB - 1), 255);
  assert.equal(childCapFor(16 * 1024 * MiB), 256);
  assert.equal(childCapFor(64 * 1024 * MiB), 256);
});

test('MemAvailable is read from /proc/meminfo; a cgroup v2 limit lowers it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'c10k-defaults-'));
  writeFileSync(
    join(dir, 'meminfo'),
    'MemTotal:  8000000 kB\nMemFree:  100 kB\nMemAvailable:   2097152 kB\n',
  );
  assert.equal(memAvailable(join(dir, 'meminfo')), 2 * 1024 * MiB);
  assert.equal(memAvailable(join(dir, 'missing')), null);
  writeFileSync(join(dir, 'memory.max'), `${512 * MiB}\n`);
  writeFileSync(join(dir, 'memory.current'), `${128 * MiB}\n`);
  assert.equal(cgroupRoom(dir), 384 * MiB);
  writeFileSync(join(dir, 'memory.max'), 'max\n');
  assert.equal(cgroupRoom(dir), null);
  const here = defaultChildCap();
  assert.equal(here.cap, childCapFor(here.available));
  assert.ok(here.available > 0);
});

test('default timeouts: http as nginx (partial 60 s, idle 75 s), kv and chat partial 60 s, echo none; the server setting wins', async () => {
  const limits = async (app: string, extra = {}) => (await resolveServeOptions({ app, ...extra })).limits;
  const pick = (l: { idleTimeout: number; partialTimeout: number }) => [l.idleTimeout, l.partialTimeout];
  assert.deepEqual(pick(await limits('http')), [75_000, 60_000]);
  assert.deepEqual(pick(await limits('kv')), [0, 60_000]);
  assert.deepEqual(pick(await limits('chat')), [0, 60_000]);
  assert.deepEqual(pick(await limits('echo')), [0, 0]);
  assert.deepEqual(pick(await limits('http', { idleTimeout: 0, partialTimeout: 5000 })), [0, 5000]);
  const ppc = await resolveServeOptions({ app: 'echo', model: 'process-per-connection' });
  assert.equal(ppc.maxChildren, defaultChildCap().cap);
  assert.equal(
    (await resolveServeOptions({ app: 'echo', model: 'process-per-connection', maxChildren: 3 })).maxChildren,
    3,
  );
});

test('each default is printed at startup with --log-level info', async () => {
  const http = await startServe(['--app', 'http', '--port', '0', '--log-level', 'info']);
  http.child.kill();
  assert.match(
    http.stderr(),
    /limits: idle-timeout 75s \(the app's default\), partial-timeout 60s \(the app's default\), max-write-buffer 1048576 bytes, max-connections none/,
  );
  const ppc = await startServe(['--app', 'echo', '--model', 'process-per-connection', '--port', '0']);
  ppc.child.kill();
  const m =
    /max-children (\d+) \(= max\(1, min\(256, MemAvailable ([\d.]+) GiB x 0.5 \/ 32 MiB a child\)\)\)/.exec(
      ppc.stderr(),
    );
  assert.ok(m, ppc.stderr());
  const gib = Number(m[2]) * 1024 ** 3; // printed to 0.1 GiB
  const cap = Number(m[1]);
  assert.ok(cap >= childCapFor(gib - 0.05 * 1024 ** 3) && cap <= childCapFor(gib + 0.05 * 1024 ** 3), m[0]);
  const set = await startServe([
    '--app',
    'http',
    '--port',
    '0',
    '--idle-timeout',
    '0',
    '--partial-timeout',
    '2s',
  ]);
  set.child.kill();
  assert.match(set.stderr(), /idle-timeout off \(set\), partial-timeout 2s \(set\)/);
  const quiet = await runCli(['serve', '--app', 'nope', '--log-level', 'warn']);
  assert.doesNotMatch(quiet.stderr, /limits:/);
});
