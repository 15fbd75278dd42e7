/**
 * Machine peak vs our GEMM, measured in the same process, interleaved, medians of several samples (CPU time
 * on Node, see `sampleMs`).
 * Peak kernels are generated unrolled loops over 12 independent f32x4 accumulators (enough to hide the
 * mul+add and fma latencies on two FP ports): `acc = acc * y + z` as f32x4.mul + f32x4.add (the SIMD128
 * mul+add peak, 8 flops = 4 MACs per pair) and as f32x4.relaxed_madd (when the engine has it); the int8 peak is
 * `acc = i32x4.dot_i16x8_s(acc, y) + z` (the instruction the qs8 kernels multiply with: 8 MACs per pair, the
 * accumulator feeds the dot so that nothing is loop-invariant). The GEMMs are each `gemm` variant the engine
 * supports on 256 x 256 x 256 (2*M*N*K flops) and each qs8-gemm variant as a 1x1 conv of the same size.
 * CLI: `node dist/bench/peak.js [size]` (re-executes itself with the relaxed-SIMD flag when needed).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ModuleBuilder } from '../codegen/wasm/index.js';
import { GEMM_VARIANTS, gemm, type GemmVariant } from '../codegen/kernels/gemm.js';
import { KernelHarness, randomFloats } from '../codegen/kernels/harness.js';
import type { GemmSpec, Isa } from '../codegen/kernels/types.js';
import { QS8_GEMM_VARIANTS, pointwiseQs8Spec, qs8Gemm } from '../codegen/kernels/qs8-gemm.js';
import { RELAXED_SIMD_NODE_FLAG, detectFeatures } from '../runtime/features.js';

const ACCS = 12;
const UNROLL = 8;

/** Which peak: f32 mul+add, f32 relaxed_madd, or int8's i16 dot product + i32 add. */
type PeakKind = 'muladd' | 'relaxed' | 'dot16';

function buildPeak(kind: PeakKind): (iters: number) => number {
  const m = new ModuleBuilder();
  const f = m.addFunction('peak', ['i32'], ['f32']);
  const acc = f.locals('v128', ACCS);
  const y = f.local('v128');
  const z = f.local('v128');
  const i = f.local('i32');
  const dot = kind === 'dot16';
  for (let a = 0; a < ACCS; a++) {
    if (dot) f.v128ConstI32(a + 1).localSet(acc[a]!);
    else f.v128ConstF32(1 + a * 1e-3).localSet(acc[a]!);
  }
  if (dot) {
    f.v128ConstI32(0x00030001).localSet(y);
    f.v128ConstI32(7).localSet(z);
  } else {
    f.v128ConstF32(0.999).localSet(y);
    f.v128ConstF32(1e-3).localSet(z);
  }
  f.localGet(0).localSet(i);
  const top = f.loop();
  for (let u = 0; u < UNROLL; u++) {
    for (let a = 0; a < ACCS; a++) {
      if (kind === 'relaxed') f.localGet(acc[a]!).localGet(y).localGet(z).f32x4RelaxedMadd().localSet(acc[a]!);
      else if (dot) f.localGet(acc[a]!).localGet(y).i32x4DotI16x8S().localGet(z).i32x4Add().localSet(acc[a]!);
      else f.localGet(acc[a]!).localGet(y).f32x4Mul().localGet(z).f32x4Add().localSet(acc[a]!);
    }
  }
  f.localGet(i).i32Const(1).i32Sub().localTee(i).brIf(top);
  f.end();
  // Sum the accumulators so nothing is dead.
  f.localGet(acc[0]!);
  for (let a = 1; a < ACCS; a++) {
    f.localGet(acc[a]!);
    if (dot) f.i32x4Add();
    else f.f32x4Add();
  }
  if (dot) f.i32x4ExtractLane(0).f32ConvertI32S();
  else f.f32x4ExtractLane(0);
  m.exportFunction('peak', f.index);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(m.build()), {});
  return inst.exports['peak'] as (iters: number) => number;
}

/** Flops (2 per MAC) of one `peak(iters)` call: 4 MACs per f32 pair, 8 per i16 dot pair. */
function peakFlops(iters: number, kind: PeakKind = 'muladd'): number {
  return iters * UNROLL * ACCS * (kind === 'dot16' ? 16 : 8);
}

/** Median of a sample. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/**
 * Time `fn` (ms) per call, calling it `reps` times per sample. On Node this is the process's CPU time, not
 * wall time: on a shared machine (load far above the core count) wall time mostly measures how long the
 * process waited to be scheduled, while CPU time stays what the kernel costs (single-threaded kernels only).
 */
export function sampleMs(fn: () => void, reps: number): number {
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
  /** int8 peak: i32x4.dot_i16x8_s + i32x4.add chains, in GMAC/s (the f32 peaks are in GFLOP/s = 2 x GMAC/s). */
  peakDotI16Gmacs: number;
  bestPeakDotI16Gmacs: number;
  gemm: GemmResult[];
  /** qs8-gemm variants (size pixels x size channels -> size channels); fractionOfPeak against the int8 peak. */
  qs8Gemm: GemmResult[];
}

/**
 * Measure peak and GEMM GFLOP/s. Kernels are warmed up (so the optimizing tier runs), then `samples` rounds
 * interleave one sample of every kernel; results are medians.
 */
export function measurePeak(
  opts: {
    size?: number;
    samples?: number;
    variants?: readonly GemmVariant[];
    qs8Variants?: readonly (typeof QS8_GEMM_VARIANTS)[number][];
    warmupMs?: number;
  } = {},
): PeakReport {
  const size = opts.size ?? 256;
  const samples = opts.samples ?? 31;
  const feats = detectFeatures();
  const peakIters = opts.size !== undefined && opts.size < 128 ? 500 : 20000;
  const warmupMs = opts.warmupMs ?? 200;
  const contenders: {
    name: string;
    flops: number;
    run: () => void;
    isa: Isa;
    qs8?: boolean;
  }[] = [];
  const peakSimd = buildPeak('muladd');
  contenders.push({
    name: 'peak-muladd',
    flops: peakFlops(peakIters),
    run: () => void peakSimd(peakIters),
    isa: 'wasmsimd',
  });
  const peakDotFn = buildPeak('dot16');
  contenders.push({
    name: 'peak-dot16',
    flops: peakFlops(peakIters, 'dot16'),
    run: () => void peakDotFn(peakIters),
    isa: 'wasmsimd',
  });
  if (feats.relaxedSimd) {
    const peakRelaxed = buildPeak('relaxed');
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
  const qspec = pointwiseQs8Spec(size, size, 1, size);
  for (const vr of opts.qs8Variants ?? QS8_GEMM_VARIANTS) {
    const w = {
      weights: Int8Array.from({ length: size * size }, (_, i) => ((i * 37) % 255) - 127),
      quant: { inScale: 0.02, inZero: 3, weightScales: new Float32Array([0.01]), outScale: 0.5, outZero: -2 },
    };
    const packed = qs8Gemm.pack(qspec, vr, w);
    const h = new KernelHarness(Math.ceil((2 * size * size + packed.length) / 65536) + 2);
    const x = h.alloc((size * size) / 4);
    new Int8Array(h.memory.buffer, x, size * size).set(
      Int8Array.from({ length: size * size }, (_, i) => (i % 251) - 125),
    );
    const pw = h.alloc(packed.length / 4);
    new Uint8Array(h.memory.buffer, pw, packed.length).set(packed);
    const y = h.alloc((size * size) / 4);
    // Widened (`w`) tiles keep their i16 rows in scratch.
    const scratchBytes = qs8Gemm.scratchBytes(qspec, vr);
    const scratch = scratchBytes > 0 ? h.alloc(Math.ceil(scratchBytes / 4)) : undefined;
    const k = h.build('qs8gemm', (fn) =>
      qs8Gemm.emit(fn, qspec, vr, {
        input: { addrBytes: x, pixelStride: size },
        packedWeights: pw,
        output: { addrBytes: y, pixelStride: size },
        ...(scratch !== undefined ? { scratch } : {}),
      }),
    );
    const extent = qs8Gemm.parallelExtent(qspec);
    contenders.push({
      name: qs8Gemm.id(qspec, vr),
      flops: 2 * size ** 3,
      run: () => k.run(0, extent),
      isa: 'wasmsimd',
      qs8: true,
    });
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
  const peakDot = gflops[1]!;
  const peakRelaxed = feats.relaxedSimd ? gflops[2]! : undefined;
  const first = feats.relaxedSimd ? 3 : 2;
  const result = (c: (typeof contenders)[number], i: number): GemmResult => ({
    id: c.name,
    gflops: gflops[i]!,
    bestGflops: best[i]!,
    fractionOfPeak: gflops[i]! / (c.qs8 ? peakDot : c.isa === 'wasmrelaxed' ? peakRelaxed! : peakMulAdd),
  });
  const rest = contenders.map((c, i) => ({ c, i })).slice(first);
  return {
    size,
    peakMulAddGflops: peakMulAdd,
    peakRelaxedMaddGflops: peakRelaxed,
    bestPeakMulAddGflops: best[0]!,
    bestPeakRelaxedMaddGflops: feats.relaxedSimd ? best[2]! : undefined,
    relaxedMaddFused: feats.relaxedMaddFused,
    peakDotI16Gmacs: peakDot / 2,
    bestPeakDotI16Gmacs: best[1]! / 2,
    gemm: rest.filter(({ c }) => !c.qs8).map(({ c, i }) => result(c, i)),
    qs8Gemm: rest.filter(({ c }) => c.qs8).map(({ c, i }) => result(c, i)),
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
  const macs = (gflops: number): string => (gflops / 2).toFixed(1).padStart(6);
  console.log(
    `peak i32x4.dot_i16x8_s+add   ${f(2 * rep.peakDotI16Gmacs)} (${f(2 * rep.bestPeakDotI16Gmacs)})  = ${macs(2 * rep.peakDotI16Gmacs)} GMAC/s vs f32 mul+add ${macs(rep.peakMulAddGflops)} GMAC/s: int8/f32 ${(
      (2 * rep.peakDotI16Gmacs) /
      rep.peakMulAddGflops
    ).toFixed(2)}x`,
  );
  for (const g of rep.qs8Gemm) {
    console.log(
      `${g.id.padEnd(28)} ${f(g.gflops)} (${f(g.bestGflops)})  ${(100 * g.fractionOfPeak).toFixed(0).padStart(3)}% of int8 peak  [${rep.size}^3]`,
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
