// The inspector's COMMAND column: a process's comm names the program, except under Node, which calls its
// main thread (and so the process's comm) 'MainThread': there the command line says what runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandLabel, readCmdline, readStat } from '../../src/inspect/proc-process.ts';

test('command label: the program for C servers, the c10k verb or the script for Node processes', () => {
  assert.equal(commandLabel('echo_epoll', '/opt/yardstick/echo_epoll 7000'), 'echo_epoll');
  assert.equal(
    commandLabel('MainThread', '/usr/bin/node bin/c10k.ts serve --app echo --port 7000'),
    'c10k serve',
  );
  assert.equal(
    commandLabel('MainThread', '/usr/bin/node --perf-prof /srv/c10k/bin/c10k.ts load --port 7000'),
    'c10k load',
  );
  assert.equal(
    commandLabel('MainThread', '/usr/bin/node /srv/c10k/src/models/worker-main.ts'),
    'c10k worker',
  );
  assert.equal(commandLabel('MainThread', '/usr/local/bin/node server.js 8080'), 'node server.js');
  assert.equal(commandLabel('MainThread', '/usr/local/bin/node'), 'node');
  assert.equal(commandLabel('MainThread', ''), 'MainThread');
});

test('command label of this very process (a Node test runner child)', {
  skip: process.platform !== 'linux',
}, () => {
  const stat = readStat(process.pid);
  assert.ok(stat);
  const label = commandLabel(stat.comm, readCmdline(process.pid));
  assert.notEqual(label, 'MainThread');
  assert.match(label, /node|command-label/);
});
