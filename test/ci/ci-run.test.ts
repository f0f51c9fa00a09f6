// .ci/run must not pass with real peers missing: a package apt cannot install fails it with one line
// naming the package (and npm test never runs), and under CI=true a test whose peer is absent fails
// instead of skipping. apt-get, dpkg-query, sudo and npm are stand-ins on PATH here (CI installs the real
// ones); what is under test is the script's control flow and the helpers' CI switch.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;
/** The peers .ci/run installs, as the script lists them. */
const PEERS = /^PACKAGES="([^"]*)"/m.exec(readFileSync(join(ROOT, '.ci/run'), 'utf8'))![1]!.split(' ');

/** A PATH directory with stand-ins; `installable` are the packages the fake apt-get manages to install. */
function fakeTools(preinstalled: string[], installable: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'c10k-ci-'));
  const state = join(dir, 'installed');
  writeFileSync(state, preinstalled.map((p) => `${p}\n`).join(''));
  const script = (name: string, body: string) => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  script('npm', `echo "npm $* CI=$CI" >> ${dir}/npm.log`);
  script('sudo', '[ "$1" = -n ] && shift; exec "$@"');
  // dpkg-query -W -f=FORMAT PACKAGE
  script('dpkg-query', `grep -qx "$3" ${state} && printf 'install ok installed' || exit 1`);
  script(
    'apt-get',
    `[ "$1" = update ] && exit 0
for p in "$@"; do case " ${installable.join(' ')} " in *" $p "*) echo "$p" >> ${state};; esac; done
for p in "$@"; do case "$p" in -*|install) ;; *) grep -qx "$p" ${state} || { echo "E: Unable to locate package $p" >&2; exit 100; };; esac; done`,
  );
  const run = () =>
    spawnSync('bash', [join(ROOT, '.ci/run')], {
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, CI: '' },
      encoding: 'utf8',
      timeout: 60_000,
    });
  const npmLog = () => {
    try {
      return readFileSync(join(dir, 'npm.log'), 'utf8');
    } catch {
      return '';
    }
  };
  return { run, npmLog, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('.ci/run fails with one line naming a real peer apt cannot install, before npm test', () => {
  // every peer but haproxy, chromium and wrk is there; apt installs the first two, not wrk
  const fake = fakeTools(
    PEERS.filter((p) => !['haproxy', 'chromium', 'wrk'].includes(p)),
    ['haproxy', 'chromium'],
  );
  try {
    const r = fake.run();
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const failures = r.stderr.split('\n').filter((l) => l.startsWith('ci: FAILED'));
    assert.deepEqual(failures, [
      "ci: FAILED: cannot install the real peer 'wrk' (apt-get failed, or no root)",
    ]);
    assert.match(fake.npmLog(), /^npm ci /);
    assert.doesNotMatch(fake.npmLog(), /npm test/);
  } finally {
    fake.done();
  }
});

test('.ci/run installs the missing peers and runs npm test with CI=true', () => {
  const fake = fakeTools([], PEERS);
  try {
    const r = fake.run();
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.ok(r.stdout.includes(`ci: installing ${PEERS.join(' ')}`), r.stdout);
    assert.match(fake.npmLog(), /npm test CI=true/);
  } finally {
    fake.done();
  }
});

test('a test whose real peer is absent skips locally with the reason and fails under CI=true', () => {
  const fixture = new URL('./fixtures/needs-absent-peer.ts', import.meta.url).pathname;
  // Without NODE_TEST_CONTEXT, which would make the child report to this runner instead of printing.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const run = (ci: string) =>
    spawnSync(process.execPath, ['--test', '--test-reporter=tap', fixture], {
      env: { ...env, CI: ci },
      encoding: 'utf8',
      timeout: 60_000,
    });
  const reason = 'c10k-no-such-peer not installed (apt-get install c10k-no-such-package)';
  const local = run('');
  assert.equal(local.status, 0, local.stdout);
  assert.equal(local.stdout.split(`# SKIP ${reason}`).length - 1, 2, local.stdout);
  const ci = run('true');
  assert.notEqual(ci.status, 0, ci.stdout);
  assert.match(
    ci.stdout,
    new RegExp(`not ok \\d+ - peer required under CI: ${reason.replace(/[()]/g, '\\$&')}`),
  );
  assert.match(ci.stdout, /not ok \d+ - needs a peer \(checked inside the test\)/);
  assert.match(ci.stdout, /CI must have every real peer/);
});
