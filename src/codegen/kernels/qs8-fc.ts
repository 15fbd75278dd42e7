/**
 * int8 fully connected layer with a float output (a classifier's last Gemm, whose output is not quantized):
 * y[b, m] = f32(sum_k (x[b, k] - z_in) * w[m, k]) * (s_in * s_w[m]) + bias[m], the integer sum exact. The weights
 * stream once (1 byte each instead of 4). Work items are groups of `rows` output channels; per 16 inputs, x is
 * widened once (v128.load8x8_s) and shared by the group's rows, each row's weights widen in the load too and feed
 * i32x4.dot_i16x8_s, one accumulator per row, summed horizontally once at the end. The zero point is not
 * subtracted per element: sum(x * w) - z_in * sum(w) is the same i32 (the packed -z_in * sum(w) joins after the
 * horizontal sums). Inside a model the weights come from DRAM and one sequential stream leaves the core waiting:
 * `s<n>` tiles place each group's rows in n regions far apart (all group headers first, then per region and group
 * its rows x 16 weights per 16 inputs), so n streams of cache lines are in flight. A header holds f32 scales, f32
 * biases and i32 -z_in * sum(w) per row. Rows and inputs are zero-padded; x may be over-read by up to 15 bytes
 * (within the arena's slack). `4x16z` is the first kernel (x - z_in per element, one load and two extends per 16
 * weights), kept as the benchmark baseline.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import type { ActivationRef, KernelVariant } from './types.js';

export interface Qs8FcSpec {
  batch: number;
  inputs: number;
  outputs: number;
  inZero: number;
}

export interface Qs8FcWeights {
  /** [outputs, inputs] int8, row-major. */
  weights: Int8Array;
  /** Per output channel: s_in * s_w (float32). */
  scales: Float32Array;
  bias?: Float32Array;
}

export interface Qs8FcAddresses {
  input: ActivationRef;
  /** Dense float32 [batch, outputs]. */
  outputAddr: number;
  packedWeights: number;
}

/**
 * A variant: `rows` output channels per work item; `subtractZero` = the first kernel's inner loop; `streams` > 1
 * splits each group's rows into that many weight regions far apart, read side by side (more cache-line fetches in
 * flight when the weights come from DRAM, as a classifier's do inside a model).
 */
export interface Qs8FcVariant extends KernelVariant {
  readonly rows: number;
  readonly subtractZero: boolean;
  readonly streams?: number;
}

/** The variants, in cost-model order (measured: `node dist/bench/qs8-kernels.js fc`). */
export const QS8_FC_VARIANTS: readonly Qs8FcVariant[] = [
  // DRAM-bound inside a model (mobilenet_v2's head, weights evicted: 0.21 ms in one stream of 4 rows, 0.12 ms in
  // 6-12 streams); in cache they tie, so a one-stream tile (which the tuner, timing warm, could pick) is not
  // offered. 4x16z, the first kernel, is the baseline.
  { tile: '12x16s12', isa: 'wasmsimd', rows: 12, subtractZero: false, streams: 12 },
  { tile: '12x16s6', isa: 'wasmsimd', rows: 12, subtractZero: false, streams: 6 },
  { tile: '4x16z', isa: 'wasmsimd', rows: 4, subtractZero: true },
];

const KB = 16;
/** Header bytes of a group: scales, biases and (without `subtractZero`) -z_in * sum(w), 4 bytes per row each. */
const headerBytes = (v: Qs8FcVariant): number => (v.subtractZero ? 8 : 12) * v.rows;
const groupBytes = (s: Qs8FcSpec, v: Qs8FcVariant): number => headerBytes(v) + Math.ceil(s.inputs / KB) * v.rows * KB;

/**
 * Where the packed pieces live: one stream = [header, data] per group; several = all headers, then per stream a
 * region holding, per group and 16 inputs, that stream's rows x 16 weights.
 */
function layout(s: Qs8FcSpec, v: Qs8FcVariant) {
  const streams = v.streams ?? 1;
  const groups = Math.ceil(s.outputs / v.rows);
  const kBlocks = Math.ceil(s.inputs / KB);
  const rq = v.rows / streams;
  const regionBytes = groups * kBlocks * rq * KB;
  return {
    totalBytes: groups * groupBytes(s, v),
    /** Bytes from one group's header (data) to the next's. */
    headerStride: streams === 1 ? groupBytes(s, v) : headerBytes(v),
    dataStride: streams === 1 ? groupBytes(s, v) : kBlocks * rq * KB,
    dataStart: streams === 1 ? headerBytes(v) : groups * headerBytes(v),
    /** Bytes per 16-input step within one stream, and the offset of row r in a group's step. */
    stepBytes: rq * KB,
    rowOffset: (r: number): number => Math.floor(r / rq) * regionBytes + (r % rq) * KB,
  };
}

function pack(s: Qs8FcSpec, v: Qs8FcVariant, w: Qs8FcWeights): Uint8Array {
  if (w.weights.length !== s.inputs * s.outputs || w.scales.length !== s.outputs)
    throw new EdgecnnError(
      `qs8-fc: ${w.weights.length} weights / ${w.scales.length} scales for ${s.outputs}x${s.inputs}`,
      'bad-model',
    );
  const R = v.rows;
  const L = layout(s, v);
  const groups = Math.ceil(s.outputs / R);
  const out = new Uint8Array(L.totalBytes);
  const view = new DataView(out.buffer);
  for (let g = 0; g < groups; g++) {
    const base = g * L.headerStride;
    const data = L.dataStart + g * L.dataStride;
    for (let r = 0; r < R; r++) {
      const m = g * R + r;
      if (m >= s.outputs) break;
      view.setFloat32(base + 4 * r, w.scales[m]!, true);
      view.setFloat32(base + 4 * R + 4 * r, w.bias?.[m] ?? 0, true);
      let sum = 0;
      for (let k = 0; k < s.inputs; k++) {
        const q = w.weights[m * s.inputs + k]!;
        sum += q;
        out[data + L.rowOffset(r) + Math.floor(k / KB) * L.stepBytes + (k % KB)] = q & 0xff;
      }
      if (!v.subtractZero) view.setInt32(base + 8 * R + 4 * r, -s.inZero * sum, true);
    }
  }
  return out;
}

/** [sum(a0), sum(a1), sum(a2), sum(a3)] of four i32x4 accumulators, left on the stack. */
function emitHorizontalSums(fn: FunctionBuilder, acc: readonly Local[], t: Local, u: Local): void {
  fn.localGet(acc[0]!).localGet(acc[1]!).i32x4Shuffle(0, 4, 1, 5);
  fn.localGet(acc[0]!).localGet(acc[1]!).i32x4Shuffle(2, 6, 3, 7).i32x4Add().localSet(t);
  fn.localGet(acc[2]!).localGet(acc[3]!).i32x4Shuffle(0, 4, 1, 5);
  fn.localGet(acc[2]!).localGet(acc[3]!).i32x4Shuffle(2, 6, 3, 7).i32x4Add().localSet(u);
  fn.localGet(t).localGet(u).i32x4Shuffle(0, 1, 4, 5);
  fn.localGet(t).localGet(u).i32x4Shuffle(2, 3, 6, 7).i32x4Add();
}

function emit(fn: FunctionBuilder, s: Qs8FcSpec, v: Qs8FcVariant, a: Qs8FcAddresses): void {
  if (a.input.pixelStride < s.inputs) throw new EdgecnnError('qs8-fc: input view narrower than the inputs', 'internal');
  const R = v.rows;
  const [start, end] = [fn.param(0), fn.param(1)];
  const [g, b, xp, wp, k, op, hp] = fn.locals('i32', 7);
  const [x16, xl, xh, t, u, zx] = fn.locals('v128', 6);
  const acc = fn.locals('v128', R);
  const extra = fn.locals('v128', Math.max(0, R / 4 - 2));
  const kBlocks = Math.ceil(s.inputs / KB);
  const groups = Math.ceil(s.outputs / R);
  const L = layout(s, v);
  if (v.subtractZero) fn.i32Const(s.inZero).i16x8Splat().localSet(zx);
  fn.forRange(
    g,
    (f) => f.localGet(start),
    (f) => f.localGet(end),
    1,
    () => {
      fn.forRange(
        b,
        (f) => f.i32Const(0),
        (f) => f.i32Const(s.batch),
        1,
        () => {
          for (const r of acc) fn.v128ConstI32(0).localSet(r);
          fn.localGet(b).i32Const(a.input.pixelStride).i32Mul().i32Const(a.input.addrBytes).i32Add().localSet(xp);
          fn.localGet(g).i32Const(L.headerStride).i32Mul().i32Const(a.packedWeights).i32Add().localSet(hp);
          fn.localGet(g)
            .i32Const(L.dataStride)
            .i32Mul()
            .i32Const(a.packedWeights + L.dataStart)
            .i32Add()
            .localSet(wp);
          fn.forRange(
            k,
            (f) => f.i32Const(0),
            (f) => f.i32Const(kBlocks),
            1,
            () => {
              if (v.subtractZero) {
                fn.localGet(xp).v128Load(0, 0).localSet(x16);
                fn.localGet(x16).i16x8ExtendLowI8x16S().localGet(zx).i16x8Sub().localSet(xl);
                fn.localGet(x16).i16x8ExtendHighI8x16S().localGet(zx).i16x8Sub().localSet(xh);
              } else {
                fn.localGet(xp).v128Load8x8S(0).localSet(xl);
                fn.localGet(xp).v128Load8x8S(8).localSet(xh);
              }
              for (let r = 0; r < R; r++) {
                if (v.subtractZero) {
                  fn.localGet(wp).v128Load(L.rowOffset(r), 0).localSet(t);
                  fn.localGet(t).i16x8ExtendLowI8x16S().localGet(xl).i32x4DotI16x8S();
                  fn.localGet(t).i16x8ExtendHighI8x16S().localGet(xh).i32x4DotI16x8S().i32x4Add();
                  fn.localGet(acc[r]!).i32x4Add().localSet(acc[r]!);
                } else {
                  fn.localGet(acc[r]!);
                  fn.localGet(wp).v128Load8x8S(L.rowOffset(r)).localGet(xl).i32x4DotI16x8S().i32x4Add();
                  fn.localGet(wp)
                    .v128Load8x8S(L.rowOffset(r) + 8)
                    .localGet(xh)
                    .i32x4DotI16x8S()
                    .i32x4Add()
                    .localSet(acc[r]!);
                }
              }
              fn.localGet(xp).i32Const(KB).i32Add().localSet(xp);
              fn.localGet(wp).i32Const(L.stepBytes).i32Add().localSet(wp);
            },
          );
          fn.localGet(b).i32Const(s.outputs).i32Mul().localGet(g).i32Const(R).i32Mul().i32Add();
          fn.i32Const(4).i32Mul().i32Const(a.outputAddr).i32Add().localSet(op);
          // Per 4 rows: horizontal sums (+ -z_in * sum(w)), then y = f32(sum) * scale + bias.
          const quads = R / 4;
          const outs = [xl, xh, ...extra];
          for (let q = 0; q < quads; q++) {
            emitHorizontalSums(fn, acc.slice(4 * q, 4 * q + 4), t, u);
            if (!v.subtractZero)
              fn.localGet(hp)
                .v128Load(8 * R + 16 * q, 0)
                .i32x4Add();
            fn.f32x4ConvertI32x4S();
            fn.localGet(hp)
              .v128Load(16 * q, 0)
              .f32x4Mul();
            fn.localGet(hp)
              .v128Load(4 * R + 16 * q, 0)
              .f32x4Add()
              .localSet(outs[q]!);
          }
          const store = (rows: number): void => {
            for (let q = 0; q < quads; q++) {
              const n = Math.min(4, rows - 4 * q);
              if (n === 4)
                fn.localGet(op)
                  .localGet(outs[q]!)
                  .v128Store(16 * q, 0);
              else
                for (let r = 0; r < n; r++)
                  fn.localGet(op)
                    .localGet(outs[q]!)
                    .v128Store32Lane(r, 16 * q + 4 * r, 0);
            }
          };
          const tail = s.outputs % R;
          if (tail === 0) {
            store(R);
          } else {
            // The last group writes only its real outputs (the next value may follow the output directly).
            fn.localGet(g)
              .i32Const(groups - 1)
              .i32Eq()
              .if();
            store(tail);
            fn.else();
            store(R);
            fn.end();
          }
        },
      );
    },
  );
}

/** The int8 fully connected family with a float output: ids `qs8-fc-f32-<tile>-wasmsimd`. */
export const qs8Fc = {
  family: 'qs8-fc',
  variants: QS8_FC_VARIANTS,
  id: (_s: Qs8FcSpec, v: Qs8FcVariant): string => `qs8-fc-f32-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8FcSpec, v: Qs8FcVariant): number => Math.ceil(s.outputs / v.rows),
  macs: (s: Qs8FcSpec): number => s.batch * s.inputs * s.outputs,
  pack,
  emit,
} as const;
