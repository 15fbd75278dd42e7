/**
 * int8 pooling over NHWC int8 views (pixel strides in bytes). Max pooling needs no requantization: the
 * dequantization is monotonic, so max(DQ(q)) = DQ(max(q)) and the output keeps the input's scale and zero point;
 * i8x16.max_s over the window's real taps (padding never wins: it is skipped), 16 channels per vector, work items
 * are output pixels. Global average pooling sums int8 exactly in i32 lanes, then requantizes once per channel:
 * q = clamp(nearest(f32(sum - HW * z_in) * s_in / HW / s_out) + z_out); work items are images.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import type { PoolSpec } from './pool.js';
import type { ActivationRef, KernelVariant } from './types.js';

export interface Qs8PoolAddresses {
  input: ActivationRef;
  output: ActivationRef;
}

/** Global average pool over H x W with requantization (scales and zero points in the signed int8 domain). */
export interface Qs8GlobalPoolSpec {
  batch: number;
  pixels: number;
  channels: number;
  inScale: number;
  inZero: number;
  outScale: number;
  outZero: number;
  outMin: number;
  outMax: number;
}

export const QS8_POOL_VARIANTS: readonly KernelVariant[] = [{ tile: '16c', isa: 'wasmsimd' }];

/** Channel blocks handled per pass over the window (accumulators kept in locals). */
const GROUP_BLOCKS = 4;

/** Store the first `lanes` bytes of `v` at ptr + off (never past them: a view's neighbours are other tensors). */
export function storeBytes16(fn: FunctionBuilder, ptr: Local, off: number, v: Local, lanes: number): void {
  if (lanes === 16) {
    fn.localGet(ptr).localGet(v).v128Store(off, 0);
    return;
  }
  let i = 0;
  if (lanes >= 8) {
    fn.localGet(ptr).localGet(v).v128Store64Lane(0, off, 0);
    i = 8;
  }
  if (lanes - i >= 4) {
    fn.localGet(ptr)
      .localGet(v)
      .v128Store32Lane(i / 4, off + i, 0);
    i += 4;
  }
  for (; i < lanes; i++)
    fn.localGet(ptr)
      .localGet(v)
      .v128Store8Lane(i, off + i);
}

function checkRefs(what: string, c: number, ...refs: ActivationRef[]): void {
  for (const r of refs)
    if (r.pixelStride < c) throw new EdgecnnError(`${what}: pixel stride ${r.pixelStride} < ${c} channels`, 'internal');
}

function emitMaxPool(fn: FunctionBuilder, s: PoolSpec, a: Qs8PoolAddresses): void {
  if (s.kind !== 'max') throw new EdgecnnError('qs8-maxpool: only max pooling is int8 (average rescales)', 'internal');
  checkRefs('qs8-maxpool', s.channels, a.input, a.output);
  const [start, end] = [fn.param(0), fn.param(1)];
  const [p, n, oy, ox, iy, ix, ptr, op] = fn.locals('i32', 8);
  const acc = fn.locals('v128', GROUP_BLOCKS);
  const plane = s.outH * s.outW;
  const blocks = Math.ceil(s.channels / 16);
  fn.forRange(
    p,
    (b) => b.localGet(start),
    (b) => b.localGet(end),
    1,
    () => {
      fn.localGet(p).i32Const(plane).i32DivU().localSet(n);
      fn.localGet(p).i32Const(plane).i32RemU().i32Const(s.outW).i32DivU().localSet(oy);
      fn.localGet(p).i32Const(s.outW).i32RemU().localSet(ox);
      fn.localGet(p).i32Const(a.output.pixelStride).i32Mul().i32Const(a.output.addrBytes).i32Add().localSet(op);
      for (let g = 0; g < blocks; g += GROUP_BLOCKS) {
        const nb = Math.min(GROUP_BLOCKS, blocks - g);
        for (let j = 0; j < nb; j++) fn.v128ConstI32(0x80808080).localSet(acc[j]!);
        for (let ky = 0; ky < s.kernelH; ky++) {
          fn.localGet(oy)
            .i32Const(s.strideH)
            .i32Mul()
            .i32Const(ky * s.dilationH - s.padTop)
            .i32Add()
            .localSet(iy);
          // Unsigned compare: a negative row is a huge number.
          fn.localGet(iy).i32Const(s.inH).i32LtU().if();
          for (let kx = 0; kx < s.kernelW; kx++) {
            fn.localGet(ox)
              .i32Const(s.strideW)
              .i32Mul()
              .i32Const(kx * s.dilationW - s.padLeft)
              .i32Add()
              .localSet(ix);
            fn.localGet(ix).i32Const(s.inW).i32LtU().if();
            fn.localGet(n)
              .i32Const(s.inH)
              .i32Mul()
              .localGet(iy)
              .i32Add()
              .i32Const(s.inW)
              .i32Mul()
              .localGet(ix)
              .i32Add();
            fn.i32Const(a.input.pixelStride).i32Mul().i32Const(a.input.addrBytes).i32Add().localSet(ptr);
            for (let j = 0; j < nb; j++) {
              fn.localGet(acc[j]!)
                .localGet(ptr)
                .v128Load((g + j) * 16, 0)
                .i8x16MaxS()
                .localSet(acc[j]!);
            }
            fn.end();
          }
          fn.end();
        }
        for (let j = 0; j < nb; j++) {
          const c0 = (g + j) * 16;
          storeBytes16(fn, op, c0, acc[j]!, Math.min(16, s.channels - c0));
        }
      }
    },
  );
}

function emitGlobalAvg(fn: FunctionBuilder, s: Qs8GlobalPoolSpec, a: Qs8PoolAddresses): void {
  checkRefs('qs8-gavgpool', s.channels, a.input, a.output);
  if (!(s.inScale > 0 && s.outScale > 0) || s.pixels < 1)
    throw new EdgecnnError('qs8-gavgpool: bad scales or empty image', 'bad-model');
  const [start, end] = [fn.param(0), fn.param(1)];
  const [img, px, ip, op] = fn.locals('i32', 4);
  const [x, h, v0] = fn.locals('v128', 3);
  const acc = fn.locals('v128', 4);
  const blocks = Math.ceil(s.channels / 16);
  fn.forRange(
    img,
    (b) => b.localGet(start),
    (b) => b.localGet(end),
    1,
    () => {
      fn.localGet(img).i32Const(a.output.pixelStride).i32Mul().i32Const(a.output.addrBytes).i32Add().localSet(op);
      for (let blk = 0; blk < blocks; blk++) {
        for (const r of acc) fn.v128ConstI32(0).localSet(r);
        fn.localGet(img)
          .i32Const(s.pixels * a.input.pixelStride)
          .i32Mul()
          .i32Const(a.input.addrBytes + blk * 16)
          .i32Add()
          .localSet(ip);
        fn.forRange(
          px,
          (b) => b.i32Const(0),
          (b) => b.i32Const(s.pixels),
          1,
          () => {
            fn.localGet(ip).v128Load(0, 0).localSet(x);
            for (const [hi, r0] of [
              [false, 0],
              [true, 2],
            ] as const) {
              fn.localGet(x);
              if (hi) fn.i16x8ExtendHighI8x16S();
              else fn.i16x8ExtendLowI8x16S();
              fn.localSet(h);
              fn.localGet(acc[r0]!).localGet(h).i32x4ExtendLowI16x8S().i32x4Add().localSet(acc[r0]!);
              fn.localGet(acc[r0 + 1]!)
                .localGet(h)
                .i32x4ExtendHighI16x8S()
                .i32x4Add()
                .localSet(acc[r0 + 1]!);
            }
            fn.localGet(ip).i32Const(a.input.pixelStride).i32Add().localSet(ip);
          },
        );
        // Requantize four i32x4 sums into 16 bytes (the saturating narrowings clamp to int8 on their own).
        for (let r = 0; r < 4; r++) {
          fn.localGet(acc[r]!)
            .v128ConstI32(s.pixels * s.inZero)
            .i32x4Sub()
            .f32x4ConvertI32x4S();
          fn.v128ConstF32(s.inScale).f32x4Mul().v128ConstF32(s.pixels).f32x4Div();
          fn.v128ConstF32(s.outScale).f32x4Div().f32x4Nearest().v128ConstF32(s.outZero).f32x4Add();
          if (s.outMin > -128) fn.v128ConstF32(s.outMin).f32x4Pmax();
          if (s.outMax < 127) fn.v128ConstF32(s.outMax).f32x4Pmin();
          fn.i32x4TruncSatF32x4S().localSet(acc[r]!);
        }
        fn.localGet(acc[0]!).localGet(acc[1]!).i16x8NarrowI32x4S().localSet(v0);
        fn.localGet(acc[2]!).localGet(acc[3]!).i16x8NarrowI32x4S().localSet(h);
        fn.localGet(v0).localGet(h).i8x16NarrowI16x8S().localSet(v0);
        storeBytes16(fn, op, blk * 16, v0, Math.min(16, s.channels - blk * 16));
      }
    },
  );
}

/** qs8 max pooling (ids `qs8-maxpool-16c-wasmsimd`): work items are output pixels. */
export const qs8MaxPool = {
  family: 'qs8-pool',
  variants: QS8_POOL_VARIANTS,
  id: (_s: PoolSpec, v: KernelVariant): string => `qs8-maxpool-${v.tile}-${v.isa}`,
  parallelExtent: (s: PoolSpec): number => s.batch * s.outH * s.outW,
  bytesMoved: (s: PoolSpec): number => s.channels * s.batch * (s.inH * s.inW + s.outH * s.outW),
  emit: (fn: FunctionBuilder, s: PoolSpec, _v: KernelVariant, a: Qs8PoolAddresses): void => emitMaxPool(fn, s, a),
} as const;

/** qs8 global average pooling with requantization (ids `qs8-gavgpool-16c-wasmsimd`): work items are images. */
export const qs8GlobalAvgPool = {
  family: 'qs8-pool',
  variants: QS8_POOL_VARIANTS,
  id: (_s: Qs8GlobalPoolSpec, v: KernelVariant): string => `qs8-gavgpool-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8GlobalPoolSpec): number => s.batch,
  bytesMoved: (s: Qs8GlobalPoolSpec): number => s.batch * s.channels * (s.pixels + 1),
  emit: (fn: FunctionBuilder, s: Qs8GlobalPoolSpec, _v: KernelVariant, a: Qs8PoolAddresses): void =>
    emitGlobalAvg(fn, s, a),
} as const;
