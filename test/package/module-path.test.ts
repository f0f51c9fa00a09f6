// The helpers that let one source line name a module started by path both in a checkout (.ts) and in the
// installed build (.js), and the inspector's name for a c10k process run either way on each Node.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandLabel } from '../../src/inspect/proc-process.ts';
import { siblingModule, siblingModulePath } from '../../src/module-path.ts';

test('siblingModule: .ts next to a .ts module, .js next to a .js one', () => {
  assert.equal(
    siblingModule('./worker.ts', 'file:///r/src/load/run.ts').href,
    'file:///r/src/load/worker.ts',
  );
  assert.equal(
    siblingModule('./worker.ts', 'file:///p/node_modules/c10k/dist/src/load/run.js').href,
    'file:///p/node_modules/c10k/dist/src/load/worker.js',
  );
  assert.equal(
    siblingModule('../../bin/c10k.ts', 'file:///p/dist/src/report/runner.js').href,
    'file:///p/dist/bin/c10k.js',
  );
  // A path, decoded (URL.pathname would keep %20).
  assert.equal(siblingModulePath('./a.ts', 'file:///my%20dir/b.js'), '/my dir/a.js');
});

test('command label: the installed command and worker, under the main-thread name of each Node', () => {
  for (const comm of ['node', 'MainThread', 'node-MainThread']) {
    assert.equal(
      commandLabel(comm, '/usr/bin/node /p/node_modules/.bin/c10k serve --app echo'),
      'c10k serve',
      comm,
    );
    assert.equal(
      commandLabel(comm, '/usr/bin/node /p/node_modules/c10k/dist/bin/c10k.js load --port 7000'),
      'c10k load',
    );
    assert.equal(
      commandLabel(comm, '/usr/bin/node /p/node_modules/c10k/dist/src/models/worker-main.js'),
      'c10k worker',
    );
    assert.equal(commandLabel(comm, '/usr/local/bin/node server.js 8080'), 'node server.js');
  }
  assert.equal(commandLabel('redis-server', '/usr/bin/redis-server *:6379'), 'redis-server');
});
