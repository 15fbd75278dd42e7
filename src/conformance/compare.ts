/**
 * Output comparison with the ONNX backend runner's rule: |actual - expected| <= atol + rtol * |expected|
 * elementwise (numpy.testing.assert_allclose), NaN matching NaN, integers and booleans compared exactly.
 */
import type { Tensor } from '../ir/tensor.js';

export interface Tolerance {
  rtol: number;
  atol: number;
}

export const ONNX_TOLERANCE: Tolerance = { rtol: 1e-3, atol: 1e-7 };

export interface Mismatch {
  reason: string;
}

/** Describe why `actual` does not match `expected`, or return undefined when it does. */
export function compareTensors(actual: Tensor, expected: Tensor, tol: Tolerance): string | undefined {
  if (actual.dtype !== expected.dtype) return `dtype ${actual.dtype}, expected ${expected.dtype}`;
  const sa = actual.shape.join('x');
  const se = expected.shape.join('x');
  if (sa !== se) return `shape [${sa}], expected [${se}]`;
  const a = actual.data;
  const e = expected.data;
  let bad = 0;
  let first = -1;
  let worst = 0;
  for (let i = 0; i < e.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (typeof x === 'string' || typeof y === 'string' || typeof x === 'bigint' || typeof y === 'bigint') {
      if (x !== y) {
        bad++;
        if (first < 0) first = i;
      }
      continue;
    }
    if (Number.isNaN(y)) {
      if (!Number.isNaN(x)) {
        bad++;
        if (first < 0) first = i;
      }
      continue;
    }
    if (x === y) continue; // also equal infinities
    const d = Math.abs(x - y);
    if (!(d <= tol.atol + tol.rtol * Math.abs(y))) {
      bad++;
      if (first < 0) first = i;
      worst = Math.max(worst, d);
    }
  }
  if (bad === 0) return undefined;
  return `${bad} of ${e.length} elements differ (first at ${first}: ${String(a[first])} vs ${String(e[first])}; max abs diff ${worst.toPrecision(3)})`;
}

/** Agreement statistics used by `edgecnn check`. */
export interface Agreement {
  maxAbsError: number;
  maxRelError: number;
  /** max abs error divided by the largest |expected| */
  relToMax: number;
  cosine: number;
  nonFinite: number;
}

export function agreement(actual: ArrayLike<number>, expected: ArrayLike<number>): Agreement {
  let maxAbs = 0;
  let maxRel = 0;
  let maxMag = 0;
  let dot = 0;
  let na = 0;
  let ne = 0;
  let nonFinite = 0;
  for (let i = 0; i < expected.length; i++) {
    const x = actual[i]!;
    const y = expected[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if (!(Number.isNaN(x) && Number.isNaN(y)) && x !== y) nonFinite++;
      continue;
    }
    const d = Math.abs(x - y);
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(y), 1e-12));
    maxMag = Math.max(maxMag, Math.abs(y));
    dot += x * y;
    na += x * x;
    ne += y * y;
  }
  const cosine = na === 0 && ne === 0 ? 1 : dot / Math.sqrt(na * ne);
  return {
    maxAbsError: maxAbs,
    maxRelError: maxRel,
    relToMax: maxMag === 0 ? maxAbs : maxAbs / maxMag,
    cosine,
    nonFinite,
  };
}
