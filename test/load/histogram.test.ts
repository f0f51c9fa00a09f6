// The histogram against known distributions (percentiles within one bucket, ~1.6%), exact merging and
// a lossless JSON round trip: what lets several load processes report one set of percentiles.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram } from '../../src/load/histogram.ts';

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function exactPercentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

function assertClose(actual: number, expected: number, what: string) {
  const tolerance = Math.max(1, expected / 64);
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected} (±${tolerance})`);
}

describe('Histogram', () => {
  it('is exact below 128', () => {
    const h = new Histogram();
    for (let v = 0; v < 100; v++) h.record(v);
    assert.equal(h.percentile(50), 49);
    assert.equal(h.percentile(99), 98);
    assert.equal(h.percentile(100), 99);
    assert.equal(h.min, 0);
    assert.equal(h.count, 100);
    assert.equal(h.mean, 49.5);
  });

  it('uniform 1..100,000: percentiles within one bucket', () => {
    const h = new Histogram();
    for (let v = 1; v <= 100_000; v++) h.record(v);
    for (const p of [50, 90, 99, 99.9]) assertClose(h.percentile(p), (p / 100) * 100_000, `p${p}`);
    assert.equal(h.percentile(100), 100_000);
    assert.equal(h.max, 100_000);
  });

  it('exponential and log-normal samples match sorted-array percentiles', () => {
    const r = rng(42);
    for (const sample of [() => -Math.log(1 - r()) * 2000, () => Math.exp(6 + 2 * (r() + r() + r() - 1.5))]) {
      const h = new Histogram();
      const values: number[] = [];
      for (let i = 0; i < 50_000; i++) {
        const v = Math.floor(sample());
        values.push(v);
        h.record(v);
      }
      values.sort((a, b) => a - b);
      for (const p of [50, 90, 99, 99.9]) assertClose(h.percentile(p), exactPercentile(values, p), `p${p}`);
      assert.equal(h.percentile(100), values[values.length - 1]);
    }
  });

  it('buckets are at most 1/64 of their value wide', () => {
    for (const v of [127, 128, 1000, 65_535, 1_000_000, 2 ** 31, 2 ** 32 - 1]) {
      const [lo, hi] = Histogram.bucketRange(v);
      assert.ok(lo <= v && v <= hi, `${v} in [${lo}, ${hi}]`);
      assert.ok(hi - lo + 1 <= Math.max(1, lo / 64), `bucket of ${v} is ${hi - lo + 1} wide`);
    }
  });

  it('clamps huge values and counts negatives as 0', () => {
    const h = new Histogram();
    h.record(1e12);
    h.record(-5);
    assert.equal(h.max, 2 ** 32 - 1);
    assert.equal(h.min, 0);
  });

  it('merging equals recording every value in one histogram', () => {
    const r = rng(7);
    const all = new Histogram();
    const parts = [new Histogram(), new Histogram(), new Histogram()];
    for (let i = 0; i < 30_000; i++) {
      const v = Math.floor(r() * r() * 5_000_000);
      all.record(v);
      parts[i % 3].record(v);
    }
    const merged = new Histogram();
    for (const p of parts) merged.merge(p);
    assert.deepEqual(merged.toJSON(), all.toJSON());
    for (const p of [50, 90, 99, 99.9, 100]) assert.equal(merged.percentile(p), all.percentile(p));
  });

  it('survives a JSON round trip', () => {
    const r = rng(99);
    const h = new Histogram();
    for (let i = 0; i < 10_000; i++) h.record(Math.floor(r() * 1e6));
    const back = Histogram.fromJSON(JSON.parse(JSON.stringify(h)));
    assert.deepEqual(back.toJSON(), h.toJSON());
    assert.deepEqual(back.summary(), h.summary());
    const empty = Histogram.fromJSON(JSON.parse(JSON.stringify(new Histogram())));
    assert.equal(empty.count, 0);
    assert.equal(empty.percentile(50), 0);
    empty.record(5);
    assert.equal(empty.min, 5);
  });
});
