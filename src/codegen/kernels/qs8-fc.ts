/**
 * int8 fully connected layer with a float output (a classifier's last Gemm, whose output is not quantized):
 * y[b, m] = f32(sum_k (x[b, k] - z_in) * w[m, k]) * (s_in * s_w[m]) + bias[m], the integer sum exact. The weights
 * stream once (1 byte each instead of 4: a 1000 x 1024 classifier is memory-bound at one image). Work items are
 * groups of 4 output channels; per 16 inputs, x is widened once and shared by the 4 rows' i32x4.dot_i16x8_s.
 * Packed per group: 4 f32 scales, 4 f32 biases, then per 16 inputs 4 rows x 16 int8 weights (zero-padded rows
 * and inputs; x may be over-read by up to 15 bytes, within the arena's slack).
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder } from '../wasm/index.js';
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

export const QS8_FC_VARIANTS: readonly KernelVariant[] = [{ tile: '4x16', isa: 'wasmsimd' }];

const ROWS = 4;
const KB = 16;
const groupBytes = (s: Qs8FcSpec): number => 32 + Math.ceil(s.inputs / KB) * ROWS * KB;

function pack(s: Qs8FcSpec, w: Qs8FcWeights): Uint8Array {
  if (w.weights.length !== s.inputs * s.outputs || w.scales.length !== s.outputs)
    throw new EdgecnnError(
      `qs8-fc: ${w.weights.length} weights / ${w.scales.length} scales for ${s.outputs}x${s.inputs}`,
      'bad-model',
    );
  const groups = Math.ceil(s.outputs / ROWS);
  const out = new Uint8Array(groups * groupBytes(s));
  const view = new DataView(out.buffer);
  for (let g = 0; g < groups; g++) {
    const base = g * groupBytes(s);
    for (let r = 0; r < ROWS; r++) {
      const m = g * ROWS + r;
      if (m >= s.outputs) break;
      view.setFloat32(base + 4 * r, w.scales[m]!, true);
      view.setFloat32(base + 16 + 4 * r, w.bias?.[m] ?? 0, true);
      for (let k = 0; k < s.inputs; k++) {
        out[base + 32 + Math.floor(k / KB) * ROWS * KB + r * KB + (k % KB)] = w.weights[m * s.inputs + k]! & 0xff;
      }
    }
  }
  return out;
}

function emit(fn: FunctionBuilder, s: Qs8FcSpec, _v: KernelVariant, a: Qs8FcAddresses): void {
  if (a.input.pixelStride < s.inputs) throw new EdgecnnError('qs8-fc: input view narrower than the inputs', 'internal');
  const [start, end] = [fn.param(0), fn.param(1)];
  const [g, b, xp, wp, k, op] = fn.locals('i32', 6);
  const [x16, xl, xh, t, u, zx] = fn.locals('v128', 6);
  fn.i32Const(s.inZero).i16x8Splat().localSet(zx);
  const acc = fn.locals('v128', ROWS);
  const kBlocks = Math.ceil(s.inputs / KB);
  const groups = Math.ceil(s.outputs / ROWS);
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
          fn.localGet(g)
            .i32Const(groupBytes(s))
            .i32Mul()
            .i32Const(a.packedWeights + 32)
            .i32Add()
            .localSet(wp);
          fn.forRange(
            k,
            (f) => f.i32Const(0),
            (f) => f.i32Const(kBlocks),
            1,
            () => {
              fn.localGet(xp).v128Load(0, 0).localSet(x16);
              fn.localGet(x16).i16x8ExtendLowI8x16S().localGet(zx).i16x8Sub().localSet(xl);
              fn.localGet(x16).i16x8ExtendHighI8x16S().localGet(zx).i16x8Sub().localSet(xh);
              for (let r = 0; r < ROWS; r++) {
                fn.localGet(wp)
                  .v128Load(r * KB, 0)
                  .localSet(t);
                fn.localGet(t).i16x8ExtendLowI8x16S().localGet(xl).i32x4DotI16x8S();
                fn.localGet(t).i16x8ExtendHighI8x16S().localGet(xh).i32x4DotI16x8S().i32x4Add();
                fn.localGet(acc[r]!).i32x4Add().localSet(acc[r]!);
              }
              fn.localGet(xp).i32Const(KB).i32Add().localSet(xp);
              fn.localGet(wp)
                .i32Const(ROWS * KB)
                .i32Add()
                .localSet(wp);
            },
          );
          // Horizontal sums of the 4 accumulators into one vector [sum0, sum1, sum2, sum3].
          fn.localGet(acc[0]!).localGet(acc[1]!).i32x4Shuffle(0, 4, 1, 5);
          fn.localGet(acc[0]!).localGet(acc[1]!).i32x4Shuffle(2, 6, 3, 7).i32x4Add().localSet(t);
          fn.localGet(acc[2]!).localGet(acc[3]!).i32x4Shuffle(0, 4, 1, 5);
          fn.localGet(acc[2]!).localGet(acc[3]!).i32x4Shuffle(2, 6, 3, 7).i32x4Add().localSet(u);
          fn.localGet(t).localGet(u).i32x4Shuffle(0, 1, 4, 5);
          fn.localGet(t).localGet(u).i32x4Shuffle(2, 3, 6, 7).i32x4Add().f32x4ConvertI32x4S();
          fn.localGet(g).i32Const(groupBytes(s)).i32Mul().i32Const(a.packedWeights).i32Add().localTee(wp);
          fn.v128Load(0, 0).f32x4Mul().localGet(wp).v128Load(16, 0).f32x4Add().localSet(t);
          fn.localGet(b).i32Const(s.outputs).i32Mul().localGet(g).i32Const(ROWS).i32Mul().i32Add();
          fn.i32Const(4).i32Mul().i32Const(a.outputAddr).i32Add().localSet(op);
          const tail = s.outputs % ROWS;
          if (tail === 0) {
            fn.localGet(op).localGet(t).v128Store(0, 0);
          } else {
            // The last group writes only its real outputs (the next value may follow the output directly).
            fn.localGet(g)
              .i32Const(groups - 1)
              .i32Eq()
              .if();
            for (let r = 0; r < tail; r++)
              fn.localGet(op)
                .localGet(t)
                .v128Store32Lane(r, 4 * r, 0);
            fn.else();
            fn.localGet(op).localGet(t).v128Store(0, 0);
            fn.end();
          }
        },
      );
    },
  );
}

/** The int8 fully connected family with a float output: id `qs8-fc-f32-4x16-wasmsimd`. */
export const qs8Fc = {
  family: 'qs8-fc',
  variants: QS8_FC_VARIANTS,
  id: (_s: Qs8FcSpec, v: KernelVariant): string => `qs8-fc-f32-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8FcSpec): number => Math.ceil(s.outputs / ROWS),
  macs: (s: Qs8FcSpec): number => s.batch * s.inputs * s.outputs,
  pack,
  emit,
} as const;
