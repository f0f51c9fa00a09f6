// `c10k load` as a user runs it: --help, one-line usage errors, the automatic sources/processes, and a
// JSON report from a real run against an in-process echo server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectionsPerProcess, parseLoadArgs } from '../../src/cli/load.ts';
import { serve } from '../../src/index.ts';
import type { LoadOptions } from '../../src/load/stats.ts';
import type { ServerHandle } from '../../src/models/types.ts';
import { runCli } from '../helpers/cli.ts';

async function parsed(args: string[]): Promise<LoadOptions> {
  const o = await parseLoadArgs(args);
  assert.notEqual(o, 'help');
  return o as LoadOptions;
}

describe('c10k load (command line)', () => {
  let echo: ServerHandle;
  before(async () => {
    echo = await serve({ app: 'echo', port: 0 });
  });
  after(() => echo.close());

  it('--help prints usage and exits 0', async () => {
    const r = await runCli(['load', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: c10k load --port N/);
  });

  it('bad arguments exit 2 with one line', async () => {
    for (const args of [
      [],
      ['--port', 'x'],
      ['--port', '1', '--protocol', 'http'],
      ['--port', '1', '--bogus'],
    ]) {
      const r = await runCli(['load', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^c10k load: .+\n$/);
    }
  });

  it('derives sources and processes from the connection count', async () => {
    const small = await parsed(['--port', '7000', '--connections', '1000']);
    assert.deepEqual(small.sources, []);
    // processes follow this machine's open-files limit (20,000 here: 1 and 4)
    assert.equal(small.processes, Math.ceil(1000 / connectionsPerProcess()));
    assert.equal(small.duration, 10_000);
    assert.equal(small.size, 64);
    const big = await parsed(['--port', '7000', '--connections', '60000']);
    assert.deepEqual(big.sources, [
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.4',
      '127.0.0.5',
      '127.0.0.6',
      '127.0.0.7',
    ]);
    assert.equal(big.processes, Math.ceil(60_000 / connectionsPerProcess()));
    const manual = await parsed(['--port', '7', '--connections', '10', '--sources', '2', '--processes', '3']);
    assert.deepEqual(manual.sources, ['127.0.0.2', '127.0.0.3']);
    assert.equal(manual.processes, 3);
    await assert.rejects(parseLoadArgs(['--port', '7', '--host', '::1', '--sources', '2']), /--host must be/);
  });

  it('--json reports a clean run', async () => {
    const r = await runCli([
      'load',
      '--port',
      String(echo.port),
      '--connections',
      '20',
      '--duration',
      '300ms',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.connections.established, 20);
    assert.equal(j.mismatches, 0);
    assert.ok(j.messages > 0);
    assert.ok(j.msgsPerSec > 0);
    assert.ok(j.latencyUs.p50 > 0 && j.latencyUs.p50 <= j.latencyUs.p99);
    assert.equal(j.histograms.latencyUs.count, j.messages);
  });

  it('text report, and exit 1 when nothing connects', async () => {
    const r = await runCli(['load', '--port', '1', '--connections', '3', '--duration', '10ms']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /0 established of 3 attempted/);
    assert.match(r.stdout, /refused 3/);
  });
});
