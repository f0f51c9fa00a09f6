// Fuzz every codec at volume: `node bench/fuzz-codecs.ts [inputs-per-codec=100000] [seed]`. Prints inputs/s
// and outcome counts per codec; exits non-zero on the first property violation (with the failing input).
import { fuzz, sameMessages, TARGETS } from './fuzz-lib.ts';

const n = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? Date.now() % 1_000_000);
console.log(`fuzzing ${TARGETS.length} codecs, ${n} inputs each, seed ${seed}`);
const rows = [];
for (const target of TARGETS) {
  const started = process.hrtime.bigint();
  const counts = fuzz(target, seed, n, sameMessages);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  rows.push({
    codec: target.name,
    'inputs/s': Math.round(counts.inputs / seconds),
    inputs: counts.inputs,
    clean: counts.clean,
    'protocol errors': counts.protocolErrors,
    messages: counts.messages,
    seconds: Number(seconds.toFixed(2)),
  });
}
console.table(rows);
console.log('no property violations');
