// The command line's conventions, tried as a new user would: --version, help VERB, bare c10k, and one
// exit-code rule for every verb (2 a usage error, as one line naming the verb and pointing at its --help;
// 1 a runtime failure), with the same words for the same mistake in every verb.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { exited, runCli, startServe } from '../helpers/cli.ts';

const VERSION = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

/** Exit code `code` and exactly one line on stderr, matching `pattern`. */
async function oneLine(args: string[], code: number, pattern: RegExp): Promise<string> {
  const r = await runCli(args);
  const what = `c10k ${args.join(' ')}`;
  assert.equal(r.code, code, `${what}: exit ${r.code}, stderr: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `${what}: not one line: ${r.stderr}`);
  assert.match(lines[0], pattern, what);
  return lines[0];
}

/** A usage error of `verb`: exit 2, "c10k VERB: ... (see 'c10k VERB --help')". */
function usage(verb: string, args: string[], what: RegExp): Promise<string> {
  const v = verb === '' ? '' : ` ${verb}`;
  const help = new RegExp(`^c10k${v}: ${what.source} \\(see 'c10k${v} --help'\\)$`);
  return oneLine(verb === '' ? args : [verb, ...args], 2, help);
}

test('c10k --version prints the package version, exit 0', async () => {
  for (const flag of ['--version', '-v']) {
    const r = await runCli([flag]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `c10k ${VERSION}\n`);
    assert.equal(r.stderr, '');
  }
});

test("c10k help VERB prints that verb's --help on stdout, exit 0; an unknown verb is a usage error", async () => {
  for (const verb of ['serve', 'load', 'inspect', 'bench']) {
    const viaHelp = await runCli(['help', verb]);
    const viaFlag = await runCli([verb, '--help']);
    assert.equal(viaHelp.code, 0, verb);
    assert.match(viaHelp.stdout, new RegExp(`^usage: c10k ${verb}`));
    assert.equal(viaHelp.stdout, viaFlag.stdout, verb);
  }
  const top = await runCli(['help']);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^usage: c10k <verb>/);
  await oneLine(['help', 'nope'], 2, /^c10k help: unknown verb 'nope' \(see 'c10k --help'\)$/);
});

test('bare c10k prints the usage on stderr and exits 2; a verb that is not one, or an option before the verb, is a usage error', async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^usage: c10k <verb> \[options\]/);
  assert.match(r.stderr, /serve/);
  await usage('', ['frob'], /unknown verb 'frob'/);
  await usage('', ['--frob'], /unknown option '--frob' before the verb/);
});

test('the same mistake reads the same in every verb: one line, the verb, its --help, exit 2', async () => {
  const verbs: [string, string[]][] = [
    ['serve', ['--app', 'echo']],
    ['load', ['--port', '1']],
    ['inspect', ['--port', '1']],
    ['bench', []],
  ];
  for (const [verb, base] of verbs) {
    await usage(verb, [...base, '--frobnicate'], /unknown option '--frobnicate'/);
    await usage(verb, [...base, '-Z'], /unknown option '-Z'/);
    await usage(verb, [...base, 'stray'], /unexpected argument 'stray'/);
    await usage(verb, [...base, '--help=yes'], /--help takes no value, got 'yes'/);
  }
  // parseArgs' own multi-line "ambiguous" text never shows: a negative number is taken as the value
  for (const [verb, base] of verbs.slice(0, 3)) {
    const args = base.filter((a) => a !== '--port' && a !== '1');
    await usage(verb, [...args, '--port', '-1'], /--port needs a whole number from \d to 65535, got '-1'/);
    await usage(verb, [...args, '--port', 'x'], /--port needs a whole number from \d to 65535, got 'x'/);
    await usage(verb, [...args, '--port'], /--port needs a value/);
    await usage(verb, [...args, '--port', '--json'], /--port needs a value, got option '--json'/);
  }
  await usage(
    'load',
    ['-p', '1', '--connections', '-5'],
    /--connections needs a whole number from 1 to \d+, got '-5'/,
  );
  await usage('bench', ['--connections', '-5'], /--connections needs a whole number from 1 to \d+, got '-5'/);
  // durations: the same words wherever one is taken
  await usage(
    'serve',
    ['--app', 'echo', '--drain-timeout', 'soon'],
    /--drain-timeout needs a duration like 500ms, 10s or 2m, got 'soon'/,
  );
  await usage(
    'load',
    ['-p', '1', '--duration', 'soon'],
    /--duration needs a duration like 500ms, 10s or 2m, at least 1ms, got 'soon'/,
  );
  await usage(
    'bench',
    ['--duration', 'soon'],
    /--duration needs a duration like 500ms, 10s or 2m, at least 1ms, got 'soon'/,
  );
  await usage(
    'inspect',
    ['--port', '1', '--interval', 'soon'],
    /--interval needs a duration like 500ms, 10s or 2m, at least 100ms, got 'soon'/,
  );
});

test('unknown model, backend, multiplexer or app: a usage error (exit 2), in the same words', async () => {
  await usage(
    'serve',
    ['--app', 'echo', '--model', 'nope'],
    /--model needs one of iterative, .*multi-reactor, proactor, multi-proactor, got 'nope'/,
  );
  await usage(
    'serve',
    ['--app', 'echo', '--backend', 'nope'],
    /--backend needs one of syscall, node, got 'nope'/,
  );
  await usage(
    'serve',
    ['--app', 'echo', '--multiplexer', 'kqueue'],
    /--multiplexer needs one of select, poll, epoll, got 'kqueue'/,
  );
  await usage(
    'serve',
    ['--app', 'nope'],
    /--app needs a built-in app \(echo, .*\) or a module path, got 'nope'/,
  );
  await usage(
    'serve',
    ['--app', './no/such/app.mjs'],
    /--app needs a built-in app .*got '.\/no\/such\/app.mjs'/,
  );
  await usage('serve', [], /--app is required \(e.g. --app echo\)/);
  await usage(
    'load',
    ['--protocol', 'http', '-p', '1'],
    /--protocol needs one of raw, line, length, websocket, got 'http'/,
  );
  await usage('load', ['--engine', 'uring', '-p', '1'], /--engine needs one of sys, node, got 'uring'/);
  // options that contradict each other, caught by the library, are usage errors too
  await usage(
    'serve',
    ['--app', 'echo', '--model', 'iterative', '--backend', 'node'],
    /the iterative model needs .*--backend syscall/,
  );
  await usage(
    'serve',
    ['--app', 'kv', '--model', 'prefork', '--workers', '2'],
    /app 'kv' keeps its state in one process .*--workers 1/,
  );
  await usage(
    'serve',
    ['--app', 'echo', '--high-water-mark', '8k'],
    /--high-water-mark needs a size >= --low-water-mark \(16384\), got '8k'/,
  );
});

test('runtime failures exit 1 with one line: an app that fails to load, a port in use', async () => {
  await oneLine(
    ['serve', '--app', new URL('../../package.json', import.meta.url).pathname],
    1,
    /^c10k serve: app module '.*package.json' failed to load: /,
  );
  const first = await startServe(['--app', 'echo', '--port', '0']);
  try {
    await oneLine(
      ['serve', '--app', 'echo', '--port', String(first.port)],
      1,
      new RegExp(`^c10k serve: port ${first.port} is already in use on 127.0.0.1$`),
    );
  } finally {
    first.child.kill('SIGTERM');
    await exited(first.child);
  }
});
