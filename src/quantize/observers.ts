/**
 * Observers: running statistics of one float tensor over the calibration samples. Every observer keeps the
 * min/max and a 2048-bin histogram on [-R, R] that starts at the first batch's max |x| and doubles R when a
 * later value exceeds it; doubling merges bins pairwise into the middle half, which is exact because zero stays
 * on a bin edge. Optional per-channel means (axis 1) feed bias correction. The histogram is what the
 * percentile, entropy and MSE methods (ranges.ts) search over; min/max is exact.
 */
import type { Tensor } from '../ir/tensor.js';

/** Histogram bins; even so that zero lies on the middle bin edge. */
export const HISTOGRAM_BINS = 2048;

/** Statistics gathered for one tensor. */
export class TensorObserver {
  min = Infinity;
  max = -Infinity;
  /** Half-width R of the histogram range [-R, R]; 0 until a non-zero value is seen. */
  halfRange = 0;
  readonly hist = new Float64Array(HISTOGRAM_BINS);
  count = 0;
  /** Values exactly 0 (ReLU outputs, padding): exactly representable, so they carry no rounding error. */
  zeros = 0;
  /** Per-channel sum along axis 1 (NCHW channels), when tracked. */
  channelSums: Float64Array | undefined;
  channelCount = 0;

  constructor(readonly trackChannels = false) {}

  /** Add one tensor's values (float32 data). */
  observe(t: Tensor): void {
    const d = t.data as Float32Array;
    let lo = this.min;
    let hi = this.max;
    let amax = 0;
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      if (v === 0) this.zeros++;
    }
    // NaN compares false above; a tensor of NaNs leaves the range untouched rather than poisoning it.
    this.min = lo;
    this.max = hi;
    amax = Math.max(Math.abs(lo), Math.abs(hi));
    if (!Number.isFinite(amax)) amax = 0;
    if (amax > 0) {
      if (this.halfRange === 0) this.halfRange = amax;
      while (amax > this.halfRange) this.grow();
      const R = this.halfRange;
      const k = HISTOGRAM_BINS / (2 * R);
      const last = HISTOGRAM_BINS - 1;
      for (let i = 0; i < d.length; i++) {
        const v = d[i]!;
        if (v !== v) continue;
        // (0 + R) * k can round to just below HISTOGRAM_BINS / 2: exact zeros go to the bin above zero explicitly.
        if (v === 0) {
          this.hist[HISTOGRAM_BINS / 2]! += 1;
          continue;
        }
        let b = Math.floor((v + R) * k);
        if (b > last) b = last;
        else if (b < 0) b = 0;
        this.hist[b]! += 1;
      }
    } else {
      // All zeros: they belong in the bin just above zero once a range exists; count them in the middle now.
      this.hist[HISTOGRAM_BINS / 2]! += d.length;
    }
    this.count += d.length;
    if (this.trackChannels && t.shape.length >= 2) {
      const C = t.shape[1]!;
      const inner = t.shape.slice(2).reduce((a, b) => a * b, 1);
      const N = t.shape[0]!;
      if (this.channelSums === undefined) this.channelSums = new Float64Array(C);
      if (this.channelSums.length === C) {
        for (let n = 0; n < N; n++) {
          for (let c = 0; c < C; c++) {
            let s = 0;
            const base = (n * C + c) * inner;
            for (let i = 0; i < inner; i++) s += d[base + i]!;
            this.channelSums[c]! += s / inner;
          }
        }
        this.channelCount += N;
      }
    }
  }

  /** Double R: old bin i (of width w) lies inside new bin HISTOGRAM_BINS/4 + floor(i/2) (width 2w). */
  private grow(): void {
    const old = Float64Array.from(this.hist);
    this.hist.fill(0);
    const q = HISTOGRAM_BINS / 4;
    for (let i = 0; i < HISTOGRAM_BINS; i++) this.hist[q + (i >> 1)]! += old[i]!;
    this.halfRange *= 2;
  }

  /** Mean of each channel over every sample seen (undefined when not tracked). */
  channelMeans(): Float64Array | undefined {
    if (this.channelSums === undefined || this.channelCount === 0) return undefined;
    return this.channelSums.map((s) => s / this.channelCount);
  }

  /** Lower edge of bin b. */
  binEdge(b: number): number {
    return -this.halfRange + (b * 2 * this.halfRange) / HISTOGRAM_BINS;
  }
}

/** Min/max of each slice along `axis` (weights: output channels). */
export function perChannelMinMax(t: Tensor, axis: number): { min: Float64Array; max: Float64Array } {
  const C = t.shape[axis]!;
  const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const min = new Float64Array(C).fill(Infinity);
  const max = new Float64Array(C).fill(-Infinity);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) {
    const c = Math.floor(i / inner) % C;
    const v = d[i]!;
    if (v < min[c]!) min[c] = v;
    if (v > max[c]!) max[c] = v;
  }
  return { min, max };
}
