/**
 * qs8 elementwise kernels over NHWC pixels (pixel strides; float strides in floats, int8 strides in bytes):
 * quantize f32 -> int8 (q = clamp(nearest(x / scale) + zero)), dequantize int8 -> f32 ((q - zero) * scale) and
 * add with requantization (y = clamp(nearest(((a - za) * sa + (b - zb) * sb) / sy) + zy)), mul likewise
 * (y = clamp(nearest(((a - za) * sa) * ((b - zb) * sb) / sy) + zy); b may be one pixel per image, the
 * squeeze-and-excitation scale broadcast over H x W), and `lut`: any unary
 * function between a dequantize and a quantize as a 256-byte table built at compile time (y = table[x + 128]).
 * Each does the same float32 operations as the references, so results match them exactly (except the broadcast
 * mul, which premultiplies its scales: within 1 LSB).
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
  /** lut only: the 256-byte table from packLut (indexed by the input's unsigned byte). */
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
  ops: { ref: ActivationRef; elemBytes: number; ptr: Local }[],
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

/**
 * The lut kernel's table from the 256 results for inputs -128..127 (entry x + 128 for input x): reordered so the
 * input's unsigned byte indexes it (x & 255), which saves re-biasing every element.
 */
export function packLut(table: Int8Array): Uint8Array {
  if (table.length !== 256)
    throw new EdgecnnError(`qs8-lut: table of ${table.length} entries, expected 256`, 'internal');
  return Uint8Array.from({ length: 256 }, (_, u) => table[u ^ 0x80]! & 0xff);
}

/** Bytes per unrolled step of the lut's byte loops. */
const LUT_UNROLL = 16;

/**
 * Per element y = table[x & 255] (table from packLut): scalar (no 256-entry lookup exists in SIMD128), unrolled so
 * that each byte costs a load, a table load and a store with constant offsets. Dense views are one run of bytes.
 */
function emitLut(fn: FunctionBuilder, s: Qs8EltwiseSpec, a: Qs8EltwiseAddresses): void {
  if (a.table === undefined) throw new EdgecnnError('qs8-lut: missing table', 'internal');
  const table = a.table;
  const [start, end] = [fn.param(0), fn.param(1)];
  const [p, ip, op, stop] = fn.locals('i32', 4);
  const bytes = (k: number): void => {
    for (let i = 0; i < k; i++) {
      fn.localGet(op).localGet(ip).i32Load8U(i).i32Load8U(table).i32Store8(i);
    }
  };
  /** Bytes [ip, ip + n) to [op, ...): unrolled runs of LUT_UNROLL while they fit, then one byte at a time. */
  const run = (n: (f: FunctionBuilder) => void): void => {
    n(fn);
    fn.localGet(ip).i32Add().localSet(stop);
    for (const step of [LUT_UNROLL, 1]) {
      const exit = fn.block();
      const top = fn.loop();
      fn.localGet(ip).i32Const(step).i32Add().localGet(stop).i32GtU().brIf(exit);
      bytes(step);
      fn.localGet(ip).i32Const(step).i32Add().localSet(ip);
      fn.localGet(op).i32Const(step).i32Add().localSet(op);
      fn.br(top);
      fn.end().end();
    }
  };
  const C = s.channels;
  if (a.a.pixelStride === C && a.out.pixelStride === C) {
    fn.localGet(start).i32Const(C).i32Mul().i32Const(a.a.addrBytes).i32Add().localSet(ip);
    fn.localGet(start).i32Const(C).i32Mul().i32Const(a.out.addrBytes).i32Add().localSet(op);
    run((f) => f.localGet(end).localGet(start).i32Sub().i32Const(C).i32Mul());
    return;
  }
  fn.forRange(
    p,
    (b) => b.localGet(start),
    (b) => b.localGet(end),
    1,
    () => {
      fn.localGet(p).i32Const(a.a.pixelStride).i32Mul().i32Const(a.a.addrBytes).i32Add().localSet(ip);
      fn.localGet(p).i32Const(a.out.pixelStride).i32Mul().i32Const(a.out.addrBytes).i32Add().localSet(op);
      run((f) => f.i32Const(C));
    },
  );
}

/**
 * Mul by a per-image channel vector (the SE scale): images outer, channel blocks next, pixels inner, so each block
 * of b is dequantized once per image, premultiplied by s_a / s_out: per element y = nearest((a - z_a) * d) + z_out.
 * The float rounding differs from the reference's ((a - z_a) s_a)(DQ(b)) / s_out, so a value on a rounding tie may
 * land 1 LSB away (as onnxruntime's own QLinearMul does).
 */
function emitMulBroadcast(
  fn: FunctionBuilder,
  s: Qs8EltwiseSpec,
  a: Qs8EltwiseAddresses,
  b: ActivationRef,
  v: Record<'x' | 'v0' | 'd0' | 'd1' | 'sA' | 'zA' | 'sB' | 'zB' | 'sO' | 'zO' | 'lo' | 'hi', Local>,
): void {
  const hw = s.bBroadcastPixels!;
  const [start, end] = [fn.param(0), fn.param(1)];
  const [img, p0, p1, p, pa, po, pb] = fn.locals('i32', 7);
  fn.forRange(
    img,
    (f) => f.localGet(start).i32Const(hw).i32DivU(),
    (f) =>
      f
        .localGet(end)
        .i32Const(hw - 1)
        .i32Add()
        .i32Const(hw)
        .i32DivU(),
    1,
    () => {
      // [p0, p1): this image's pixels inside [start, end).
      fn.localGet(img).i32Const(hw).i32Mul().localTee(p0).localGet(start).localGet(p0).localGet(start).i32GtU();
      fn.select().localSet(p0);
      fn.localGet(img).i32Const(hw).i32Mul().i32Const(hw).i32Add().localTee(p1).localGet(end);
      fn.localGet(p1).localGet(end).i32LtU().select().localSet(p1);
      for (let c = 0; c < s.channels; c += 8) {
        const lanes = Math.min(8, s.channels - c);
        fn.localGet(img)
          .i32Const(b.pixelStride)
          .i32Mul()
          .i32Const(b.addrBytes + c)
          .i32Add()
          .v128Load8x8S()
          .localSet(v.x);
        // d = DQ(b) * (s_a / s_out): one multiply per element remains (no division).
        dequantHalf(fn, v.x, false, v.zB, v.sB);
        fn.v128ConstF32(Math.fround(s.scaleA / s.scaleOut!))
          .f32x4Mul()
          .localSet(v.d0);
        dequantHalf(fn, v.x, true, v.zB, v.sB);
        fn.v128ConstF32(Math.fround(s.scaleA / s.scaleOut!))
          .f32x4Mul()
          .localSet(v.d1);
        fn.localGet(p0)
          .i32Const(a.a.pixelStride)
          .i32Mul()
          .i32Const(a.a.addrBytes + c)
          .i32Add()
          .localSet(pa);
        fn.localGet(p0)
          .i32Const(a.out.pixelStride)
          .i32Mul()
          .i32Const(a.out.addrBytes + c)
          .i32Add()
          .localSet(po);
        fn.forRange(
          p,
          (f) => f.localGet(p0),
          (f) => f.localGet(p1),
          1,
          () => {
            fn.localGet(pa).v128Load8x8S().localSet(v.x);
            for (const high of [false, true]) {
              fn.localGet(v.x);
              if (high) fn.i32x4ExtendHighI16x8S();
              else fn.i32x4ExtendLowI16x8S();
              fn.f32x4ConvertI32x4S().localGet(v.zA).f32x4Sub();
              fn.localGet(high ? v.d1 : v.d0)
                .f32x4Mul()
                .f32x4Nearest()
                .localGet(v.zO)
                .f32x4Add();
              if ((s.outMin ?? -128) > -128) fn.localGet(v.lo).f32x4Pmax();
              if ((s.outMax ?? 127) < 127) fn.localGet(v.hi).f32x4Pmin();
              fn.i32x4TruncSatF32x4S();
            }
            fn.i16x8NarrowI32x4S().localTee(v.v0).localGet(v.v0).i8x16NarrowI16x8S().localSet(v.v0);
            emitStoreBytes(fn, po, 0, v.v0, lanes);
            fn.localGet(pa).i32Const(a.a.pixelStride).i32Add().localSet(pa);
            fn.localGet(po).i32Const(a.out.pixelStride).i32Add().localSet(po);
          },
        );
      }
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
  if (s.op === 'mul' && s.bBroadcastPixels !== undefined) {
    emitMulBroadcast(fn, s, a, a.b, { x, v0, d0: v1, d1: y, sA, zA, sB, zB, sO, zO, lo, hi });
    return;
  }
  sweep(
    fn,
    s,
    [
      { ref: a.a, elemBytes: 1, ptr: pa },
      { ref: a.b, elemBytes: 1, ptr: pb },
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

/** Quantize a dense NCHW float32 graph input straight into NHWC int8 (the layout change and Q in one pass). */
export interface Qs8QuantizeNchwSpec {
  batch: number;
  channels: number;
  /** H x W. */
  pixels: number;
  scale: number;
  zero: number;
}

/**
 * Work items are quads of 4 pixels of one image (the last quad of an image may be partial): per channel, one
 * f32x4 from its plane is quantized (as QuantizeLinear: division, half-to-even, saturation) and its 4 bytes are
 * scattered to the 4 pixels. Planes may be over-read by up to 12 bytes (the arena's slack).
 */
function emitQuantizeNchw(
  fn: FunctionBuilder,
  s: Qs8QuantizeNchwSpec,
  a: { input: number; output: ActivationRef },
): void {
  if (a.output.pixelStride < s.channels || !(s.scale > 0))
    throw new EdgecnnError('qs8-quantize-nchw: bad view or scale', 'internal');
  const quads = Math.ceil(s.pixels / 4);
  const tail = s.pixels % 4;
  const [start, end] = [fn.param(0), fn.param(1)];
  const [item, img, hw, ip, op] = fn.locals('i32', 5);
  const [v] = fn.locals('v128', 1);
  const scatter = (pixels: number): void => {
    for (let c = 0; c < s.channels; c++) {
      fn.localGet(ip)
        .v128Load(c * s.pixels * 4, 0)
        .v128ConstF32(s.scale)
        .f32x4Div()
        .f32x4Nearest()
        .v128ConstF32(s.zero)
        .f32x4Add()
        .i32x4TruncSatF32x4S();
      fn.v128ConstI32(0).i16x8NarrowI32x4S().localTee(v).localGet(v).i8x16NarrowI16x8S().localSet(v);
      for (let k = 0; k < pixels; k++)
        fn.localGet(op)
          .localGet(v)
          .v128Store8Lane(k, k * a.output.pixelStride + c);
    }
  };
  fn.forRange(
    item,
    (f) => f.localGet(start),
    (f) => f.localGet(end),
    1,
    () => {
      fn.localGet(item).i32Const(quads).i32DivU().localSet(img);
      fn.localGet(item).i32Const(quads).i32RemU().i32Const(4).i32Mul().localSet(hw);
      fn.localGet(img)
        .i32Const(s.channels * s.pixels)
        .i32Mul()
        .localGet(hw)
        .i32Add();
      fn.i32Const(4).i32Mul().i32Const(a.input).i32Add().localSet(ip);
      fn.localGet(img).i32Const(s.pixels).i32Mul().localGet(hw).i32Add();
      fn.i32Const(a.output.pixelStride).i32Mul().i32Const(a.output.addrBytes).i32Add().localSet(op);
      if (tail === 0) {
        scatter(4);
      } else {
        fn.localGet(hw)
          .i32Const(s.pixels - tail)
          .i32Eq()
          .if();
        scatter(tail);
        fn.else();
        scatter(4);
        fn.end();
      }
    },
  );
}

/** id `qs8-quantize-nchw-4p-wasmsimd`. */
export const qs8QuantizeNchw = {
  family: 'qs8-eltwise',
  id: (): string => 'qs8-quantize-nchw-4p-wasmsimd',
  parallelExtent: (s: Qs8QuantizeNchwSpec): number => s.batch * Math.ceil(s.pixels / 4),
  bytesMoved: (s: Qs8QuantizeNchwSpec): number => 5 * s.batch * s.channels * s.pixels,
  emit: emitQuantizeNchw,
} as const;
