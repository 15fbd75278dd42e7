/**
 * The two ceilings of a roofline plot, measured on this machine: compute peak from peak.ts (SIMD128
 * mul+add, or relaxed madd when the engine has it) and memory bandwidth from large typed-array copies
 * (`TypedArray.set` is a memcpy: bytes read + bytes written per copy). The copy buffer (64 MiB) is far larger
 * than any cache, so the line is DRAM bandwidth, the ceiling for activations that do not stay in cache.
 */
import { measurePeak } from './peak.js';
import { median } from './stats.js';

export interface Roof {
  peakGflops: number;
  /** Which kernel set the peak: 'f32x4.mul+add' or 'f32x4.relaxed_madd'. */
  peakKind: string;
  bandwidthGBs: number;
}

/** Copy bandwidth in GB/s (1e9 bytes), median of `samples` copies of `sizeBytes`. */
export function measureBandwidth(sizeBytes = 64 << 20, samples = 7): number {
  const src = new Float64Array(sizeBytes / 8);
  const dst = new Float64Array(sizeBytes / 8);
  for (let i = 0; i < src.length; i += 512) src[i] = i;
  dst.set(src); // first touch of every page happens here, not in a sample
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    dst.set(src);
    times.push(performance.now() - t0);
  }
  return (2 * sizeBytes) / (median(times) * 1e6);
}

/** Measure both ceilings (about a second). */
export function measureRoof(): Roof {
  const p = measurePeak({ variants: [], samples: 7 });
  const relaxed = p.peakRelaxedMaddGflops;
  const useRelaxed = relaxed !== undefined && relaxed > p.peakMulAddGflops;
  return {
    peakGflops: useRelaxed ? relaxed : p.peakMulAddGflops,
    peakKind: useRelaxed ? 'f32x4.relaxed_madd' : 'f32x4.mul+add',
    bandwidthGBs: measureBandwidth(),
  };
}
