/**
 * qs8 elementwise kernels over NHWC pixels (pixel strides; float strides in floats, int8 strides in bytes):
 * quantize f32 -> int8 (q = clamp(nearest(x / scale) + zero)), dequantize int8 -> f32 ((q - zero) * scale) and
 * add with requantization (y = clamp(nearest(((a - za) * sa + (b - zb) * sb) / sy) + zy)), mul likewise
 * (y = clamp(nearest(((a - za) * sa) * ((b - zb) * sb) / sy) + zy); b may be one pixel per image, the
 * squeeze-and-excitation scale broadcast over H x W), and `lut`: any unary
 * function between a dequantize and a quantize as a 256-byte table built at compile time (y = table[x + 128]).
 * Each does the same float32 operations as the references, so results match them exactly.
 * Channels go in blocks of 8 (two f32x4); a partial last block over-reads at most 12 bytes, stores lane by lane.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { emitStoreBytes } from './requantize.js';
import type { ActivationRef, KernelVariant } from './types.js';

export const QS8_ELTWISE_OPS = ['quantize', 'dequantize', 'add', 'mul', 'lut'] as const;
export type Qs8EltwiseOp = (typeof QS8_ELTWISE_OPS)[number];

/** One elementwise step: `pixels` pixels of `channels` channels; scales/zero points in the signed int8 domain. */
export interface Qs8EltwiseSpec {
  op: Qs8EltwiseOp;
  pixels: number;
  channels: number;
  /** Input scale/zero (quantize: the output's; dequantize: the input's; add: input a's). */
  scaleA: number;
  zeroA: number;
  /** add/mul: input b's. */
  scaleB?: number;
  zeroB?: number;
  /** mul only: b holds one pixel per image, broadcast over this many pixels of a (H x W). */
  bBroadcastPixels?: number;
  /** add/mul: the output's, and its clamp (fused ReLU narrows it). */
  scaleOut?: number;
  zeroOut?: number;
  outMin?: number;
  outMax?: number;
}

export interface Qs8EltwiseAddresses {
  a: ActivationRef;
  /** add only. */
  b?: ActivationRef;
  out: ActivationRef;
  /** lut only: the 256-byte table (entry x + 128 for input x). */
  table?: number;
}

export const QS8_ELTWISE_VARIANTS: readonly KernelVariant[] = [{ tile: '8c', isa: 'wasmsimd' }];

function check(s: Qs8EltwiseSpec): void {
  const ok = (x: number | undefined): boolean => x !== undefined && Number.isFinite(x) && x > 0;
  const zok = (z: number | undefined): boolean => z !== undefined && Number.isInteger(z) && z >= -128 && z <= 127;
  const bad =
    !ok(s.scaleA) ||
    !zok(s.zeroA) ||
    ((s.op === 'add' || s.op === 'mul') && (!ok(s.scaleB) || !zok(s.zeroB) || !ok(s.scaleOut) || !zok(s.zeroOut)));
  if (bad) throw new EdgecnnError(`qs8-${s.op}: bad scale or zero point`, 'bad-model');
  if (!Number.isInteger(s.channels) || s.channels < 1 || !Number.isInteger(s.pixels) || s.pixels < 0) {
    throw new EdgecnnError(`qs8-${s.op}: bad shape ${s.pixels} x ${s.channels}`, 'bad-model');
  }
}

/** Sweep pixels [start, end), channel blocks of 8; `body(lanes, off)` with per-operand pointers at the block. */
function sweep(
  fn: FunctionBuilder,
  s: Qs8EltwiseSpec,
  ops: { ref: ActivationRef; elemBytes: number; ptr: Local; perImage?: number }[],
  body: (lanes: number) => void,
): void {
  const [start, end] = [fn.param(0), fn.param(1)];
  const [p] = fn.locals('i32', 1);
  const base = ops.map(() => fn.local('i32'));
  fn.forRange(
    p,
    (b) => b.localGet(start),
    (b) => b.localGet(end),
    1,
    () => {
      ops.forEach((o, i) => {
        fn.localGet(p);
        // A broadcast operand has one pixel per image.
        if (o.perImage !== undefined) fn.i32Const(o.perImage).i32DivU();
        fn.i32Const(o.ref.pixelStride * o.elemBytes)
          .i32Mul()
          .i32Const(o.ref.addrBytes)
          .i32Add();
        fn.localSet(base[i]!);
      });
      for (let c = 0; c < s.channels; c += 8) {
        ops.forEach((o, i) => {
          fn.localGet(base[i]!);
          if (c > 0) fn.i32Const(c * o.elemBytes).i32Add();
          fn.localSet(o.ptr);
        });
        body(Math.min(8, s.channels - c));
      }
    },
  );
}

/** Store `lanes` floats of v0 (lanes 0-3) and v1 (4-7) at ptr. */
function storeFloats(fn: FunctionBuilder, ptr: Local, v0: Local, v1: Local, lanes: number): void {
  for (const [v, first] of [
    [v0, 0],
    [v1, 4],
  ] as const) {
    const n = Math.min(4, lanes - first);
    if (n <= 0) continue;
    if (n === 4)
      fn.localGet(ptr)
        .localGet(v)
        .v128Store(first * 4, 0);
    else
      for (let i = 0; i < n; i++)
        fn.localGet(ptr)
          .localGet(v)
          .v128Store32Lane(i, (first + i) * 4, 0);
  }
}

/** Push f32x4 of int8 lanes 0-3 (`high` false) or 4-7 of the i16x8 in `x`, as (x - zero) * scale. */
function dequantHalf(fn: FunctionBuilder, x: Local, high: boolean, zero: Local, scale: Local): void {
  fn.localGet(x);
  if (high) fn.i32x4ExtendHighI16x8S();
  else fn.i32x4ExtendLowI16x8S();
  fn.f32x4ConvertI32x4S().localGet(zero).f32x4Sub().localGet(scale).f32x4Mul();
}

/** Per element y = table[x + 128]: scalar (no 256-entry lookup exists in SIMD128; the ops are tiny). */
function emitLut(fn: FunctionBuilder, s: Qs8EltwiseSpec, a: Qs8EltwiseAddresses): void {
  if (a.table === undefined) throw new EdgecnnError('qs8-lut: missing table', 'internal');
  const [start, end] = [fn.param(0), fn.param(1)];
  const [p, ip, op, c] = fn.locals('i32', 4);
  fn.forRange(
    p,
    (b) => b.localGet(start),
    (b) => b.localGet(end),
    1,
    () => {
      fn.localGet(p).i32Const(a.a.pixelStride).i32Mul().i32Const(a.a.addrBytes).i32Add().localSet(ip);
      fn.localGet(p).i32Const(a.out.pixelStride).i32Mul().i32Const(a.out.addrBytes).i32Add().localSet(op);
      fn.forRange(
        c,
        (b) => b.i32Const(0),
        (b) => b.i32Const(s.channels),
        1,
        () => {
          fn.localGet(op).localGet(c).i32Add();
          fn.localGet(ip)
            .localGet(c)
            .i32Add()
            .i32Load8S()
            .i32Const(a.table! + 128)
            .i32Add()
            .i32Load8U();
          fn.i32Store8();
        },
      );
    },
  );
}

function emit(fn: FunctionBuilder, s: Qs8EltwiseSpec, _v: KernelVariant, a: Qs8EltwiseAddresses): void {
  check(s);
  if (s.op === 'lut') return emitLut(fn, s, a);
  const [pa, pb, po] = fn.locals('i32', 3);
  const [x, y, v0, v1, sA, zA, sB, zB, sO, zO, lo, hi] = fn.locals('v128', 12);
  const splat = (l: Local, v: number): void => void fn.v128ConstF32(v).localSet(l);
  splat(sA, s.scaleA);
  splat(zA, s.zeroA);
  if (s.op === 'quantize') {
    sweep(
      fn,
      s,
      [
        { ref: a.a, elemBytes: 4, ptr: pa },
        { ref: a.out, elemBytes: 1, ptr: po },
      ],
      (lanes) => {
        const q = (off: number): void => {
          // The saturating conversion and narrowings clamp to [-128, 127] by themselves.
          fn.localGet(pa).v128Load(off, 0).localGet(sA).f32x4Div().f32x4Nearest().localGet(zA).f32x4Add();
          fn.i32x4TruncSatF32x4S();
        };
        q(0);
        if (lanes > 4) q(16);
        else fn.v128ConstI32(0);
        fn.i16x8NarrowI32x4S().localTee(x).localGet(x).i8x16NarrowI16x8S().localSet(x);
        emitStoreBytes(fn, po, 0, x, lanes);
      },
    );
    return;
  }
  if (s.op === 'dequantize') {
    sweep(
      fn,
      s,
      [
        { ref: a.a, elemBytes: 1, ptr: pa },
        { ref: a.out, elemBytes: 4, ptr: po },
      ],
      (lanes) => {
        fn.localGet(pa).v128Load8x8S().localSet(x);
        dequantHalf(fn, x, false, zA, sA);
        fn.localSet(v0);
        dequantHalf(fn, x, true, zA, sA);
        fn.localSet(v1);
        storeFloats(fn, po, v0, v1, lanes);
      },
    );
    return;
  }
  if (!a.b) throw new EdgecnnError(`qs8-${s.op}: missing input b`, 'internal');
  splat(sB, s.scaleB!);
  splat(zB, s.zeroB!);
  splat(sO, s.scaleOut!);
  splat(zO, s.zeroOut!);
  splat(lo, s.outMin ?? -128);
  splat(hi, s.outMax ?? 127);
  sweep(
    fn,
    s,
    [
      { ref: a.a, elemBytes: 1, ptr: pa },
      s.op === 'mul' && s.bBroadcastPixels !== undefined
        ? { ref: a.b, elemBytes: 1, ptr: pb, perImage: s.bBroadcastPixels }
        : { ref: a.b, elemBytes: 1, ptr: pb },
      { ref: a.out, elemBytes: 1, ptr: po },
    ],
    (lanes) => {
      fn.localGet(pa).v128Load8x8S().localSet(x);
      fn.localGet(pb).v128Load8x8S().localSet(y);
      for (const high of [false, true]) {
        dequantHalf(fn, x, high, zA, sA);
        dequantHalf(fn, y, high, zB, sB);
        if (s.op === 'mul') fn.f32x4Mul();
        else fn.f32x4Add();
        fn.localGet(sO).f32x4Div().f32x4Nearest().localGet(zO).f32x4Add();
        if ((s.outMin ?? -128) > -128) fn.localGet(lo).f32x4Pmax();
        if ((s.outMax ?? 127) < 127) fn.localGet(hi).f32x4Pmin();
        fn.i32x4TruncSatF32x4S();
      }
      fn.i16x8NarrowI32x4S().localTee(v0).localGet(v0).i8x16NarrowI16x8S().localSet(v0);
      emitStoreBytes(fn, po, 0, v0, lanes);
    },
  );
}

/** The qs8 elementwise family; ids `qs8-<op>[-minmax]-8c-wasmsimd` (quantize, dequantize, add, mul, lut). */
export const qs8Eltwise = {
  family: 'qs8-eltwise',
  variants: QS8_ELTWISE_VARIANTS,
  supports: (_s: Qs8EltwiseSpec, _v: KernelVariant): boolean => true,
  id: (s: Qs8EltwiseSpec, v: KernelVariant): string =>
    `qs8-${s.op}${(s.op === 'add' || s.op === 'mul') && ((s.outMin ?? -128) > -128 || (s.outMax ?? 127) < 127) ? '-minmax' : ''}-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8EltwiseSpec): number => s.pixels,
  emit,
  bytesMoved: (s: Qs8EltwiseSpec): number =>
    s.pixels * s.channels * (s.op === 'add' || s.op === 'mul' ? 3 : s.op === 'lut' ? 2 : 5),
} as const;
