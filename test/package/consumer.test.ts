// The package as a user gets it: `npm pack` (which builds dist/), the tarball installed with production
// dependencies only into a new `npm init -y` project, then the command and the library run from there
// under each supported Node major, and a Node below the floor refused. The Node binaries come from
// C10K_TEST_NODES (paths joined with ':'; .ci/run installs them outside the lockfile). Without it only
// this Node runs the checks; with CI=true a supported major without a binary fails the test.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  engines: { node: string };
};
/** The oldest maintained LTS line and the active ones. */
const SUPPORTED_MAJORS = [22, 24, 26];
const FLOOR = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(PKG.engines.node)!.slice(1).map(Number);
const CI = process.env.CI === 'true';

interface NodeBin {
  path: string;
  version: string;
  major: number;
  /** Runs .ts/.mts files without a flag (22.18+, 23.6+). */
  strips: boolean;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { ...options, timeout: 120_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function older(version: string): boolean {
  const have = version.replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < 3; i++) if (have[i] !== FLOOR[i]) return have[i] < FLOOR[i];
  return false;
}

async function describeNode(path: string): Promise<NodeBin | null> {
  const r = await run(path, ['-p', 'JSON.stringify([process.version, !!process.features?.typescript])']);
  if (r.code !== 0) return null;
  const [version, strips] = JSON.parse(r.stdout) as [string, boolean];
  return { path, version, major: Number(version.slice(1).split('.')[0]), strips };
}

const listed = process.env.C10K_TEST_NODES?.split(delimiter).filter(Boolean);
const nodes = (await Promise.all((listed ?? [process.execPath]).map(describeNode))).filter(
  (n): n is NodeBin => n !== null,
);
const missingReason = listed
  ? 'no binary for it in C10K_TEST_NODES'
  : 'C10K_TEST_NODES is not set (.ci/run sets it): only this Node runs the checks';

/** PATH with this Node's directory first, so `#!/usr/bin/env node` and npm run under it. */
function envFor(node: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`, ...extra };
}

// ---- the tarball and the user's projects, made once ----

const TMP = mkdtempSync(join(tmpdir(), 'c10k-consumer-'));
const USER = join(TMP, 'user'); // what `npm init -y` makes ("type": "commonjs" with npm 11)
const USER_ESM = join(USER, 'esm'); // a "type": "module" project inside it, resolving c10k upwards
const C10K = join(USER, 'node_modules', '.bin', 'c10k');
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(TMP, { recursive: true, force: true });
});

let prepared: Promise<string> | undefined;
/** Pack once, install once; resolves to the tarball's path. */
function prepare(): Promise<string> {
  prepared ??= (async () => {
    const npmEnv = envFor(process.execPath);
    const pack = await run('npm', ['pack', '--pack-destination', TMP], { cwd: ROOT, env: npmEnv });
    assert.equal(pack.code, 0, `npm pack failed:\n${pack.stderr}`);
    const tarball = join(TMP, `${PKG.name}-${PKG.version}.tgz`);
    mkdirSync(USER);
    assert.equal((await run('npm', ['init', '-y'], { cwd: USER, env: npmEnv })).code, 0);
    const install = await run(
      'npm',
      ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', tarball],
      { cwd: USER, env: npmEnv },
    );
    assert.equal(install.code, 0, `npm install of the tarball failed:\n${install.stderr}`);
    writeFiles();
    return tarball;
  })();
  return prepared;
}

function writeFiles(): void {
  writeFileSync(
    join(USER, 'server.mjs'),
    `import { defineApp, serve } from 'c10k';
const app = defineApp({ protocol: 'line', message(conn, line) { conn.send('mjs:' + line); } });
const server = await serve({ app, port: 0 });
console.log('listening ' + server.port);
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
`,
  );
  const tsApp = (tag: string) => `import { type Connection, defineApp } from 'c10k';

export default defineApp({
  protocol: 'line',
  message(conn: Connection, line: Buffer): void {
    conn.send(\`${tag}:\${line}\`);
  },
});
`;
  writeFileSync(join(USER, 'app.mts'), tsApp('mts'));
  mkdirSync(USER_ESM);
  writeFileSync(
    join(USER_ESM, 'package.json'),
    '{ "name": "esm-user", "private": true, "type": "module" }\n',
  );
  writeFileSync(join(USER_ESM, 'app.ts'), tsApp('ts'));
}

// ---- servers ----

interface Server {
  child: ChildProcess;
  port: number;
  stderr(): string;
  /** SIGTERM; resolves to the exit code. */
  stop(): Promise<number | null>;
}

/** Start a server and wait for the port it prints (the CLI's 'serving ... on HOST:PORT' line on
 * stderr, or 'listening PORT' on stdout for the library script). */
function start(
  file: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<Server> {
  const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no port within 30 s from ${args.join(' ')}:\n${err}`));
    }, 30_000);
    const look = () => {
      const m = / serving .* on [^ ]+:(\d+)/.exec(err) ?? /^listening (\d+)$/m.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        child,
        port: Number(m[1]),
        stderr: () => err,
        stop: () => {
          child.kill('SIGTERM');
          return exited;
        },
      });
    };
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      look();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
      look();
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before serving: ${args.join(' ')}\n${err}`));
    });
  });
}

/** Send `message` on a new connection; resolves to the reply once it is `expected.length` bytes long. */
function ask(port: number, message: string, expected: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(message));
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no full answer within 10 s (got ${JSON.stringify(got)})`));
    }, 10_000);
    socket.on('data', (d) => {
      got += d;
      if (got.length >= expected.length) {
        clearTimeout(timer);
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function serves(server: Server, message: string, expected: string): Promise<void> {
  try {
    assert.equal(await ask(server.port, message, expected), expected);
  } finally {
    assert.equal(await server.stop(), 0, `not a clean stop:\n${server.stderr()}`);
  }
}

// ---- the checks ----

test('the tarball holds the build and no test/, bench/ or TypeScript source', async () => {
  const tarball = await prepare();
  const r = await run('tar', ['-tzf', tarball]);
  assert.equal(r.code, 0);
  const files = r.stdout.split('\n').filter(Boolean);
  assert.deepEqual(
    files.filter(
      (f) => /^package\/(test|bench|src|bin)\//.test(f) || (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)),
    ),
    [],
  );
  for (const f of ['dist/bin/launch.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/index.js.map'])
    assert.ok(files.includes(`package/${f}`), f);
});

test('every module the build starts by path is in the installed package', async () => {
  await prepare();
  const dist = join(USER, 'node_modules', 'c10k', 'dist');
  const js = (await run('find', [dist, '-name', '*.js'])).stdout.split('\n').filter(Boolean);
  let named = 0;
  for (const file of js) {
    const text = readFileSync(file, 'utf8');
    // A path built from import.meta.url with a .ts literal would not exist here: siblingModule() it.
    assert.doesNotMatch(text, /new URL\(\s*['"`]\.\.?\/[^'"`]*\.ts['"`]/, relative(dist, file));
    for (const m of text.matchAll(/siblingModule(?:Path)?\(\s*['"]([^'"]+)['"]/g)) {
      const target = fileURLToPath(new URL(m[1].replace(/\.ts$/, '.js'), `file://${file}`));
      assert.ok(existsSync(target), `${relative(dist, file)} starts ${m[1]}: ${target} is missing`);
      named++;
    }
  }
  assert.ok(named >= 10, `only ${named} modules started by path found: is the check still looking?`);
});

test("a user's TypeScript type-checks against the shipped declarations (module nodenext, strict)", async () => {
  await prepare();
  const dir = join(TMP, 'typecheck');
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  // The user's project: the installed c10k, and @types/node as any TypeScript project on Node has it.
  symlinkSync(join(USER, 'node_modules', 'c10k'), join(dir, 'node_modules', 'c10k'));
  symlinkSync(join(ROOT, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'));
  writeFileSync(join(dir, 'package.json'), '{ "name": "ts-user", "private": true, "type": "module" }\n');
  writeFileSync(
    join(dir, 'tsconfig.json'),
    '{ "compilerOptions": { "module": "nodenext", "strict": true, "noEmit": true } }\n',
  );
  writeFileSync(
    join(dir, 'main.ts'),
    `import { type Codec, type Connection, defineApp, line, type ServeOptions, serve } from 'c10k';

const codec: Codec<Buffer, Buffer | string> = line();
const app = defineApp({
  protocol: codec,
  open(conn: Connection) {
    conn.send('hello');
  },
  message(conn, text) {
    const ok: boolean = conn.send(text.toString('latin1').toUpperCase());
    if (!ok) conn.pause();
  },
  drain(conn) {
    conn.resume();
  },
});
const options: ServeOptions = { app, port: 0, maxConnections: 10_000 };
const server = await serve(options);
const port: number = server.port;
console.log(port, (await server.stats()).accepted);
await server.close();
`,
  );
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const ok = await run(process.execPath, [tsc, '-p', dir]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  // And the declarations do type: a wrong use is caught.
  writeFileSync(
    join(dir, 'wrong.ts'),
    `import { serve } from 'c10k';\nawait serve({ app: 'echo', port: '7000' });\n`,
  );
  const wrong = await run(process.execPath, [tsc, '-p', dir]);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stdout, /wrong\.ts\(2,\d+\): error TS2322/);
});

describe('the installed package on each supported Node', () => {
  for (const major of SUPPORTED_MAJORS) {
    const node = nodes.find((n) => n.major === major && !older(n.version));
    if (!node) {
      if (CI) test(`Node ${major}`, () => assert.fail(`Node ${major}: ${missingReason}`));
      else test(`Node ${major}`, { skip: `Node ${major}: ${missingReason}` }, () => {});
      continue;
    }
    describe(`Node ${node.version}`, () => {
      const env = envFor(node.path);
      // 22.12-22.17: TypeScript apps need the flag (the CLI says so in one line when it is missing).
      const tsEnv = node.strips ? env : envFor(node.path, { NODE_OPTIONS: '--experimental-strip-types' });

      test('c10k --version', async () => {
        await prepare();
        const r = await run(C10K, ['--version'], { cwd: USER, env });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`\\b${PKG.version.replaceAll('.', '\\.')}\\b`));
      });

      test('c10k serve --app echo answers (thread-pool); load and inspect run against it', async () => {
        await prepare();
        const server = await start(
          C10K,
          // 4 workers for the 4 connections below: a thread pool serves --workers clients at once, and
          // load counts a connection left waiting in the queue as unanswered (exit 1).
          ['serve', '--app', 'echo', '--model', 'thread-pool', '--workers', '4', '--port', '0'],
          {
            cwd: USER,
            env,
          },
        );
        try {
          assert.equal(await ask(server.port, 'ping', 'ping'), 'ping');
          const load = await run(
            C10K,
            [
              'load',
              '--port',
              `${server.port}`,
              '--connections',
              '4',
              '--duration',
              '1s',
              '--processes',
              '2',
            ],
            { cwd: USER, env },
          );
          assert.equal(load.code, 0, load.stderr);
          assert.match(load.stdout, / 0 mismatches/);
          const inspect = await run(C10K, ['inspect', '--port', `${server.port}`], { cwd: USER, env });
          assert.equal(inspect.code, 0, inspect.stderr);
          assert.match(inspect.stdout, new RegExp(`127\\.0\\.0\\.1:${server.port} `));
          // The installed command is named as in a checkout (the COMMAND column).
          assert.match(inspect.stdout, new RegExp(`^${server.child.pid} .* c10k serve `, 'm'));
        } finally {
          assert.equal(await server.stop(), 0, server.stderr());
        }
      });

      test('a plain .mjs script serves a line app through serve() and defineApp()', async () => {
        await prepare();
        const server = await start(node.path, ['server.mjs'], { cwd: USER, env });
        await serves(server, 'hi\n', 'mjs:hi\n');
      });

      if (!node.strips) {
        test('a TypeScript app without type stripping: one line naming the flag, exit 1', async () => {
          await prepare();
          const r = await run(C10K, ['serve', '--app', './app.mts', '--port', '0'], { cwd: USER, env });
          assert.equal(r.code, 1);
          assert.match(r.stderr, /^c10k serve: .*NODE_OPTIONS=--experimental-strip-types.*\n$/);
        });
      }

      test('app.mts in an npm init -y project runs under c10k serve (prefork workers)', async () => {
        await prepare();
        const args = ['serve', '--app', './app.mts', '--model', 'prefork', '--workers', '2', '--port', '0'];
        await serves(await start(C10K, args, { cwd: USER, env: tsEnv }), 'hi\n', 'mts:hi\n');
      });

      test('app.ts in a "type": "module" project runs under c10k serve (multi-reactor workers)', async () => {
        await prepare();
        const args = [
          'serve',
          '--app',
          './app.ts',
          '--model',
          'multi-reactor',
          '--workers',
          '2',
          '--port',
          '0',
        ];
        await serves(await start(C10K, args, { cwd: USER_ESM, env: tsEnv }), 'hi\n', 'ts:hi\n');
      });
    });
  }
});

test(`a Node older than ${FLOOR.join('.')} gets one line naming the version needed and exit 2`, async (t) => {
  const old = nodes.filter((n) => older(n.version));
  if (old.length === 0) {
    const reason = `no Node older than ${FLOOR.join('.')} among the test's Node binaries (C10K_TEST_NODES)`;
    if (CI) assert.fail(reason);
    t.skip(reason);
    return;
  }
  await prepare();
  for (const node of old) {
    for (const args of [['--version'], ['serve', '--app', 'echo', '--port', '0']]) {
      const r = await run(C10K, args, { cwd: USER, env: envFor(node.path) });
      assert.equal(r.code, 2, `${node.version} ${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `c10k: needs Node.js ${FLOOR.join('.')} or newer (this is ${node.version})\n`);
    }
  }
});
