// histogram.ts — an HDR-style log-linear histogram of integer microseconds.
//
// Why it is shaped this way: the load generator records one latency per echoed message (millions per
// second), so record() must be O(1) with no allocation: one Math.clz32, a shift and an array increment.
// Values below 128 get exact buckets; above, every power of two is split into 64 linear sub-buckets, so
// a bucket's width is at most 1/64 of its value (~2 significant digits, like HdrHistogram with 2 digits).
// Counts live in a Float64Array (exact to 2^53). Several processes each fill their own histogram and
// send toJSON() (sparse [index, count] pairs) to the parent, which merges them exactly: percentiles of
// the merge are the percentiles of all values, not an average of per-process percentiles.

const SUB_BITS = 7; // 128 exact buckets, then 64 per power of two
const SUB = 1 << SUB_BITS;
const HALF = SUB >> 1;
/** Largest recordable value (about 71 minutes in microseconds); larger values are clamped to it. */
export const MAX_VALUE = 0xffffffff;
const BUCKETS = SUB + (32 - SUB_BITS) * HALF;

function indexOf(v: number): number {
  if (v < SUB) return v;
  const shift = 32 - Math.clz32(v) - SUB_BITS; // >= 1; (v >>> shift) is in [64, 128)
  return SUB + (shift - 1) * HALF + ((v >>> shift) - HALF);
}

/** Smallest value that lands in bucket i. */
function lowestOf(i: number): number {
  if (i < SUB) return i;
  const shift = ((i - SUB) >> (SUB_BITS - 1)) + 1;
  return (((i - SUB) % HALF) + HALF) * 2 ** shift;
}

/** Largest value that lands in bucket i. */
function highestOf(i: number): number {
  if (i < SUB) return i;
  const shift = ((i - SUB) >> (SUB_BITS - 1)) + 1;
  return lowestOf(i) + 2 ** shift - 1;
}

export interface HistogramJSON {
  count: number;
  min: number;
  max: number;
  sum: number;
  /** Flattened [bucketIndex, count, bucketIndex, count, ...] for the non-empty buckets. */
  buckets: number[];
}

export interface HistogramSummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  min = Infinity;
  max = 0;
  sum = 0;

  /** Records one value in microseconds (negatives count as 0, fractions are truncated). */
  record(value: number): void {
    // NaN and negatives fail `value > 0` and count as 0
    const v = value > 0 ? (value > MAX_VALUE ? MAX_VALUE : value >>> 0) : 0;
    this.counts[indexOf(v)]++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** Records `value` n times. */
  recordMany(value: number, n: number): void {
    if (n <= 0) return;
    const v = value > 0 ? (value > MAX_VALUE ? MAX_VALUE : value >>> 0) : 0;
    this.counts[indexOf(v)] += n;
    this.count += n;
    this.sum += v * n;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /**
   * The value at percentile p (0..100): the highest value equivalent to the bucket holding the
   * ceil(p% * count)-th smallest value, capped at the true max (so p100 is exact). 0 when empty.
   */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    if (p >= 100) return this.max;
    const target = Math.max(1, Math.ceil((p / 100) * this.count));
    let acc = 0;
    const counts = this.counts;
    for (let i = 0; i < BUCKETS; i++) {
      acc += counts[i];
      if (acc >= target) return Math.max(this.min, Math.min(highestOf(i), this.max));
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** Adds every value of `other` to this histogram (exact: same bucket layout). */
  merge(other: Histogram): this {
    const a = this.counts;
    const b = other.counts;
    for (let i = 0; i < BUCKETS; i++) if (b[i] !== 0) a[i] += b[i];
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    return this;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.min = Infinity;
    this.max = 0;
    this.sum = 0;
  }

  summary(): HistogramSummary {
    return {
      count: this.count,
      min: this.count === 0 ? 0 : this.min,
      mean: Math.round(this.mean * 10) / 10,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.max,
    };
  }

  toJSON(): HistogramJSON {
    const buckets: number[] = [];
    const counts = this.counts;
    for (let i = 0; i < BUCKETS; i++) if (counts[i] !== 0) buckets.push(i, counts[i]);
    return { count: this.count, min: this.count === 0 ? 0 : this.min, max: this.max, sum: this.sum, buckets };
  }

  static fromJSON(json: HistogramJSON): Histogram {
    const h = new Histogram();
    const b = json.buckets;
    if (b.length % 2 !== 0) throw new TypeError('histogram JSON: buckets must hold [index, count] pairs');
    for (let k = 0; k < b.length; k += 2) {
      const i = b[k];
      if (!Number.isInteger(i) || i < 0 || i >= BUCKETS)
        throw new TypeError(`histogram JSON: bad bucket ${i}`);
      h.counts[i] += b[k + 1];
    }
    h.count = json.count;
    h.min = json.count === 0 ? Infinity : json.min;
    h.max = json.max;
    h.sum = json.sum;
    return h;
  }

  /** The bucket range [lowest, highest] that `value` falls in (for tests and reports). */
  static bucketRange(value: number): [number, number] {
    const i = indexOf(value > MAX_VALUE ? MAX_VALUE : value >>> 0);
    return [lowestOf(i), highestOf(i)];
  }
}
