// The codec fuzzer at test size: ~2,000 inputs per codec, fixed seeds (bench/fuzz-codecs.ts runs more).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuzz, TARGETS } from '../../bench/fuzz-lib.ts';
import { sameMessages } from './helpers.ts';

const N = Number(process.env.C10K_FUZZ_INPUTS ?? 2000);

for (const target of TARGETS) {
  test(`fuzz ${target.name}: only ProtocolError, bounded buffering, split-independent decoding`, (t) => {
    const counts = fuzz(target, 0xc10c + target.name.length, N, sameMessages);
    t.diagnostic(JSON.stringify(counts));
    assert.equal(counts.inputs, N);
    assert.ok(counts.protocolErrors > 0 && counts.clean > 0, 'the mix exercises both outcomes');
  });
}
