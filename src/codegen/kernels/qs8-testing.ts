/**
 * Test helpers for the qs8 kernel families: a byte-buffer harness (each buffer followed by 16 bytes of slack
 * and guarded by sentinel bytes, chunked (start, end) calls) and the oracle, the QLinearConv reference of
 * src/ops/quantize.ts on NCHW int8 tensors. Kernels are compared to it to within 1 LSB (ties decided on a
 * different float rounding), and the count of 1-LSB differences is reported so tests can bound it.
 */
import type { Attribute, Node } from '../../ir/graph.js';
import { makeTensor } from '../../ir/tensor.js';
import { QLinearConv } from '../../ops/quantize.js';
import type { FunctionBuilder } from '../wasm/index.js';
import assert from 'node:assert/strict';
import { runStepInChunks } from './kernel-harness.js';
import type { Qs8ConvAddresses, Qs8ConvSpec, Qs8ConvWeights } from './qs8-gemm.js';
import { type KernelVariant, convOutputSize } from './types.js';

const GUARD = 64;
const SENTINEL = 0xa5;

export interface ByteRun {
  buffers: Record<string, Int8Array>;
  addr: Record<string, number>;
  guardViolations: string[];
  call(start: number, end: number): void;
}

/** Lay out byte buffers (64-byte aligned, guarded), emit and run one step over [0, extent) in `chunks` calls. */
export function runBytes(
  buffers: Record<string, { bytes: number; init?: Uint8Array | Int8Array }>,
  extent: number,
  emit: (fn: FunctionBuilder, addr: Record<string, number>) => void,
  chunks = 1,
): ByteRun {
  const addr: Record<string, number> = {};
  let p = GUARD;
  for (const [name, b] of Object.entries(buffers)) {
    addr[name] = p;
    p += Math.ceil((b.bytes + 16) / 64) * 64 + GUARD;
  }
  const memory = new WebAssembly.Memory({ initial: Math.ceil((p + 64) / 65536) });
  const u8 = new Uint8Array(memory.buffer);
  u8.fill(SENTINEL);
  for (const [name, b] of Object.entries(buffers))
    if (b.init) u8.set(new Uint8Array(b.init.buffer, b.init.byteOffset, b.init.length), addr[name]);
  const step = runStepInChunks(memory, (fn) => emit(fn, addr), extent, chunks);
  const out: Record<string, Int8Array> = {};
  const guardViolations: string[] = [];
  for (const [name, b] of Object.entries(buffers)) {
    out[name] = new Int8Array(memory.buffer, addr[name], b.bytes).slice();
    const before = u8.subarray(addr[name]! - GUARD, addr[name]!);
    const after = u8.subarray(addr[name]! + b.bytes, addr[name]! + b.bytes + 16);
    if (before.some((v) => v !== SENTINEL) || after.some((v) => v !== SENTINEL)) guardViolations.push(name);
  }
  return { buffers: out, addr, guardViolations, call: step };
}

/**
 * A square-kernel conv of c -> m channels over n x h x w pixels: k x k, stride, symmetric pad, dilation; full
 * int8 clamp unless given.
 */
export function qs8ConvSpecOf(
  c: number,
  m: number,
  h: number,
  w: number,
  k: number,
  stride: number,
  pad: number,
  dil = 1,
  n = 1,
  clamp: [number, number] = [-128, 127],
): Qs8ConvSpec {
  return {
    batch: n,
    inH: h,
    inW: w,
    inC: c,
    outH: convOutputSize(h, k, stride, pad, pad, dil),
    outW: convOutputSize(w, k, stride, pad, pad, dil),
    outC: m,
    kernelH: k,
    kernelW: k,
    strideH: stride,
    strideW: stride,
    padTop: pad,
    padLeft: pad,
    dilationH: dil,
    dilationW: dil,
    group: 1,
    outMin: clamp[0],
    outMax: clamp[1],
  };
}

/** A depthwise conv of c channels (group c): k x k, stride, symmetric pad, dilation, batch; full int8 clamp. */
export function qs8DwSpecOf(
  c: number,
  h: number,
  w: number,
  k: number,
  s: number,
  p: number,
  d = 1,
  n = 1,
): Qs8ConvSpec {
  return { ...qs8ConvSpecOf(c, c, h, w, k, s, p, d, n), group: c };
}

/** Deterministic int8 values in [lo, hi]. */
export function randomInt8(n: number, seed: number, lo = -128, hi = 127): Int8Array {
  const out = new Int8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (s % (hi - lo + 1));
  }
  return out;
}

const ints = (value: number[]): Attribute => ({ kind: 'ints', value });

/**
 * The oracle: QLinearConv on NCHW int8 `x` (output NCHW int8). The bias is quantized to int32 with scale
 * inScale * wScale[n] as QDQ models store it; the kernel under test gets the same bias in real units.
 */
export function referenceQConv(
  s: Qs8ConvSpec,
  x: Int8Array,
  w: Qs8ConvWeights,
  biasInt: Int32Array | undefined,
): Int8Array {
  const q = w.quant;
  const node: Node = {
    name: 'ref',
    opType: 'QLinearConv',
    domain: '',
    inputs: [],
    outputs: ['y'],
    attributes: new Map([
      ['kernel_shape', ints([s.kernelH, s.kernelW])],
      ['strides', ints([s.strideH, s.strideW])],
      ['dilations', ints([s.dilationH, s.dilationW])],
      ['group', { kind: 'int', value: s.group }],
      [
        'pads',
        ints([
          s.padTop,
          s.padLeft,
          Math.max(0, (s.outH - 1) * s.strideH + (s.kernelH - 1) * s.dilationH + 1 - s.inH - s.padTop),
          Math.max(0, (s.outW - 1) * s.strideW + (s.kernelW - 1) * s.dilationW + 1 - s.inW - s.padLeft),
        ]),
      ],
    ]),
  };
  const scalarF = (v: number) => makeTensor('float32', [], new Float32Array([v]));
  const scalarI8 = (v: number) => makeTensor('int8', [], new Int8Array([v]));
  const ws = q.weightScales.length === 1 ? new Float32Array(s.outC).fill(q.weightScales[0]!) : q.weightScales;
  const inputs = [
    makeTensor('int8', [s.batch, s.inC, s.inH, s.inW], x),
    scalarF(q.inScale),
    scalarI8(q.inZero),
    makeTensor('int8', [s.outC, s.inC / s.group, s.kernelH, s.kernelW], w.weights),
    makeTensor('float32', [s.outC], ws),
    makeTensor('int8', [s.outC], new Int8Array(s.outC)),
    scalarF(q.outScale),
    scalarI8(q.outZero),
    biasInt ? makeTensor('int32', [s.outC], biasInt) : undefined,
  ];
  const [y] = QLinearConv.reference(inputs, { node, opset: 13 });
  return y!.data as Int8Array;
}

/** NCHW -> NHWC with a pixel stride (gaps keep `fill`). */
export function nchwToNhwc(x: Int8Array, n: number, c: number, hw: number, stride: number, fill = 0): Int8Array {
  const out = new Int8Array(n * hw * stride).fill(fill);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < hw; i++) out[(b * hw + i) * stride + ch] = x[(b * c + ch) * hw + i]!;
  return out;
}

/** Compare an NHWC int8 result (pixel stride) with an NCHW reference: max |diff| and count of 1-LSB diffs. */
export function compareNhwc(
  got: Int8Array,
  want: Int8Array,
  n: number,
  c: number,
  hw: number,
  stride: number,
): { maxDiff: number; offByOne: number; total: number } {
  let maxDiff = 0;
  let offByOne = 0;
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < hw; i++) {
        const d = Math.abs(got[(b * hw + i) * stride + ch]! - want[(b * c + ch) * hw + i]!);
        maxDiff = Math.max(maxDiff, d);
        if (d === 1) offByOne++;
      }
  return { maxDiff, offByOne, total: n * c * hw };
}

/** A qs8 conv family as the tests drive it. */
export interface Qs8ConvFamilyLike<V extends KernelVariant> {
  parallelExtent(s: Qs8ConvSpec, v: V): number;
  pack(s: Qs8ConvSpec, v: V, w: Qs8ConvWeights): Uint8Array;
  emit(fn: FunctionBuilder, s: Qs8ConvSpec, v: V, a: Qs8ConvAddresses): void;
  /** Private scratch bytes (its buffer is guarded like the others). */
  scratchBytes?(s: Qs8ConvSpec, v: V): number;
}

/** The data of one case: random input and weights, the packed weights, the reference and the byte geometry. */
export interface Qs8Case {
  /** The spec as run (floatBias set for a float-only bias, as lowering sets it). */
  s: Qs8ConvSpec;
  /** NCHW input. */
  x: Int8Array;
  /** QLinearConv's NCHW output over the full int8 range (the spec's clamp not applied). */
  want: Int8Array;
  packed: Uint8Array;
  inStride: number;
  outStride: number;
  pixIn: number;
  pixOut: number;
  scratchBytes: number;
}

/** A case's data: seed, zero points, pixel-stride padding, bias kind, and (default full int8) input range. */
export interface Qs8CaseOptions {
  seed: number;
  zIn: number;
  zOut: number;
  extra: number;
  bias: 'int' | 'float' | 'none';
  /** Input values [lo, hi] (default the full int8 range). */
  inRange?: [number, number];
}

/**
 * Random data for `s` from `seed` (input in `inRange`, default the full int8 range; weights in [weightLo, 127]),
 * per-channel weight scales, the bias as asked, and pixel strides `extra` wider than the channels.
 */
export function qs8Case<V extends KernelVariant>(
  fam: Qs8ConvFamilyLike<V>,
  v: V,
  s: Qs8ConvSpec,
  opts: Qs8CaseOptions & { weightLo: number },
): Qs8Case {
  const kk = (s.inC / s.group) * s.kernelH * s.kernelW;
  const [lo, hi] = opts.inRange ?? [-128, 127];
  const x = randomInt8(s.batch * s.inC * s.inH * s.inW, opts.seed, lo, hi);
  const weights = randomInt8(s.outC * kk, opts.seed + 1, opts.weightLo, 127);
  const weightScales = Float32Array.from({ length: s.outC }, (_, i) => 0.002 + 0.0007 * (i % 5));
  const quant = { inScale: 0.05, inZero: opts.zIn, weightScales, outScale: 0.03 * Math.sqrt(kk), outZero: opts.zOut };
  const biasInt =
    opts.bias !== 'none' ? Int32Array.from({ length: s.outC }, (_, i) => ((i * 7919) % 4001) - 2000) : undefined;
  const bias = biasInt && Float32Array.from(biasInt, (b, i) => b * quant.inScale * weightScales[i]!);
  const w: Qs8ConvWeights = { weights, quant, ...(opts.bias === 'int' ? { biasInt } : bias ? { bias } : {}) };
  // Kernels add a float-only bias only when the spec says so (as lowering sets it).
  if (opts.bias === 'float') s = { ...s, floatBias: true };
  return {
    s,
    x,
    want: referenceQConv({ ...s, outMin: -128, outMax: 127 }, x, w, biasInt),
    packed: fam.pack(s, v, w),
    inStride: s.inC + opts.extra,
    outStride: s.outC + opts.extra,
    pixIn: s.batch * s.inH * s.inW,
    pixOut: s.batch * s.outH * s.outW,
    scratchBytes: fam.scratchBytes?.(s, v) ?? 0,
  };
}

/**
 * Run `s` through a family (random data from `seed`, pixel strides `extra` wider than the channels, `chunks`
 * calls) and compare with QLinearConv: asserts guards, untouched gaps and the clamp; returns the comparison.
 * With an int32 bias the kernel computes exactly QLinearConv; a float bias may flip ties (1 LSB).
 */
export function checkQs8Conv<V extends KernelVariant>(
  fam: Qs8ConvFamilyLike<V>,
  v: V,
  s: Qs8ConvSpec,
  opts: Qs8CaseOptions & { chunks: number },
): ReturnType<typeof compareNhwc> & { output: Int8Array } {
  const c = qs8Case(fam, v, s, { ...opts, weightLo: -127 });
  s = c.s;
  const { x, want, packed, inStride, outStride, pixIn, pixOut, scratchBytes } = c;
  const run = runBytes(
    {
      ...(scratchBytes > 0 ? { scratch: { bytes: scratchBytes } } : {}),
      x: { bytes: pixIn * inStride, init: nchwToNhwc(x, s.batch, s.inC, s.inH * s.inW, inStride, 99) },
      w: { bytes: packed.length, init: packed },
      y: { bytes: pixOut * outStride, init: new Int8Array(pixOut * outStride).fill(42) },
    },
    fam.parallelExtent(s, v),
    (fn, a) =>
      fam.emit(fn, s, v, {
        input: { addrBytes: a['x']!, pixelStride: inStride },
        packedWeights: a['w']!,
        output: { addrBytes: a['y']!, pixelStride: outStride },
        ...(scratchBytes > 0 ? { scratch: a['scratch']! } : {}),
      }),
    opts.chunks,
  );
  assert.deepEqual(run.guardViolations, [], 'guard bytes written');
  for (let i = 0; i < pixOut; i++)
    for (let ch = s.outC; ch < outStride; ch++) assert.equal(run.buffers['y']![i * outStride + ch], 42, 'wrote a gap');
  // A fused activation's clamp applies on top of the plain requantization.
  const clamped = want.map((q) => Math.min(s.outMax, Math.max(s.outMin, q)));
  return {
    ...compareNhwc(run.buffers['y']!, Int8Array.from(clamped), s.batch, s.outC, s.outH * s.outW, outStride),
    output: run.buffers['y']!,
  };
}
