/**
 * Calibration methods: each turns an observer into the real range [lo, hi] (lo <= 0 <= hi) that 8-bit
 * activations will represent. minmax takes the observed extremes; percentile cuts the histogram's tails
 * (default 99.99%); entropy (KL divergence, as TensorRT) and mse (expected squared quantization error) search
 * clip factors a in (0, 1] applied to both ends of the min/max range and keep the best. Parameters follow
 * real = scale * (q - zeroPoint) with the zero point an integer, so that real 0 is exact (padding, ReLU).
 */
import { EdgecnnError } from '../ir/errors.js';
import { HISTOGRAM_BINS, type TensorObserver } from './observers.js';

export const CALIBRATION_METHODS = ['minmax', 'percentile', 'entropy', 'mse'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

export const ACTIVATION_TYPES = ['uint8', 'int8'] as const;
export type ActivationType = (typeof ACTIVATION_TYPES)[number];

/** A real range to be represented. */
export interface Range {
  lo: number;
  hi: number;
}

/** Per-tensor affine parameters. */
export interface QParams {
  scale: number;
  zeroPoint: number;
  dtype: ActivationType;
}

export interface RangeOptions {
  /** Percentile kept by 'percentile' (default 99.99). */
  percentile?: number;
}

export function parseMethod(s: string): CalibrationMethod {
  if (!(CALIBRATION_METHODS as readonly string[]).includes(s)) {
    throw new EdgecnnError(
      `unknown calibration method '${s}' (expected ${CALIBRATION_METHODS.join(', ')})`,
      'bad-argument',
    );
  }
  return s as CalibrationMethod;
}

/** The calibrated range of an observed tensor. */
export function computeRange(obs: TensorObserver, method: CalibrationMethod, options: RangeOptions = {}): Range {
  if (obs.count === 0 || !Number.isFinite(obs.min) || !Number.isFinite(obs.max)) return { lo: 0, hi: 0 };
  const full = { lo: Math.min(obs.min, 0), hi: Math.max(obs.max, 0) };
  if (method === 'minmax' || obs.halfRange === 0) return full;
  if (method === 'percentile') return percentileRange(obs, options.percentile ?? 99.99, full);
  return searchClip(obs, full, method === 'entropy' ? klCost : mseCost);
}

function percentileRange(obs: TensorObserver, pct: number, full: Range): Range {
  if (!(pct > 50 && pct <= 100)) throw new EdgecnnError(`percentile must be in (50, 100], got ${pct}`, 'bad-argument');
  const tail = (obs.count * (100 - pct)) / 100;
  // Each tail drops at most `tail` values; both bounds stay on the sides of zero where the data is.
  let acc = 0;
  let b = 0;
  while (b < HISTOGRAM_BINS && acc + obs.hist[b]! <= tail) acc += obs.hist[b++]!;
  const lo = Math.max(full.lo, Math.min(0, obs.binEdge(b)));
  acc = 0;
  b = HISTOGRAM_BINS - 1;
  while (b >= 0 && acc + obs.hist[b]! <= tail) acc += obs.hist[b--]!;
  const hi = Math.min(full.hi, Math.max(0, obs.binEdge(b + 1)));
  return { lo, hi };
}

type Cost = (obs: TensorObserver, r: Range) => number;

/** Try clip factors on a grid from 1 down to 0.05 and return the cheapest range. */
function searchClip(obs: TensorObserver, full: Range, cost: Cost): Range {
  let best = full;
  let bestCost = cost(obs, full);
  for (let k = 1; k < 96; k++) {
    const a = 1 - k * 0.01;
    const r = { lo: full.lo * a, hi: full.hi * a };
    const c = cost(obs, r);
    if (c < bestCost) {
      bestCost = c;
      best = r;
    }
  }
  return best;
}

const LEVELS = 256;

/**
 * Expected squared error over the histogram: clipping error outside [lo, hi], rounding error s^2/12 inside,
 * except for exact zeros (they sit in the bin just above zero), which every range represents exactly.
 */
function mseCost(obs: TensorObserver, r: Range): number {
  const s = (r.hi - r.lo) / (LEVELS - 1);
  const w = (2 * obs.halfRange) / HISTOGRAM_BINS;
  let err = 0;
  for (let b = 0; b < HISTOGRAM_BINS; b++) {
    const n = b === HISTOGRAM_BINS / 2 ? Math.max(0, obs.hist[b]! - obs.zeros) : obs.hist[b]!;
    if (n === 0) continue;
    const c = obs.binEdge(b) + w / 2;
    if (c < r.lo) err += n * (c - r.lo) ** 2;
    else if (c > r.hi) err += n * (c - r.hi) ** 2;
    else err += (n * s * s) / 12;
  }
  return err;
}

/**
 * KL(P || Q) as TensorRT computes it: P is the histogram restricted to [lo, hi] with the clipped tails added to
 * the edge bins; Q quantizes the restricted histogram without the tails into 256 levels, each level's mass
 * spread evenly over the non-empty bins it covers. Ranges of fewer bins than levels are not candidates (Q would
 * equal P and every such range would look perfect).
 */
function klCost(obs: TensorObserver, r: Range): number {
  const w = (2 * obs.halfRange) / HISTOGRAM_BINS;
  const first = Math.max(0, Math.floor((r.lo + obs.halfRange) / w));
  const last = Math.min(HISTOGRAM_BINS - 1, Math.ceil((r.hi + obs.halfRange) / w) - 1);
  const L = last - first + 1;
  if (L < LEVELS) return Infinity;
  const p = new Float64Array(L);
  for (let i = 0; i < L; i++) p[i] = obs.hist[first + i]!;
  const q = new Float64Array(L);
  for (let j = 0; j < LEVELS; j++) {
    const a = Math.floor((j * L) / LEVELS);
    const e = Math.floor(((j + 1) * L) / LEVELS);
    let mass = 0;
    let nonEmpty = 0;
    for (let i = a; i < e; i++) {
      mass += p[i]!;
      if (p[i]! > 0) nonEmpty++;
    }
    for (let i = a; i < e; i++) if (p[i]! > 0) q[i] = mass / nonEmpty;
  }
  let below = 0;
  let above = 0;
  for (let b = 0; b < first; b++) below += obs.hist[b]!;
  for (let b = last + 1; b < HISTOGRAM_BINS; b++) above += obs.hist[b]!;
  p[0]! += below;
  p[L - 1]! += above;
  let pt = 0;
  let qt = 0;
  for (let i = 0; i < L; i++) {
    pt += p[i]!;
    qt += q[i]!;
  }
  if (pt === 0 || qt === 0) return 0;
  let kl = 0;
  for (let i = 0; i < L; i++) {
    if (p[i]! === 0) continue;
    // An edge bin that held only clipped values has q = 0: smooth it so that clipping costs, not breaks.
    const qi = Math.max(q[i]! / qt, 1e-12);
    kl += (p[i]! / pt) * Math.log(p[i]! / pt / qi);
  }
  return kl;
}

/**
 * Affine parameters for a range: scale = (hi - lo) / 255 and an integer zero point, so that real 0 maps exactly
 * to an integer. A degenerate range (all zeros) gets scale 1 so that nothing divides by zero.
 */
export function qparamsFor(r: Range, dtype: ActivationType): QParams {
  const [qmin, qmax] = dtype === 'uint8' ? [0, 255] : [-128, 127];
  const lo = Math.min(r.lo, 0);
  const hi = Math.max(r.hi, 0);
  if (hi - lo <= 0 || !Number.isFinite(hi - lo)) return { scale: 1, zeroPoint: 0, dtype };
  const scale = Math.fround((hi - lo) / (qmax - qmin));
  const zp = Math.round(qmin - lo / scale);
  return { scale, zeroPoint: Math.min(qmax, Math.max(qmin, zp)), dtype };
}

/** Symmetric int8 weight scales per channel: max |w| / 127 (a zero channel gets scale 1). */
export function symmetricScale(lo: number, hi: number): number {
  const a = Math.max(Math.abs(lo), Math.abs(hi));
  return a > 0 ? Math.fround(a / 127) : 1;
}
