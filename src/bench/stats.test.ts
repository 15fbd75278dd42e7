import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bootstrapMedianRatio,
  detectRegression,
  histogram,
  mad,
  mannWhitneyGreater,
  median,
  normalCdf,
  quantile,
  stddev,
  summarize,
} from './stats.js';
import { seededRandom } from '../ir/builder.js';

/** Synthetic latencies shaped like real ones: log-normal jitter plus rare 1.5x spikes (preemption). */
function latencies(n: number, medianMs: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    const spike = rnd() < 0.05 ? 1.5 : 1;
    out.push(medianMs * Math.exp(0.04 * z) * spike);
  }
  return out;
}

test('quantiles interpolate between order statistics', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9), 10);
  assert.equal(quantile([0, 10], 0.25), 2.5);
  const s = summarize([5, 1, 4, 2, 3]);
  assert.equal(s.minMs, 1);
  assert.equal(s.maxMs, 5);
  assert.equal(s.medianMs, 3);
  assert.equal(s.meanMs, 3);
  assert.ok(Math.abs(s.stddevMs - Math.sqrt(2.5)) < 1e-12);
  assert.equal(s.madMs, 1);
  assert.equal(mad([1, 1, 2, 2, 4, 6, 9]), 1);
  assert.equal(stddev([7]), 0);
});

test('bad samples are refused, not summarized into NaN', () => {
  assert.throws(() => summarize([]), /no samples/);
  assert.throws(() => median([1, NaN]), /non-finite/);
});

test('normal CDF matches known values', () => {
  assert.ok(Math.abs(normalCdf(0) - 0.5) < 1e-7);
  assert.ok(Math.abs(normalCdf(1.959964) - 0.975) < 1e-6);
  assert.ok(Math.abs(normalCdf(-2.326348) - 0.01) < 1e-6);
});

test('Mann-Whitney U counts pairs and handles ties', () => {
  // Every a exceeds every b: U = n1 * n2.
  const r = mannWhitneyGreater([10, 11, 12, 13, 14, 15, 16, 17], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(r.u, 64);
  assert.ok(r.pValue < 0.001);
  const tied = mannWhitneyGreater([1, 1, 1, 1], [1, 1, 1, 1]);
  assert.equal(tied.u, 8);
  assert.equal(tied.pValue, 1);
  const reversed = mannWhitneyGreater([1, 2, 3, 4, 5, 6, 7, 8], [10, 11, 12, 13, 14, 15, 16, 17]);
  assert.equal(reversed.u, 0);
  assert.ok(reversed.pValue > 0.999);
});

test('bootstrap CI of the median ratio brackets the true ratio', () => {
  const a = latencies(60, 12, 1);
  const b = latencies(60, 10, 2);
  const ci = bootstrapMedianRatio(a, b, { seed: 7 });
  assert.ok(ci.lo < 1.2 && 1.2 < ci.hi, `[${ci.lo}, ${ci.hi}]`);
  assert.ok(ci.lo > 1.1, 'a 20% difference on 60 samples of 4% jitter is resolved');
  // Deterministic for a given seed.
  assert.deepEqual(bootstrapMedianRatio(a, b, { seed: 7 }), ci);
});

test('gate: the same distribution passes repeatedly', () => {
  let failures = 0;
  for (let trial = 0; trial < 100; trial++) {
    const base = latencies(30, 10, 1000 + trial);
    const cur = latencies(30, 10, 5000 + trial);
    if (detectRegression(cur, base, { threshold: 0.05 }).regressed) failures++;
  }
  assert.equal(failures, 0);
});

test('gate: a 20% slowdown fails every time', () => {
  for (let trial = 0; trial < 100; trial++) {
    const base = latencies(30, 10, 1000 + trial);
    const cur = latencies(30, 12, 5000 + trial);
    const v = detectRegression(cur, base, { threshold: 0.05 });
    assert.ok(v.regressed, `trial ${trial}: ratio ${v.ratio.toFixed(3)} p ${v.pValue}`);
    assert.equal(v.test, 'mann-whitney-u-one-sided');
  }
});

test('gate: a slowdown below the threshold passes even when significant', () => {
  const base = latencies(200, 10, 3);
  const cur = latencies(200, 10.3, 4);
  const v = detectRegression(cur, base, { threshold: 0.05 });
  assert.ok(v.ratio > 1.0);
  assert.equal(v.regressed, false);
});

test('gate: a large median shift on too few or too noisy samples is not called significant', () => {
  // One slow outlier pair drags nothing: U test on 8 vs 8 with overlap.
  const base = [10, 14, 9, 15, 10, 13, 9, 16];
  const cur = [11, 15, 10, 16, 12, 14, 9, 17];
  const v = detectRegression(cur, base, { threshold: 0.05 });
  assert.equal(v.regressed, false, `p=${v.pValue}`);
});

test('histogram counts every sample once', () => {
  const xs = latencies(500, 10, 9);
  const h = histogram(xs, 20);
  assert.equal(h.counts.length, 20);
  assert.equal(h.edges.length, 21);
  assert.equal(
    h.counts.reduce((a, b) => a + b, 0),
    500,
  );
  assert.equal(histogram([5, 5, 5], 4).counts[0], 3);
});
