/**
 * int8 fully connected layer with a float output (a classifier's last Gemm, whose output is not quantized):
 * y[b, m] = f32(sum_k (x[b, k] - z_in) * w[m, k]) * (s_in * s_w[m]) + bias[m], the integer sum exact. The weights
 * stream once (1 byte each instead of 4: a 1000 x 1280 classifier is memory-bound at one image). Work items are
 * groups of `rows` output channels; per 16 inputs, x is widened once (v128.load8x8_s) and shared by the group's
 * rows, each row's weights widen in the load too and feed i32x4.dot_i16x8_s, one accumulator per row, summed
 * horizontally once at the end. The zero point is not subtracted per element: sum(x * w) - z_in * sum(w) is the
 * same i32 (the packed -z_in * sum(w) joins after the horizontal sums). Packed per group: f32 scales, f32 biases,
 * i32 -z_in * sum(w) (rows each), then per 16 inputs rows x 16 int8 weights (zero-padded rows and inputs; x may
 * be over-read by up to 15 bytes, within the arena's slack).
 * Variant `4x16z` (the first kernel) subtracts z_in from x and widens each 16 weights with one load and two
 * extends; kept as a tuning candidate and benchmark baseline.
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

/** A variant: `rows` output channels per work item; `subtractZero` = the first kernel's inner loop. */
export interface Qs8FcVariant extends KernelVariant {
  readonly rows: number;
  readonly subtractZero: boolean;
}

/** The variants, in cost-model order (measured: `node dist/bench/qs8-kernels.js fc`). */
export const QS8_FC_VARIANTS: readonly Qs8FcVariant[] = [
  { tile: '4x16', isa: 'wasmsimd', rows: 4, subtractZero: false },
  { tile: '8x16', isa: 'wasmsimd', rows: 8, subtractZero: false },
  { tile: '4x16z', isa: 'wasmsimd', rows: 4, subtractZero: true },
];

const KB = 16;
/** Header bytes of a group: scales, biases and (without `subtractZero`) -z_in * sum(w), 4 bytes per row each. */
const headerBytes = (v: Qs8FcVariant): number => (v.subtractZero ? 8 : 12) * v.rows;
const groupBytes = (s: Qs8FcSpec, v: Qs8FcVariant): number => headerBytes(v) + Math.ceil(s.inputs / KB) * v.rows * KB;

function pack(s: Qs8FcSpec, v: Qs8FcVariant, w: Qs8FcWeights): Uint8Array {
  if (w.weights.length !== s.inputs * s.outputs || w.scales.length !== s.outputs)
    throw new EdgecnnError(
      `qs8-fc: ${w.weights.length} weights / ${w.scales.length} scales for ${s.outputs}x${s.inputs}`,
      'bad-model',
    );
  const R = v.rows;
  const groups = Math.ceil(s.outputs / R);
  const out = new Uint8Array(groups * groupBytes(s, v));
  const view = new DataView(out.buffer);
  for (let g = 0; g < groups; g++) {
    const base = g * groupBytes(s, v);
    const data = base + headerBytes(v);
    for (let r = 0; r < R; r++) {
      const m = g * R + r;
      if (m >= s.outputs) break;
      view.setFloat32(base + 4 * r, w.scales[m]!, true);
      view.setFloat32(base + 4 * R + 4 * r, w.bias?.[m] ?? 0, true);
      let sum = 0;
      for (let k = 0; k < s.inputs; k++) {
        const q = w.weights[m * s.inputs + k]!;
        sum += q;
        out[data + Math.floor(k / KB) * R * KB + r * KB + (k % KB)] = q & 0xff;
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
  const kBlocks = Math.ceil(s.inputs / KB);
  const groups = Math.ceil(s.outputs / R);
  const gBytes = groupBytes(s, v);
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
          fn.localGet(g).i32Const(gBytes).i32Mul().i32Const(a.packedWeights).i32Add().localTee(hp);
          fn.i32Const(headerBytes(v)).i32Add().localSet(wp);
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
                  fn.localGet(wp)
                    .v128Load(r * KB, 0)
                    .localSet(t);
                  fn.localGet(t).i16x8ExtendLowI8x16S().localGet(xl).i32x4DotI16x8S();
                  fn.localGet(t).i16x8ExtendHighI8x16S().localGet(xh).i32x4DotI16x8S().i32x4Add();
                  fn.localGet(acc[r]!).i32x4Add().localSet(acc[r]!);
                } else {
                  fn.localGet(acc[r]!);
                  fn.localGet(wp)
                    .v128Load8x8S(r * KB)
                    .localGet(xl)
                    .i32x4DotI16x8S()
                    .i32x4Add();
                  fn.localGet(wp)
                    .v128Load8x8S(r * KB + 8)
                    .localGet(xh)
                    .i32x4DotI16x8S()
                    .i32x4Add()
                    .localSet(acc[r]!);
                }
              }
              fn.localGet(xp).i32Const(KB).i32Add().localSet(xp);
              fn.localGet(wp)
                .i32Const(R * KB)
                .i32Add()
                .localSet(wp);
            },
          );
          fn.localGet(b).i32Const(s.outputs).i32Mul().localGet(g).i32Const(R).i32Mul().i32Add();
          fn.i32Const(4).i32Mul().i32Const(a.outputAddr).i32Add().localSet(op);
          // Per 4 rows: horizontal sums (+ -z_in * sum(w)), then y = f32(sum) * scale + bias.
          const quads = R / 4;
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
              .localSet(q === 0 ? xl : xh);
          }
          const store = (rows: number): void => {
            for (let q = 0; q < quads; q++) {
              const n = Math.min(4, rows - 4 * q);
              if (n === 4)
                fn.localGet(op)
                  .localGet(q === 0 ? xl : xh)
                  .v128Store(16 * q, 0);
              else
                for (let r = 0; r < n; r++)
                  fn.localGet(op)
                    .localGet(q === 0 ? xl : xh)
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
