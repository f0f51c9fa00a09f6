#!/usr/bin/env node
// c10k: one binary, one small module per verb under src/cli/. Each verb exports run(argv) -> exit code.
import { UsageError } from '../src/cli/args.ts';
import { ServeError } from '../src/models/types.ts';

const VERBS: Record<string, string> = {
  serve: 'run an app under one I/O model',
  load: 'open many connections and measure an echo server',
  inspect: "the kernel's view of a server: queues, sockets, fds, memory",
  bench: 'every model under the same load, side by side, with a report',
};

const USAGE = `usage: c10k <verb> [options]   (c10k <verb> --help for each)

${Object.entries(VERBS)
  .map(([verb, what]) => `  ${verb.padEnd(9)}${what}`)
  .join('\n')}
`;

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === '--version') {
    // The package's own package.json through its name (exports), the same from a checkout and from dist/.
    const { createRequire } = await import('node:module');
    process.stdout.write(`c10k ${createRequire(import.meta.url)('c10k/package.json').version}\n`);
    return 0;
  }
  if (verb === undefined || verb === '-h' || verb === '--help' || verb === 'help') {
    process.stdout.write(USAGE);
    return verb === undefined ? 2 : 0;
  }
  if (!Object.hasOwn(VERBS, verb))
    throw new UsageError(`unknown verb '${verb}' (verbs: ${Object.keys(VERBS).join(', ')})`);
  let module: { run(argv: string[]): Promise<number> };
  try {
    module = await import(`../src/cli/${verb}.ts`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND')
      throw new UsageError(`'${verb}' is not available yet`);
    throw error;
  }
  return module.run(rest);
}

let settled = false;
process.on('exit', () => {
  // A verb whose work is still pending when Node runs out of things to do has lost track of something.
  if (!settled) {
    process.stderr.write('c10k: internal error: the command stopped before it finished\n');
    process.exitCode = 70;
  }
});

main(process.argv.slice(2)).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (error) => {
    settled = true;
    const verb = process.argv[2] && Object.hasOwn(VERBS, process.argv[2]) ? ` ${process.argv[2]}` : '';
    if (error instanceof UsageError || error instanceof ServeError) {
      process.stderr.write(`c10k${verb}: ${error.message}\n`);
      process.exitCode = error instanceof UsageError ? 2 : 1;
    } else {
      process.stderr.write(`c10k${verb}: ${error?.stack ?? error}\n`);
      process.exitCode = 1;
    }
  },
);
