// Shared command-line plumbing, the one place that words a usage error. Every verb parses here and
// reports a bad argument by throwing UsageError; bin/c10k.ts prints it as one line,
// "c10k VERB: what is wrong (see 'c10k VERB --help')", and exits 2. Value errors share one shape,
// "--NAME needs WHAT, got 'VALUE'", so the same mistake reads the same in every verb.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { type ParseArgsConfig, parseArgs } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A runtime failure worded for the person at the command line: one line, exit 1. */
export class Failure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Failure';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
export type Values<O extends Options> = {
  [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : string;
};

/** A value given as its own argument may start with '-' only as a negative number (`--port -1`). */
const NEGATIVE_NUMBER = /^-\d/;

/**
 * Parses argv against `options`. parseArgs' own strict-mode messages span several lines and advise
 * programmers (`--port -1` is "ambiguous"); instead the tokens are checked here, each mistake worded once.
 */
export function parse<O extends Options>(
  argv: string[],
  options: O,
  allowPositionals = false,
): { values: Values<O>; positionals: string[] } {
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      if (!allowPositionals) throw new UsageError(`unexpected argument '${t.value}'`);
      positionals.push(t.value);
      continue;
    }
    const spec = Object.hasOwn(options, t.name) ? options[t.name] : undefined;
    if (spec === undefined) throw new UsageError(`unknown option '${t.rawName}'`);
    const flag = `--${t.name}`;
    if (spec.type === 'boolean') {
      if (t.value !== undefined) throw new UsageError(`${flag} takes no value, got '${t.value}'`);
      values[t.name] = true;
      continue;
    }
    if (t.value === undefined) throw new UsageError(`${flag} needs a value`);
    if (!t.inlineValue && t.value.startsWith('-') && !NEGATIVE_NUMBER.test(t.value)) {
      throw new UsageError(`${flag} needs a value, got option '${t.value}'`);
    }
    values[t.name] = t.value;
  }
  return { values: values as Values<O>, positionals };
}

/** The one wording of a bad value. */
export function badValue(name: string, what: string, value: string): UsageError {
  return new UsageError(`--${name} needs ${what}, got '${value}'`);
}

export function required<T>(name: string, value: T | undefined, example: string): T {
  if (value === undefined) throw new UsageError(`--${name} is required (e.g. --${name} ${example})`);
  return value;
}

export function integer(
  name: string,
  value: string | undefined,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw badValue(name, `a whole number ${range}`, value);
  }
  return n;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250ms", "10s", "2m", "1h"; a bare number is seconds (as wrk). Returns milliseconds. */
export function duration(
  name: string,
  value: string | undefined,
  minMs = 0,
  maxMs = 24 * 3_600_000,
): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value);
  const ms = m ? Math.round(Number(m[1]) * UNITS[m[2] ?? 's']) : Number.NaN;
  if (!(ms >= minMs && ms <= maxMs)) {
    const floor = minMs > 0 ? `, at least ${minMs}ms` : '';
    throw badValue(name, `a duration like 500ms, 10s or 2m${floor}`, value);
  }
  return ms;
}

const SIZES: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1 << 20, mb: 1 << 20 };

/** "64", "16k", "1m" bytes. */
export function bytes(
  name: string,
  value: string | undefined,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)([a-z]*)$/i.exec(value);
  const unit = m ? SIZES[m[2].toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Number(m[1]) * unit : Number.NaN;
  if (!(n >= min && n <= max)) {
    const range =
      max === Number.MAX_SAFE_INTEGER ? (min > 0 ? ` of at least ${min}` : '') : ` from ${min} to ${max}`;
    throw badValue(name, `a size${range} like 512, 64k or 1m`, value);
  }
  return n;
}

export function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw badValue(name, `one of ${allowed.join(', ')}`, value);
  return value as T;
}

/** An address, or a name resolved to its first address (as node:net does) so that every backend and
 * engine, which bind and connect addresses, takes names too. */
export async function hostAddress(name: string, value: string): Promise<string> {
  if (isIP(value) !== 0) return value;
  try {
    return (await lookup(value)).address;
  } catch {
    throw badValue(name, 'an address or a name that resolves', value);
  }
}
