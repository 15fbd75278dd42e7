/**
 * Latency statistics over per-run samples (milliseconds). Quantiles use linear interpolation between order
 * statistics (type 7, as numpy's default), so p50 of an even-sized sample is the mean of the middle two.
 * The regression gate uses a one-sided Mann-Whitney U test (normal approximation with tie and continuity
 * correction) of "current is slower than baseline scaled by (1 + threshold)"; the bootstrap CI of the median
 * ratio uses a seeded PRNG so that the same samples always give the same interval.
 */
import { seededRandom } from '../ir/builder.js';

/** Summary of one configuration's samples. All times in milliseconds. */
export interface LatencySummary {
  n: number;
  medianMs: number;
  p90Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
  stddevMs: number;
  /** Median absolute deviation from the median (unscaled). */
  madMs: number;
}

function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

function requireSamples(xs: readonly number[], what: string): void {
  if (xs.length === 0) throw new Error(`${what}: no samples`);
  for (const x of xs) if (!Number.isFinite(x)) throw new Error(`${what}: non-finite sample ${x}`);
}

/** Quantile q in [0, 1] of an already sorted array (linear interpolation). */
export function quantileSorted(s: readonly number[], q: number): number {
  if (s.length === 0) throw new Error('quantile of an empty sample');
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** Quantile q in [0, 1] of a sample. */
export function quantile(xs: readonly number[], q: number): number {
  requireSamples(xs, 'quantile');
  return quantileSorted(sorted(xs), q);
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

export function mean(xs: readonly number[]): number {
  requireSamples(xs, 'mean');
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n - 1 denominator; 0 for a single sample). */
export function stddev(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

/** Median absolute deviation from the median. */
export function mad(xs: readonly number[]): number {
  const m = median(xs);
  return median(xs.map((x) => Math.abs(x - m)));
}

export function summarize(xs: readonly number[]): LatencySummary {
  requireSamples(xs, 'summarize');
  const s = sorted(xs);
  return {
    n: s.length,
    medianMs: quantileSorted(s, 0.5),
    p90Ms: quantileSorted(s, 0.9),
    p99Ms: quantileSorted(s, 0.99),
    minMs: s[0]!,
    maxMs: s[s.length - 1]!,
    meanMs: mean(s),
    stddevMs: stddev(s),
    madMs: mad(s),
  };
}

function resampleMedian(xs: readonly number[], rnd: () => number, buf: number[]): number {
  for (let i = 0; i < xs.length; i++) buf[i] = xs[Math.floor(rnd() * xs.length)]!;
  buf.sort((a, b) => a - b);
  return quantileSorted(buf, 0.5);
}

export interface RatioInterval {
  /** median(a) / median(b) on the observed samples. */
  ratio: number;
  lo: number;
  hi: number;
  /** Two-sided confidence level of [lo, hi], e.g. 0.95. */
  confidence: number;
}

/**
 * Percentile-bootstrap confidence interval of median(a) / median(b): both samples are resampled
 * independently `iterations` times.
 */
export function bootstrapMedianRatio(
  a: readonly number[],
  b: readonly number[],
  opts: { confidence?: number; iterations?: number; seed?: number } = {},
): RatioInterval {
  requireSamples(a, 'bootstrap (a)');
  requireSamples(b, 'bootstrap (b)');
  const confidence = opts.confidence ?? 0.95;
  const iterations = opts.iterations ?? 2000;
  const rnd = seededRandom(opts.seed ?? 12345);
  const bufA = new Array<number>(a.length);
  const bufB = new Array<number>(b.length);
  const ratios = new Array<number>(iterations);
  for (let i = 0; i < iterations; i++) ratios[i] = resampleMedian(a, rnd, bufA) / resampleMedian(b, rnd, bufB);
  ratios.sort((x, y) => x - y);
  const tail = (1 - confidence) / 2;
  return {
    ratio: median(a) / median(b),
    lo: quantileSorted(ratios, tail),
    hi: quantileSorted(ratios, 1 - tail),
    confidence,
  };
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, error below 1.5e-7: ample for p-values). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

export interface MannWhitneyResult {
  /** U statistic of sample `a` (number of pairs with a > b, ties counting one half). */
  u: number;
  /** z score of U under H0 (normal approximation, tie- and continuity-corrected). */
  z: number;
  /** One-sided p-value of H1 "a tends to be larger than b". */
  pValue: number;
}

/**
 * One-sided Mann-Whitney U test of H1: values of `a` tend to be larger than values of `b`.
 * Uses the normal approximation, which is adequate from about 8 samples per side; callers should
 * not gate on fewer.
 */
export function mannWhitneyGreater(a: readonly number[], b: readonly number[]): MannWhitneyResult {
  requireSamples(a, 'Mann-Whitney (a)');
  requireSamples(b, 'Mann-Whitney (b)');
  const n1 = a.length;
  const n2 = b.length;
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const n = all.length;
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j) / 2 + 1;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    for (let k = i; k <= j; k++) if (all[k]!.g === 0) rankSumA += rank;
    i = j + 1;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const mu = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, z: 0, pValue: u > mu ? 0 : 1 };
  const z = (u - mu - 0.5) / Math.sqrt(variance);
  return { u, z, pValue: 1 - normalCdf(z) };
}

/** The outcome of comparing current samples against a baseline's for one configuration. */
export interface RegressionVerdict {
  /** median(current) / median(baseline). */
  ratio: number;
  interval: RatioInterval;
  /** One-sided Mann-Whitney p-value of "current is slower than baseline x (1 + threshold)". */
  pValue: number;
  confidence: number;
  threshold: number;
  /** True only when the median slowdown exceeds the threshold AND the test rejects at `confidence`. */
  regressed: boolean;
  test: 'mann-whitney-u-one-sided';
}

/**
 * Decide whether `current` regressed against `baseline` by more than `threshold` (0.05 = 5%).
 * The test compares current against the baseline samples multiplied by (1 + threshold), so it asks the
 * question the gate needs: "is the slowdown significantly larger than what we tolerate", not merely
 * "is there any difference". Same-distribution samples therefore pass with probability >= confidence.
 */
export function detectRegression(
  current: readonly number[],
  baseline: readonly number[],
  opts: { threshold: number; confidence?: number; seed?: number },
): RegressionVerdict {
  const confidence = opts.confidence ?? 0.99;
  const scaled = baseline.map((x) => x * (1 + opts.threshold));
  const mw = mannWhitneyGreater(current, scaled);
  const interval = bootstrapMedianRatio(current, baseline, { confidence: 0.95, seed: opts.seed });
  const ratio = interval.ratio;
  return {
    ratio,
    interval,
    pValue: mw.pValue,
    confidence,
    threshold: opts.threshold,
    regressed: ratio > 1 + opts.threshold && mw.pValue < 1 - confidence,
    test: 'mann-whitney-u-one-sided',
  };
}

/** Equal-width histogram of a sample: `bins` bins spanning [min, max]. */
export function histogram(xs: readonly number[], bins = 30): { edges: number[]; counts: number[] } {
  requireSamples(xs, 'histogram');
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of xs) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (hi === lo) hi = lo + Math.max(1e-9, Math.abs(lo) * 1e-6);
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const x of xs) counts[Math.min(bins - 1, Math.floor((x - lo) / width))]!++;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + i * width);
  return { edges, counts };
}
