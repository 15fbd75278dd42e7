/**
 * Machine peak vs our GEMM, measured in the same process, interleaved, medians of several samples (CPU time
 * on Node, see `sampleMs`).
 * Peak kernels are generated unrolled loops over 12 independent f32x4 accumulators (enough to hide the
 * mul+add and fma latencies on two FP ports): `acc = acc * y + z` as f32x4.mul + f32x4.add (the SIMD128
 * mul+add peak, 8 flops per pair) and as f32x4.relaxed_madd (when the engine has it). The GEMM is each
 * `gemm` variant the engine supports on 256 x 256 x 256 (2*M*N*K flops).
 * CLI: `node dist/bench/peak.js [size]` (re-executes itself with the relaxed-SIMD flag when needed).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ModuleBuilder } from '../codegen/wasm/index.js';
import { GEMM_VARIANTS, gemm, type GemmVariant } from '../codegen/kernels/gemm.js';
import { KernelHarness, randomFloats } from '../codegen/kernels/harness.js';
import type { GemmSpec } from '../codegen/kernels/types.js';
import { RELAXED_SIMD_NODE_FLAG, detectFeatures } from '../runtime/features.js';

const ACCS = 12;
const UNROLL = 8;

function buildPeak(relaxed: boolean): (iters: number) => number {
  const m = new ModuleBuilder();
  const f = m.addFunction('peak', ['i32'], ['f32']);
  const acc = f.locals('v128', ACCS);
  const y = f.local('v128');
  const z = f.local('v128');
  const i = f.local('i32');
  for (let a = 0; a < ACCS; a++) f.v128ConstF32(1 + a * 1e-3).localSet(acc[a]!);
  f.v128ConstF32(0.999).localSet(y);
  f.v128ConstF32(1e-3).localSet(z);
  f.localGet(0).localSet(i);
  const top = f.loop();
  for (let u = 0; u < UNROLL; u++) {
    for (let a = 0; a < ACCS; a++) {
      if (relaxed) f.localGet(acc[a]!).localGet(y).localGet(z).f32x4RelaxedMadd().localSet(acc[a]!);
      else f.localGet(acc[a]!).localGet(y).f32x4Mul().localGet(z).f32x4Add().localSet(acc[a]!);
    }
  }
  f.localGet(i).i32Const(1).i32Sub().localTee(i).brIf(top);
  f.end();
  // Sum the accumulators so nothing is dead.
  f.localGet(acc[0]!);
  for (let a = 1; a < ACCS; a++) f.localGet(acc[a]!).f32x4Add();
  f.f32x4ExtractLane(0);
  m.exportFunction('peak', f.index);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(m.build()), {});
  return inst.exports['peak'] as (iters: number) => number;
}

/** Flops of one `peak(iters)` call. */
function peakFlops(iters: number): number {
  return iters * UNROLL * ACCS * 8;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** Time `fn` (ms) per call, calling it `reps` times per sample. */
/**
 * Time `fn` (ms) per call, calling it `reps` times per sample. On Node this is the process's CPU time, not
 * wall time: on a shared machine (load far above the core count) wall time mostly measures how long the
 * process waited to be scheduled, while CPU time stays what the kernel costs (single-threaded kernels only).
 */
function sampleMs(fn: () => void, reps: number): number {
  const cpu = typeof process !== 'undefined' && typeof process.cpuUsage === 'function';
  const c0 = cpu ? process.cpuUsage() : undefined;
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) fn();
  if (c0) {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000 / reps;
  }
  return (performance.now() - t0) / reps;
}

export interface GemmResult {
  id: string;
  /** From the median sample time. */
  gflops: number;
  /** From the fastest sample (robust when the machine is shared). */
  bestGflops: number;
  /** GFLOP/s divided by the peak of the same ISA (mul+add for wasmsimd, relaxed_madd for wasmrelaxed). */
  fractionOfPeak: number;
}

export interface PeakReport {
  size: number;
  peakMulAddGflops: number;
  /** Undefined when relaxed SIMD is unavailable. */
  peakRelaxedMaddGflops: number | undefined;
  /** Fastest-sample versions of the peaks. */
  bestPeakMulAddGflops: number;
  bestPeakRelaxedMaddGflops: number | undefined;
  relaxedMaddFused: boolean | undefined;
  gemm: GemmResult[];
}

/**
 * Measure peak and GEMM GFLOP/s. Kernels are warmed up (so the optimizing tier runs), then `samples` rounds
 * interleave one sample of every kernel; results are medians.
 */
export function measurePeak(
  opts: { size?: number; samples?: number; variants?: readonly GemmVariant[]; warmupMs?: number } = {},
): PeakReport {
  const size = opts.size ?? 256;
  const samples = opts.samples ?? 31;
  const feats = detectFeatures();
  const peakIters = opts.size !== undefined && opts.size < 128 ? 500 : 20000;
  const warmupMs = opts.warmupMs ?? 200;
  const contenders: { name: string; flops: number; run: () => void; isa: 'wasmsimd' | 'wasmrelaxed' }[] = [];
  const peakSimd = buildPeak(false);
  contenders.push({
    name: 'peak-muladd',
    flops: peakFlops(peakIters),
    run: () => void peakSimd(peakIters),
    isa: 'wasmsimd',
  });
  if (feats.relaxedSimd) {
    const peakRelaxed = buildPeak(true);
    contenders.push({
      name: 'peak-relaxed',
      flops: peakFlops(peakIters),
      run: () => void peakRelaxed(peakIters),
      isa: 'wasmrelaxed',
    });
  }
  const spec: GemmSpec = { m: size, n: size, k: size, epilogue: { activation: { kind: 'none' }, residual: false } };
  const variants = (opts.variants ?? GEMM_VARIANTS).filter((v) => v.isa === 'wasmsimd' || feats.relaxedSimd);
  for (const vr of variants) {
    const h = new KernelHarness(Math.ceil((4 * size * size * 4 + (size + 1) * (size + 16) * 4) / 65536) + 2);
    const a = h.put(randomFloats(size * size, 3));
    const packed = h.put(gemm.pack(spec, vr, { b: randomFloats(size * size, 5), layout: 'kn' }));
    const c = h.alloc(size * size);
    const k = h.build('gemm', (fn) =>
      gemm.emit(fn, spec, vr, {
        a: { addrBytes: a, pixelStride: size },
        packedB: packed,
        c: { addrBytes: c, pixelStride: size },
      }),
    );
    const extent = gemm.parallelExtent(spec, vr);
    contenders.push({ name: gemm.id(spec, vr), flops: 2 * size ** 3, run: () => k.run(0, extent), isa: vr.isa });
  }
  // Warm-up: enough calls for tier-up to the optimizing compiler.
  const reps = contenders.map((c) => {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < warmupMs) {
      c.run();
      n++;
    }
    return Math.max(1, Math.round((n * 4) / warmupMs)); // ~4 ms per sample
  });
  const times = contenders.map(() => [] as number[]);
  for (let s = 0; s < samples; s++) {
    contenders.forEach((c, i) => times[i]!.push(sampleMs(c.run, reps[i]!)));
  }
  const gflops = contenders.map((c, i) => c.flops / (median(times[i]!) * 1e6));
  const best = contenders.map((c, i) => c.flops / (Math.min(...times[i]!) * 1e6));
  const peakMulAdd = gflops[0]!;
  const peakRelaxed = feats.relaxedSimd ? gflops[1]! : undefined;
  const first = feats.relaxedSimd ? 2 : 1;
  return {
    size,
    peakMulAddGflops: peakMulAdd,
    peakRelaxedMaddGflops: peakRelaxed,
    bestPeakMulAddGflops: best[0]!,
    bestPeakRelaxedMaddGflops: feats.relaxedSimd ? best[1]! : undefined,
    relaxedMaddFused: feats.relaxedMaddFused,
    gemm: contenders.slice(first).map((c, i) => ({
      id: c.name,
      gflops: gflops[first + i]!,
      bestGflops: best[first + i]!,
      fractionOfPeak: gflops[first + i]! / (c.isa === 'wasmrelaxed' ? peakRelaxed! : peakMulAdd),
    })),
  };
}

function main(): void {
  const size = Number(process.argv[2] ?? 256);
  if (!detectFeatures().relaxedSimd && process.env['EDGECNN_PEAK_CHILD'] !== '1') {
    const r = spawnSync(process.execPath, [RELAXED_SIMD_NODE_FLAG, fileURLToPath(import.meta.url), String(size)], {
      stdio: 'inherit',
      env: { ...process.env, EDGECNN_PEAK_CHILD: '1' },
    });
    if (r.status === 0) return;
    console.error('(relaxed SIMD unavailable; measuring SIMD128 only)');
  }
  const rep = measurePeak({ size });
  const f = (x: number): string => x.toFixed(1).padStart(6);
  console.log('GFLOP/s: median (best sample)');
  console.log(`peak f32x4 mul+add           ${f(rep.peakMulAddGflops)} (${f(rep.bestPeakMulAddGflops)})`);
  if (rep.peakRelaxedMaddGflops !== undefined) {
    console.log(
      `peak f32x4 relaxed_madd      ${f(rep.peakRelaxedMaddGflops)} (${f(rep.bestPeakRelaxedMaddGflops!)})  fused: ${rep.relaxedMaddFused}`,
    );
  }
  for (const g of rep.gemm) {
    const bestPeak = g.id.endsWith('wasmrelaxed') ? rep.bestPeakRelaxedMaddGflops! : rep.bestPeakMulAddGflops;
    console.log(
      `${g.id.padEnd(28)} ${f(g.gflops)} (${f(g.bestGflops)})  ${(100 * g.fractionOfPeak).toFixed(0).padStart(3)}% of peak (best/best ${((100 * g.bestGflops) / bestPeak).toFixed(0)}%)  [${rep.size}^3]`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
