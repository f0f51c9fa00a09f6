// c10k load as wrk and redis-benchmark users expect it: short flags, processes from the real open-files
// limit, connections that never get an answer counted and failing the run past --max-errors, a run
// that echoed nothing failing with the likely cause, --duration 0 refused, and Ctrl-C's partial report.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type CliLoadOptions, parseLoadArgs } from '../../src/cli/load.ts';
import { serve } from '../../src/index.ts';
import type { ServerHandle } from '../../src/models/types.ts';
import { BIN, NODE, runCli } from '../helpers/cli.ts';

function run(
  args: string[],
  /** interruptWhen: polled every 100 ms; once true, the load gets SIGINT (as Ctrl-C). */
  opts: { nofile?: number; interruptWhen?: () => Promise<boolean> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const argv = [BIN, 'load', ...args];
    const child =
      opts.nofile === undefined
        ? spawn(NODE, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('sh', ['-c', `ulimit -n ${opts.nofile} && exec "$0" "$@"`, NODE, ...argv], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const kill = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`c10k load ${args.join(' ')} did not finish: ${stderr}`));
    }, 60_000);
    const when = opts.interruptWhen;
    let sent = false; // once: a second SIGINT would stop the load without its report
    const interrupt =
      when === undefined
        ? undefined
        : setInterval(async () => {
            if (!sent && (await when()) && !sent) {
              sent = true;
              clearInterval(interrupt);
              child.kill('SIGINT');
            }
          }, 100);
    child.on('close', (code) => {
      clearTimeout(kill);
      clearInterval(interrupt);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every other connection echoes its first `size` bytes, then nothing more; the rest echo everything. */
function stallingEcho(size: number): Server {
  let n = 0;
  return createServer((socket: Socket) => {
    const stalls = n++ % 2 === 1;
    let echoed = 0;
    socket.on('data', (chunk) => {
      if (!stalls) socket.write(chunk);
      else if (echoed < size) {
        const part = chunk.subarray(0, size - echoed);
        echoed += part.length;
        socket.write(part);
      }
    });
    socket.on('error', () => {});
  });
}

describe('c10k load (command line conventions)', () => {
  let echo: ServerHandle;
  let lineEcho: ServerHandle;
  before(async () => {
    echo = await serve({ app: 'echo', port: 0 });
    lineEcho = await serve({ app: 'line-echo', port: 0 });
  });
  after(async () => {
    await Promise.all([echo.close(), lineEcho.close()]);
  });

  it('short flags as wrk and redis-benchmark have them: -p -c -d -t (and wrk2 -R)', async () => {
    const o = (await parseLoadArgs([
      '-p',
      '7000',
      '-c',
      '50',
      '-d',
      '3s',
      '-t',
      '2',
      '-R',
      '100',
    ])) as CliLoadOptions;
    assert.equal(o.port, 7000);
    assert.equal(o.connections, 50);
    assert.equal(o.duration, 3000);
    assert.equal(o.processes, 2);
    assert.equal(o.rate, 100);
    const bare = (await parseLoadArgs(['-p', '7000', '-d', '2'])) as CliLoadOptions;
    assert.equal(bare.duration, 2000, 'a bare number is seconds, as in wrk');
    assert.deepEqual(bare.maxErrors, { percent: 1 });
    assert.equal(bare.timeout, 2000);
  });

  it('--duration 0 and a malformed --max-errors are usage errors', async () => {
    for (const [args, message] of [
      [['-d', '0'], "--duration needs a duration like 500ms, 10s or 2m, at least 1ms, got '0'"],
      [['--duration', '0s'], "--duration needs a duration like 500ms, 10s or 2m, at least 1ms, got '0s'"],
      [['--max-errors', '101%'], "--max-errors needs a count or a percentage like 10 or 1%, got '101%'"],
      [['--timeout', '0'], "--timeout needs a duration like 500ms, 10s or 2m, at least 1ms, got '0'"],
    ] as const) {
      const r = await runCli(['load', '-p', String(echo.port), ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stderr, `c10k load: ${message} (see 'c10k load --help')\n`);
    }
  });

  it('spreads over processes from the real open-files limit (ulimit -n 256: 900 connections, no EMFILE)', async () => {
    const r = await run(['-p', String(echo.port), '-c', '900', '-d', '300ms', '--json'], { nofile: 256 });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.ok(j.processes >= 5, `processes ${j.processes}`);
    assert.equal(j.connections.established, 900);
    assert.equal(j.connections.failed.total, 0, JSON.stringify(j.connections.otherCodes));
    // too few processes for that limit are refused before anything is opened
    const few = await run(['-p', String(echo.port), '-c', '900', '-t', '1'], { nofile: 256 });
    assert.equal(few.code, 2);
    assert.match(
      few.stderr,
      /^c10k load: --processes needs at least \d+ for 900 connections: the open-files limit \(256, ulimit -n\) lets a process hold \d+, got '1' \(see 'c10k load --help'\)\n$/,
    );
  });

  it('a run that echoed nothing exits 1 naming the likely cause: the wrong --protocol', async () => {
    const r = await run(['-p', String(lineEcho.port), '-c', '4', '-d', '300ms']);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'c10k load: nothing was echoed in the whole run: is the server an echo app? (a line-echo app needs --protocol line, a length-prefixed one --protocol length)\n',
    );
    assert.match(r.stdout, /unanswered +4 connections/);
    const right = await run(['-p', String(lineEcho.port), '-c', '4', '-d', '300ms', '--protocol', 'line']);
    assert.equal(right.code, 0, right.stderr);
  });

  it('connections left without an answer are counted (as wrk timeouts) and fail the run past --max-errors', async () => {
    const server = stallingEcho(64);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      // The stall must outlast --timeout, and a busy box's echo to the other two must not (200 ms failed once)
      const args = ['-p', String(port), '-c', '4', '-d', '1500ms', '--timeout', '600ms', '--json'];
      const failing = await run(args);
      assert.equal(failing.code, 1, failing.stderr);
      const j = JSON.parse(failing.stdout);
      assert.equal(j.connections.unanswered, 2);
      assert.equal(j.connections.timeoutMs, 600);
      assert.ok(j.messages > 2);
      assert.equal(
        failing.stderr,
        'c10k load: 2 of 4 connections failed (0) or got no answer (2): more than --max-errors 1%\n',
      );
      for (const allowed of ['50%', '2']) {
        const r = await run([...args, '--max-errors', allowed]);
        assert.equal(r.code, 0, `--max-errors ${allowed}: ${r.stderr}`);
        assert.equal(JSON.parse(r.stdout).connections.unanswered, 2);
      }
      const text = await run(args.filter((a) => a !== '--json'));
      assert.match(
        text.stdout,
        /unanswered +2 connections waiting at the end with no echo in the whole run or for 0\.6 s/,
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('Ctrl-C prints the partial report marked interrupted and exits 130', async () => {
    // Ctrl-C once the run is measuring: the echo server has seen well over the connect phase's traffic
    const measuring = async () => {
      const seen = (await echo.stats()).messagesIn;
      return () => echo.stats().then((s) => s.messagesIn > seen + 1000);
    };
    for (const extra of [[], ['-t', '2']]) {
      const text = await run(['-p', String(echo.port), '-c', '10', '-d', '30s', ...extra], {
        interruptWhen: await measuring(),
      });
      assert.equal(text.code, 130, text.stderr);
      assert.match(text.stdout, /^c10k load .*INTERRUPTED \(partial figures\)\n/);
      assert.match(text.stdout, /10 established of 10 attempted/);
      assert.equal(text.stderr, '');
    }
    const json = await run(['-p', String(echo.port), '-c', '10', '-d', '30s', '--json'], {
      interruptWhen: await measuring(),
    });
    assert.equal(json.code, 130);
    const j = JSON.parse(json.stdout);
    assert.equal(j.interrupted, true);
    assert.ok(j.durationMs < 30_000 && j.messages > 0);
  });
});
