#!/usr/bin/env node
// c10k: one binary, one small module per verb under src/cli/. Each verb exports HELP and run(argv) -> exit
// code. Exit codes, for every verb: 0 done, 1 a runtime failure (port in use, an app that fails to load,
// nothing to inspect), 2 a usage error (one line naming the verb and pointing at its --help), 130
// interrupted (load).
import { Failure, UsageError } from '../src/cli/args.ts';
import { packageVersion } from '../src/cli/version.ts';
import { ServeError, ServeOptionError } from '../src/models/types.ts';

const VERBS: Record<string, string> = {
  serve: 'run an app under one I/O model',
  load: 'open many connections and measure an echo server',
  inspect: "the kernel's view of a server: queues, sockets, fds, memory",
  bench: 'every model under the same load, side by side, with a report',
};

const USAGE = `usage: c10k <verb> [options]
       c10k help <verb>    (or c10k <verb> --help) the verb's options
       c10k --version

${Object.entries(VERBS)
  .map(([verb, what]) => `  ${verb.padEnd(9)}${what}`)
  .join('\n')}

Exit status: 0 done, 1 a runtime failure, 2 a usage error, 130 interrupted.
`;

interface Verb {
  HELP: string;
  run(argv: string[]): Promise<number>;
}

/** Which verb a usage error is about: it names the verb and points at that verb's --help. */
let context = '';

async function verbModule(verb: string): Promise<Verb> {
  if (!Object.hasOwn(VERBS, verb)) throw new UsageError(`unknown verb '${verb}'`);
  try {
    return await import(`../src/cli/${verb}.ts`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND')
      throw new UsageError(`'${verb}' is not available yet`);
    throw error;
  }
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (verb === '-h' || verb === '--help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (verb === '-v' || verb === '--version') {
    process.stdout.write(`c10k ${packageVersion()}\n`);
    return 0;
  }
  if (verb === 'help') {
    if (rest.length === 0) {
      process.stdout.write(USAGE);
      return 0;
    }
    context = ' help';
    if (rest.length > 1) throw new UsageError(`unexpected argument '${rest[1]}' (c10k help VERB)`);
    process.stdout.write((await verbModule(rest[0])).HELP);
    return 0;
  }
  if (verb.startsWith('-')) throw new UsageError(`unknown option '${verb}' before the verb`);
  const module = await verbModule(verb);
  context = ` ${verb}`;
  return module.run(rest);
}

let settled = false;
process.on('exit', (code) => {
  // A verb whose work is still pending when Node runs out of things to do has lost track of something
  // (a verb that exits on purpose, as serve on a second Ctrl-C, passes its own code).
  if (!settled && code === 0) {
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
    if (error instanceof UsageError || error instanceof ServeOptionError) {
      const help = context === ' help' ? '' : context;
      process.stderr.write(`c10k${context}: ${error.message} (see 'c10k${help} --help')\n`);
      process.exitCode = 2;
    } else if (error instanceof ServeError || error instanceof Failure) {
      process.stderr.write(`c10k${context}: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`c10k${context}: ${error?.stack ?? error}\n`);
      process.exitCode = 1;
    }
  },
);
