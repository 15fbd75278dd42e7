/**
 * Same-run micro-benchmark of the qs8 convolution kernels on the shared models' layer shapes: every family and
 * variant that supports a shape (qs8-conv's tiles, qs8-winograd, qs8-dwconv, ...) is warmed up, then samples
 * interleave all candidates of the shape; medians of CPU time (see `sampleMs`). GFLOP/s count the direct
 * convolution's 2 * MACs for every candidate, so a Winograd row is comparable with the direct rows.
 * Depthwise layers also time the f32 depthwise kernel the cost model picks (ReLU6, on float data), interleaved:
 * the int8 rows must beat it for an int8 model to gain there.
 * The classifier heads (qs8-fc variants) run twice: `warm` (weights stay in cache across calls) and `cold` (a
 * buffer of EDGECNN_EVICT_MIB, default 256 MiB, is written before each timed call: inside a model the head's
 * weights come from DRAM, measured here at 2.5x the time of a 16 MiB eviction, which leaves them in L3).
 * CLI: `node dist/bench/qs8-kernels.js [filter]` (filter: substring of the layer name).
 */
import { pathToFileURL } from 'node:url';
import { KernelHarness } from '../codegen/kernels/harness.js';
import {
  QS8_GEMM_VARIANTS,
  type Qs8ConvAddresses,
  type Qs8ConvSpec,
  type Qs8ConvWeights,
  isPointwise,
  qs8Gemm,
} from '../codegen/kernels/qs8-gemm.js';
import { qs8Conv, qs8ConvIm2col } from '../codegen/kernels/qs8-conv.js';
import { qs8Dwconv } from '../codegen/kernels/qs8-dwconv.js';
import { qs8Winograd } from '../codegen/kernels/qs8-winograd.js';
import { type Qs8FcSpec, qs8Fc } from '../codegen/kernels/qs8-fc.js';
import { dwconv } from '../codegen/kernels/dwconv.js';
import { dwconvCost, pickVariant } from '../codegen/select.js';
import type { ConvSpec } from '../codegen/kernels/types.js';
import type { FunctionBuilder } from '../codegen/wasm/index.js';
import type { KernelVariant } from '../codegen/kernels/types.js';
import { convOutputSize } from '../codegen/kernels/types.js';
import { median, sampleMs } from './peak.js';

/** A qs8 conv family as the benchmark drives it. */
interface Family {
  family: string;
  variants: readonly KernelVariant[];
  supports(s: Qs8ConvSpec, v: KernelVariant): boolean;
  id(s: Qs8ConvSpec, v: KernelVariant): string;
  parallelExtent(s: Qs8ConvSpec, v: KernelVariant): number;
  pack(s: Qs8ConvSpec, v: KernelVariant, w: Qs8ConvWeights): Uint8Array;
  emit(fn: FunctionBuilder, s: Qs8ConvSpec, v: KernelVariant, a: Qs8ConvAddresses): void;
  scratchBytes?(s: Qs8ConvSpec, v: KernelVariant): number;
}

/** The families in the order rows are printed (qs8-gemm only takes pointwise shapes, qs8-conv the rest). */
export const QS8_CONV_FAMILIES = [
  qs8Gemm,
  qs8Conv,
  qs8ConvIm2col,
  qs8Winograd,
  qs8Dwconv,
] as unknown as readonly Family[];

/** A layer: name, input size, channels, kernel, stride, pad, group. */
export interface Qs8Layer {
  name: string;
  spec: Qs8ConvSpec;
}

export function layer(name: string, hw: number, c: number, m: number, k: number, stride: number, group = 1): Qs8Layer {
  const p = (k - 1) >> 1;
  const o = convOutputSize(hw, k, stride, p, p, 1);
  return {
    name,
    spec: {
      batch: 1,
      inH: hw,
      inW: hw,
      inC: c,
      outH: o,
      outW: o,
      outC: m,
      kernelH: k,
      kernelW: k,
      strideH: stride,
      strideW: stride,
      padTop: p,
      padLeft: p,
      dilationH: 1,
      dilationW: 1,
      group,
      outMin: 0,
      outMax: 127,
    },
  };
}

/** ResNet-18's 3x3 convolutions and MobileNetV2's stem and depthwise layers. */
export const QS8_BENCH_LAYERS: readonly Qs8Layer[] = [
  layer('r18-3x3-56x64', 56, 64, 64, 3, 1),
  layer('r18-3x3-28x128', 28, 128, 128, 3, 1),
  layer('r18-3x3-14x256', 14, 256, 256, 3, 1),
  layer('r18-3x3-7x512', 7, 512, 512, 3, 1),
  layer('r18-3x3s2-56x128', 56, 64, 128, 3, 2),
  layer('r18-3x3s2-28x256', 28, 128, 256, 3, 2),
  layer('r18-3x3s2-14x512', 14, 256, 512, 3, 2),
  layer('mbv2-stem-3x3s2', 224, 3, 32, 3, 2),
  layer('r18-stem-7x7s2', 224, 3, 64, 7, 2),
  layer('mbv2-dw-112x32', 112, 32, 32, 3, 1, 32),
  layer('mbv2-dw-112x96s2', 112, 96, 96, 3, 2, 96),
  layer('mbv2-dw-28x192', 28, 192, 192, 3, 1, 192),
  layer('mbv2-dw-14x576', 14, 576, 576, 3, 1, 576),
  layer('mbv2-dw-7x960', 7, 960, 960, 3, 1, 960),
  layer('mbv2-dw-56x144', 56, 144, 144, 3, 1, 144),
  layer('mbv3-dw-5x5s2-28x96', 28, 96, 96, 5, 2, 96),
  layer('mbv2-pw-112x32x16', 112, 32, 16, 1, 1),
  layer('mbv2-pw-112x16x96', 112, 16, 96, 1, 1),
  layer('mbv2-pw-28x32x192', 28, 32, 192, 1, 1),
  layer('mbv2-pw-14x384x64', 14, 384, 64, 1, 1),
  layer('mbv2-pw-56x24x144', 56, 24, 144, 1, 1),
  layer('mbv2-pw-7x960x320', 7, 960, 320, 1, 1),
  layer('mbv2-pw-7x320x1280', 7, 320, 1280, 1, 1),
  layer('r18-1x1s2-14x512', 14, 256, 512, 1, 2),
];

/** Direct-convolution MACs of a layer (what GFLOP/s rows count for every candidate). */
function directMacs(s: Qs8ConvSpec): number {
  return s.batch * s.outH * s.outW * s.outC * (s.inC / s.group) * s.kernelH * s.kernelW;
}

function det(n: number, seed: number, lo: number, hi: number): Int8Array {
  const out = new Int8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (x % (hi - lo + 1));
  }
  return out;
}

/** Build one candidate: memory with input, packed weights, output and scratch, and a call over the whole extent. */
function build(fam: Family, v: KernelVariant, s: Qs8ConvSpec): () => void {
  const kk = (s.inC / s.group) * s.kernelH * s.kernelW;
  const w: Qs8ConvWeights = {
    weights: det(s.outC * kk, 5, -127, 127),
    biasInt: Int32Array.from({ length: s.outC }, (_, i) => (i * 37) % 1000),
    quant: {
      inScale: 0.05,
      inZero: -7,
      weightScales: new Float32Array([0.003]),
      outScale: 0.03 * Math.sqrt(kk),
      outZero: -20,
    },
  };
  const packed = fam.pack(s, v, w);
  const inBytes = s.batch * s.inH * s.inW * s.inC;
  const outBytes = s.batch * s.outH * s.outW * s.outC;
  const scratch = fam.scratchBytes?.(s, v) ?? 0;
  const h = new KernelHarness(Math.ceil((inBytes + outBytes + packed.length + scratch) / 65536) + 4);
  const bytes = (n: number, init?: Int8Array | Uint8Array): number => {
    const a = h.alloc(Math.ceil(n / 4) + 16);
    if (init) new Uint8Array(h.memory.buffer, a, n).set(new Uint8Array(init.buffer, init.byteOffset, n));
    return a;
  };
  const x = bytes(inBytes, det(inBytes, 3, -128, 127));
  const pw = bytes(packed.length, packed);
  const y = bytes(outBytes);
  const sc = scratch > 0 ? bytes(scratch) : undefined;
  const k = h.build('k', (fn) =>
    fam.emit(fn, s, v, {
      input: { addrBytes: x, pixelStride: s.inC },
      packedWeights: pw,
      output: { addrBytes: y, pixelStride: s.outC },
      ...(sc !== undefined ? { scratch: sc } : {}),
    }),
  );
  const extent = fam.parallelExtent(s, v);
  return () => k.run(0, extent);
}

/** The f32 depthwise kernel the cost model picks for the same shape (ReLU6 epilogue), on random floats. */
function buildF32Dwconv(s: Qs8ConvSpec): { id: string; run: () => void } | undefined {
  const spec: ConvSpec = { ...s, epilogue: { activation: { kind: 'clip', min: 0, max: 6 }, residual: false } };
  const v = pickVariant(dwconv, spec, false, dwconvCost);
  if (!v) return undefined;
  const packed = dwconv.pack(spec, v, {
    weights: Float32Array.from(det(s.outC * s.kernelH * s.kernelW, 5, -127, 127), (q) => q / 127),
  });
  const inFloats = s.batch * s.inH * s.inW * s.inC;
  const outFloats = s.batch * s.outH * s.outW * s.outC;
  const h = new KernelHarness(Math.ceil(((inFloats + outFloats + packed.length) * 4) / 65536) + 4);
  const x = h.put(Float32Array.from(det(inFloats, 3, -128, 127), (q) => q / 64));
  const pw = h.put(packed);
  const y = h.alloc(outFloats);
  const k = h.build('k', (fn) =>
    dwconv.emit(fn, spec, v, {
      input: { addrBytes: x, pixelStride: s.inC },
      packedWeights: pw,
      output: { addrBytes: y, pixelStride: s.outC },
    }),
  );
  const extent = dwconv.parallelExtent(spec, v);
  return { id: dwconv.id(spec, v), run: () => k.run(0, extent) };
}

export interface Qs8BenchRow {
  layer: string;
  id: string;
  ms: number;
  /** 2 x direct MACs / median time. */
  gflops: number;
}

/** Measure every supporting (family, variant) on each layer; candidates of one layer are interleaved. */
export function benchQs8Kernels(
  layers: readonly Qs8Layer[] = QS8_BENCH_LAYERS,
  opts: { samples?: number; warmupMs?: number; families?: readonly Family[] } = {},
): Qs8BenchRow[] {
  const samples = opts.samples ?? 15;
  const warmupMs = opts.warmupMs ?? 150;
  const rows: Qs8BenchRow[] = [];
  for (const l of layers) {
    const cands = (opts.families ?? QS8_CONV_FAMILIES).flatMap((f) =>
      f.variants
        .filter((v) => f.supports(l.spec, v) && !(f === (qs8Conv as unknown) && isPointwise(l.spec)))
        .map((v) => ({ id: f.id(l.spec, v), run: build(f, v, l.spec) })),
    );
    const f32 = l.spec.group > 1 ? buildF32Dwconv(l.spec) : undefined;
    if (f32) cands.push(f32);
    const reps = cands.map((c) => {
      const t0 = performance.now();
      let n = 0;
      while (performance.now() - t0 < warmupMs) {
        c.run();
        n++;
      }
      return Math.max(1, Math.round((n * 5) / warmupMs)); // ~5 ms per sample
    });
    const times = cands.map(() => [] as number[]);
    for (let i = 0; i < samples; i++) cands.forEach((c, j) => times[j]!.push(sampleMs(c.run, reps[j]!)));
    cands.forEach((c, j) => {
      const ms = median(times[j]!);
      rows.push({ layer: l.name, id: c.id, ms, gflops: (2 * directMacs(l.spec)) / (ms * 1e6) });
    });
  }
  return rows;
}

/** Classifier heads: MobileNetV2's 1280 -> 1000 and ResNet-18's 512 -> 1000 at one image. */
export const QS8_FC_BENCH_LAYERS: readonly { name: string; spec: Qs8FcSpec }[] = [
  { name: 'mbv2-fc-1280x1000', spec: { batch: 1, inputs: 1280, outputs: 1000, inZero: -7 } },
  { name: 'r18-fc-512x1000', spec: { batch: 1, inputs: 512, outputs: 1000, inZero: -7 } },
];

/** Every qs8-fc variant per head, warm and cold, interleaved; medians of per-call wall time (cold) or CPU time. */
export function benchQs8Fc(
  layers: readonly { name: string; spec: Qs8FcSpec }[] = QS8_FC_BENCH_LAYERS,
  samples = 21,
): Qs8BenchRow[] {
  const rows: Qs8BenchRow[] = [];
  const evict = new Uint8Array(Number(process.env['EDGECNN_EVICT_MIB'] ?? 256) << 20);
  for (const l of layers) {
    const s = l.spec;
    const cands = qs8Fc.variants.map((v) => {
      const packed = qs8Fc.pack(s, v, {
        weights: det(s.inputs * s.outputs, 5, -127, 127),
        scales: new Float32Array(s.outputs).fill(0.001),
        bias: new Float32Array(s.outputs).fill(0.5),
      });
      const h = new KernelHarness(Math.ceil((packed.length + s.inputs + 4 * s.outputs) / 65536) + 4);
      const x = h.alloc(Math.ceil(s.inputs / 4) + 16);
      new Int8Array(h.memory.buffer, x, s.inputs).set(det(s.inputs, 3, -128, 127));
      const pw = h.alloc(Math.ceil(packed.length / 4));
      new Uint8Array(h.memory.buffer, pw, packed.length).set(packed);
      const y = h.alloc(s.outputs);
      const k = h.build('k', (fn) =>
        qs8Fc.emit(fn, s, v, { input: { addrBytes: x, pixelStride: s.inputs }, outputAddr: y, packedWeights: pw }),
      );
      const extent = qs8Fc.parallelExtent(s, v);
      return { id: qs8Fc.id(s, v), run: () => k.run(0, extent) };
    });
    for (const c of cands) for (let i = 0; i < 200; i++) c.run();
    const warm = cands.map(() => [] as number[]);
    const cold = cands.map(() => [] as number[]);
    for (let i = 0; i < samples; i++)
      cands.forEach((c, j) => {
        warm[j]!.push(sampleMs(c.run, 20));
        for (let p = 0; p < evict.length; p += 64) evict[p] = i;
        const t0 = performance.now();
        c.run();
        cold[j]!.push(performance.now() - t0);
      });
    const macs = s.batch * s.inputs * s.outputs;
    cands.forEach((c, j) => {
      for (const [mode, t] of [
        ['warm', warm[j]!],
        ['cold', cold[j]!],
      ] as const) {
        const ms = median(t);
        rows.push({ layer: `${l.name}-${mode}`, id: c.id, ms, gflops: (2 * macs) / (ms * 1e6) });
      }
    });
  }
  return rows;
}

function main(): void {
  const filter = process.argv[2] ?? '';
  const rows = [
    ...benchQs8Kernels(QS8_BENCH_LAYERS.filter((l) => l.name.includes(filter))),
    ...benchQs8Fc(QS8_FC_BENCH_LAYERS.filter((l) => l.name.includes(filter))),
  ];
  console.log(
    'median CPU ms per call, GFLOP/s of the direct convolution (2 x MACs); candidates of a layer interleaved',
  );
  for (const r of rows) {
    console.log(
      `${r.layer.padEnd(20)} ${r.id.padEnd(44)} ${r.ms.toFixed(3).padStart(8)} ms ${r.gflops.toFixed(1).padStart(6)}`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
