import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../ir/builder.js';
import { makeTensor } from '../ir/tensor.js';
import { HISTOGRAM_BINS, TensorObserver, perChannelMinMax } from './observers.js';
import { computeRange, qparamsFor, symmetricScale } from './ranges.js';

function observe(values: number[][]): TensorObserver {
  const o = new TensorObserver();
  for (const v of values) o.observe(makeTensor('float32', [v.length], Float32Array.from(v)));
  return o;
}

test('histogram growth merges bins exactly: same as binning at the final range', () => {
  const r = seededRandom(3);
  const batches = [0.5, 1, 3, 7].map((s) => Array.from({ length: 500 }, () => (r() * 2 - 1) * s));
  const grown = observe(batches);
  const R = grown.halfRange;
  const direct = new Float64Array(HISTOGRAM_BINS);
  for (const v of batches.flat())
    direct[Math.min(HISTOGRAM_BINS - 1, Math.floor(((Math.fround(v) + R) * HISTOGRAM_BINS) / (2 * R)))]! += 1;
  assert.equal(grown.count, 2000);
  assert.deepEqual([...grown.hist], [...direct]);
  assert.ok(R >= 7 * 0.9 && R < 7 * 2 * 1.01);
});

test('minmax keeps zero inside; qparams map real 0 to an integer exactly', () => {
  const o = observe([[0.5, 2, 3.5]]);
  assert.deepEqual(computeRange(o, 'minmax'), { lo: 0, hi: 3.5 });
  const p = qparamsFor({ lo: -1.3, hi: 2.9 }, 'uint8');
  assert.ok(Number.isInteger(p.zeroPoint) && p.zeroPoint > 0 && p.zeroPoint < 255);
  assert.ok(Math.abs(p.scale * (0 - p.zeroPoint) + 1.3) < p.scale, 'lo is represented within one step');
  const s = qparamsFor({ lo: -2, hi: 2 }, 'int8');
  assert.ok(s.zeroPoint >= -1 && s.zeroPoint <= 0);
  assert.deepEqual(qparamsFor({ lo: 0, hi: 0 }, 'uint8'), { scale: 1, zeroPoint: 0, dtype: 'uint8' });
  assert.equal(symmetricScale(-0.5, 0.25), Math.fround(0.5 / 127));
});

test('percentile and entropy clip rare outliers that minmax keeps', () => {
  const r = seededRandom(9);
  const bulk = Array.from({ length: 20000 }, () => (r() + r() + r() - 1.5) * 2);
  const o = observe([bulk, [40, -35]]);
  const mm = computeRange(o, 'minmax');
  assert.deepEqual([mm.lo, mm.hi], [-35, 40]);
  for (const m of ['percentile', 'entropy'] as const) {
    const g = computeRange(o, m);
    assert.ok(g.hi < 20 && g.hi >= 2 && g.lo > -20 && g.lo <= -2, `${m}: [${g.lo}, ${g.hi}]`);
  }
});

test('mse clips a long Laplace tail but keeps (nearly) the full range of uniform data', () => {
  const rl = seededRandom(5);
  const lap = Array.from({ length: 50000 }, () => {
    const u = rl() - 0.5;
    return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u) + 1e-12);
  });
  const ol = observe([lap]);
  const c = computeRange(ol, 'mse');
  // ACIQ (Banner et al.) puts the 8-bit MSE optimum for Laplace(b = 1) near +-9.9: clipped, but not far.
  assert.ok(
    c.hi < 0.95 * ol.max && c.lo > 0.95 * ol.min && c.hi > 7 && c.lo < -7,
    `laplace: [${c.lo}, ${c.hi}] of [${ol.min}, ${ol.max}]`,
  );
  const r = seededRandom(4);
  const o = observe([Array.from({ length: 20000 }, () => r() * 4 - 2)]);
  const g = computeRange(o, 'mse');
  assert.ok(g.hi > 1.8 && g.lo < -1.8, `[${g.lo}, ${g.hi}]`);
});

test('per-channel min/max along axis 0', () => {
  const t = makeTensor('float32', [2, 3], Float32Array.from([1, -2, 3, -4, 5, 0]));
  const { min, max } = perChannelMinMax(t, 0);
  assert.deepEqual([...min, ...max], [-2, -4, 3, 5]);
});

test('per-channel means feed bias correction', () => {
  const o = new TensorObserver(true);
  o.observe(makeTensor('float32', [2, 2, 1, 2], Float32Array.from([1, 3, 10, 10, 3, 5, 0, 0])));
  assert.deepEqual([...o.channelMeans()!], [3, 5]);
});

test('mse: exact zeros cost no rounding, so a mostly-zero ReLU output is clipped less (lower real error)', () => {
  const r = seededRandom(21);
  const values: number[] = [];
  for (let i = 0; i < 20000; i++) {
    // Box-Muller; 90% of a ReLU output at zero, the rest half-normal.
    const g = Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
    values.push(i % 10 === 0 ? Math.abs(g) : 0);
  }
  const o = observe([values]);
  assert.equal(o.zeros, 18000);
  const realError = (range: { lo: number; hi: number }): number => {
    const p = qparamsFor(range, 'uint8');
    let e = 0;
    for (const v of values) {
      const q = Math.min(255, Math.max(0, Math.round(Math.fround(v) / p.scale) + p.zeroPoint));
      e += (p.scale * (q - p.zeroPoint) - Math.fround(v)) ** 2;
    }
    return e;
  };
  let best = Infinity;
  for (let k = 0; k < 96; k++) best = Math.min(best, realError({ lo: 0, hi: o.max * (1 - k * 0.01) }));
  const chosen = realError(computeRange(o, 'mse'));
  assert.ok(chosen <= best * 1.1, `mse range error ${chosen} vs best clip ${best}`);
  // The same histogram with its zeros counted as ordinary values (rounding error s^2/12 each) clips harder.
  o.zeros = 0;
  const counted = realError(computeRange(o, 'mse'));
  assert.ok(counted > chosen * 1.2, `zeros counted: ${counted}, zeros exact: ${chosen}`);
});
