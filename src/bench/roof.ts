/**
 * The two ceilings of a roofline plot, measured on this machine: compute peak from peak.ts (SIMD128
 * mul+add, or relaxed madd when the engine has it) and memory bandwidth from large typed-array copies
 * (`TypedArray.set` is a memcpy: bytes read + bytes written per copy). The copy buffer (64 MiB) is far larger
 * than any cache, so that line is DRAM bandwidth; a second line from 256 KiB copies is the cache roof.
 */
import { measurePeak } from './peak.js';
import { median } from './stats.js';

export interface Roof {
  peakGflops: number;
  /** Which kernel set the peak: 'f32x4.mul+add' or 'f32x4.relaxed_madd'. */
  peakKind: string;
  /** DRAM copy bandwidth (64 MiB buffers). */
  bandwidthGBs: number;
  /** Copy bandwidth with 256 KiB buffers, which stay in L2 on most cores: the roof for cache-resident layers. */
  cacheBandwidthGBs: number;
}

/** Copy bandwidth in GB/s (1e9 bytes), median of `samples` copies of `sizeBytes`. */
export function measureBandwidth(sizeBytes = 64 << 20, samples = 7): number {
  // Small buffers are copied many times per sample so that timer resolution does not dominate.
  const reps = Math.max(1, Math.round((16 << 20) / sizeBytes));
  const src = new Float64Array(sizeBytes / 8);
  const dst = new Float64Array(sizeBytes / 8);
  for (let i = 0; i < src.length; i += 512) src[i] = i;
  dst.set(src); // first touch of every page happens here, not in a sample
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) dst.set(src);
    times.push((performance.now() - t0) / reps);
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
    cacheBandwidthGBs: measureBandwidth(256 << 10, 15),
  };
}
