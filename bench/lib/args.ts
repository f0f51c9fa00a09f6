// Bench scripts' flags: a count that is not a whole number >= 1 is a usage error (exit 2), never NaN rounds.
import { basename } from 'node:path';

/** `text` (the value of --name) as a whole number >= 1, or a one-line usage error and exit 2. */
export function wholeNumber(name: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    const script = basename(process.argv[1] ?? 'bench');
    process.stderr.write(`bench/${script}: --${name} must be a whole number, at least 1 (got ${text})\n`);
    process.exit(2);
  }
  return n;
}
