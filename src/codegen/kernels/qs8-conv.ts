/**
 * qs8 dense convolution (group 1, any kernel/stride/pad/dilation) over NHWC int8: the GEMM tile of qs8-gemm.ts
 * with one reduction segment per kernel tap. Each pixel's tap pointer is computed once per (tap, channel block);
 * taps in the padding point at the packed pad row of input-zero bytes, which contributes exactly zero after the
 * zero-point correction. Tile `4x8c2`: 4 pixels x 8 channels.
 * Few input channels (the first layer's 3): `qs8ConvIm2col` gathers each pixel's taps x channels contiguously
 * (K = kh * kw * C, padded to 8 once instead of each tap's C to 8) into scratch rows, a chunk of pixels at a
 * time, and runs qs8-gemm's tile over them as a 1x1 conv with K input channels.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder } from '../wasm/index.js';
import {
  POINTWISE_WINDOW,
  QS8_GEMM_VARIANTS,
  type Qs8ConvAddresses,
  type Qs8ConvSpec,
  type Qs8ConvWeights,
  type Qs8GemmVariant,
  denseMacs,
  emitDense,
  packDense,
  pickQs8GemmVariant,
  widenScratchBytes,
  widenSupports,
} from './qs8-gemm.js';

/** The qs8 dense conv family; ids `qs8-conv[-minmax]-<kh>x<kw>s<s>-4x8c2-wasmsimd`. */
export const qs8Conv = {
  family: 'qs8-conv',
  variants: QS8_GEMM_VARIANTS,
  supports: (s: Qs8ConvSpec, v: Qs8GemmVariant): boolean => s.group === 1 && (!v.widen || widenSupports(s)),
  id: (s: Qs8ConvSpec, v: Qs8GemmVariant): string =>
    `qs8-conv${s.outMin > -128 || s.outMax < 127 ? '-minmax' : ''}-${s.kernelH}x${s.kernelW}s${s.strideH}-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8ConvSpec): number => s.batch * s.outH * s.outW,
  scratchBytes: widenScratchBytes,
  pack: (s: Qs8ConvSpec, v: Qs8GemmVariant, w: Qs8ConvWeights): Uint8Array => packDense(s, w, 'qs8-conv', v.layout),
  emit(fn: FunctionBuilder, s: Qs8ConvSpec, v: Qs8GemmVariant, a: Qs8ConvAddresses): void {
    if (s.group !== 1) throw new EdgecnnError(`qs8-conv: group ${s.group} is not supported`, 'internal');
    emitDense(fn, s, v, a, 'qs8-conv');
  },
  macs: denseMacs,
} as const;

/** Pixels gathered per chunk (their rows stay in L1 for the GEMM that follows). */
const IM2COL_CHUNK = 32;

/** The reduction length K and the scratch row stride (K rounded up to 8, + 16: gather stores spill past K). */
function im2colGeometry(s: Qs8ConvSpec): { k: number; rowBytes: number } {
  const k = s.kernelH * s.kernelW * s.inC;
  return { k, rowBytes: Math.ceil(k / 8) * 8 + 16 };
}

/** The 1x1 GEMM the gathered rows feed: one "pixel" per output pixel, K input channels. */
function im2colGemmSpec(s: Qs8ConvSpec): Qs8ConvSpec {
  const { k } = im2colGeometry(s);
  return {
    ...s,
    inH: s.outH,
    inW: s.outW,
    inC: k,
    ...POINTWISE_WINDOW,
  };
}

/** The GEMM tile for a layer's gathered K (qs8-gemm's own choice for that reduction). */
export function pickQs8Im2colVariant(s: Qs8ConvSpec): Qs8GemmVariant {
  return pickQs8GemmVariant(im2colGemmSpec(s), false);
}

/** [outC, C, kh, kw] -> [outC, kh, kw, C]: the gathered row's order. */
function reorder(s: Qs8ConvSpec, w: Int8Array): Int8Array {
  const { inC: c, kernelH: kh, kernelW: kw, outC } = s;
  const out = new Int8Array(w.length);
  for (let n = 0; n < outC; n++)
    for (let ch = 0; ch < c; ch++)
      for (let t = 0; t < kh * kw; t++) out[(n * kh * kw + t) * c + ch] = w[(n * c + ch) * kh * kw + t]!;
  return out;
}

/**
 * Emit the gather of pixels [p0, p1) into scratch rows (row p at scratch + p * rowBytes): windows wholly inside
 * the image with a dense pixel stride copy each kernel row's kw * C contiguous bytes with v128 loads/stores;
 * the others copy tap by tap, padding taps from the pad row (input-zero bytes at `pad`).
 */
function emitGather(
  fn: FunctionBuilder,
  s: Qs8ConvSpec,
  a: Qs8ConvAddresses,
  pad: number,
  p0: number,
  p1: number,
  locals: { p: number; iy: number; ix: number; dst: number; src: number; tmp: number; inside: number },
): void {
  const { rowBytes } = im2colGeometry(s);
  const { p, iy, ix, dst, src, tmp, inside } = locals;
  const ps = a.input.pixelStride;
  const c = s.inC;
  const plane = s.outH * s.outW;
  const rowLen = s.kernelW * c;
  const dense = ps === c && s.dilationW === 1;
  fn.forRange(
    p,
    (b) => b.localGet(p0),
    (b) => b.localGet(p1),
    1,
    () => {
      fn.localGet(p).i32Const(rowBytes).i32Mul().i32Const(a.scratch!).i32Add().localSet(dst);
      // src = first pixel of the image; iy, ix = window origin
      fn.localGet(p)
        .i32Const(plane)
        .i32DivU()
        .i32Const(s.inH * s.inW * ps)
        .i32Mul();
      fn.i32Const(a.input.addrBytes).i32Add().localSet(src);
      fn.localGet(p).i32Const(plane).i32RemU().localTee(tmp).i32Const(s.outW).i32DivU();
      fn.i32Const(s.strideH).i32Mul().i32Const(s.padTop).i32Sub().localSet(iy);
      fn.localGet(tmp).i32Const(s.outW).i32RemU().i32Const(s.strideW).i32Mul().i32Const(s.padLeft).i32Sub();
      fn.localSet(ix);
      const copyTap = (ky: number, kx: number): void => {
        // in-bounds ? src + (iy' * inW + ix') * ps : pad
        const yy = (): void =>
          void fn
            .localGet(iy)
            .i32Const(ky * s.dilationH)
            .i32Add();
        const xx = (): void =>
          void fn
            .localGet(ix)
            .i32Const(kx * s.dilationW)
            .i32Add();
        fn.localGet(dst);
        yy();
        fn.i32Const(s.inW).i32Mul();
        xx();
        fn.i32Add().i32Const(ps).i32Mul().localGet(src).i32Add().i32Const(pad);
        yy();
        fn.i32Const(s.inH).i32LtU();
        xx();
        fn.i32Const(s.inW).i32LtU().i32And().select();
        const off = (ky * s.kernelW + kx) * c;
        // Writes 4 bytes (C <= 4): the excess is overwritten by the next tap or lands in the row's slack.
        fn.i32Load(0, 0).i32Store(off, 0);
      };
      const slow = (): void => {
        for (let ky = 0; ky < s.kernelH; ky++) for (let kx = 0; kx < s.kernelW; kx++) copyTap(ky, kx);
      };
      const lastY = (s.kernelH - 1) * s.dilationH;
      if (!dense || s.inH - lastY <= 0 || s.inW - (s.kernelW - 1) <= 0) {
        slow();
        return;
      }
      fn.localGet(iy)
        .i32Const(s.inH - lastY)
        .i32LtU();
      fn.localGet(ix)
        .i32Const(s.inW - (s.kernelW - 1))
        .i32LtU()
        .i32And()
        .localSet(inside);
      fn.localGet(inside).if();
      fn.localGet(iy).i32Const(s.inW).i32Mul().localGet(ix).i32Add().i32Const(ps).i32Mul().localGet(src).i32Add();
      fn.localSet(src);
      for (let ky = 0; ky < s.kernelH; ky++) {
        for (let o = 0; o < rowLen; o += 16) {
          fn.localGet(dst)
            .localGet(src)
            .v128Load(ky * s.dilationH * s.inW * ps + o, 0)
            .v128Store(ky * rowLen + o, 0);
        }
      }
      fn.else();
      slow();
      fn.end();
    },
  );
}

/**
 * The qs8 dense conv for few input channels (C <= 4, e.g. RGB stems): gather + qs8-gemm tile; ids
 * `qs8-conv[-minmax]-<kh>x<kw>s<s>-i2c<tile>-wasmsimd`. Exactly qs8-conv's arithmetic (same i32 sums).
 */
export const qs8ConvIm2col = {
  family: 'qs8-conv',
  variants: QS8_GEMM_VARIANTS,
  supports: (s: Qs8ConvSpec, v: Qs8GemmVariant): boolean =>
    s.group === 1 && s.inC <= 4 && s.kernelH * s.kernelW > 1 && !v.widen,
  id: (s: Qs8ConvSpec, v: Qs8GemmVariant): string =>
    `qs8-conv${s.outMin > -128 || s.outMax < 127 ? '-minmax' : ''}-${s.kernelH}x${s.kernelW}s${s.strideH}-i2c${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8ConvSpec): number => s.batch * s.outH * s.outW,
  scratchBytes: (s: Qs8ConvSpec, _v: Qs8GemmVariant): number =>
    s.batch * s.outH * s.outW * im2colGeometry(s).rowBytes + 16,
  pack(s: Qs8ConvSpec, v: Qs8GemmVariant, w: Qs8ConvWeights): Uint8Array {
    if (w.weights.length !== s.outC * s.inC * s.kernelH * s.kernelW) {
      throw new EdgecnnError(
        `qs8-conv: ${w.weights.length} weights, expected ${s.outC * s.inC * s.kernelH * s.kernelW}`,
        'bad-model',
      );
    }
    return packDense(im2colGemmSpec(s), { ...w, weights: reorder(s, w.weights) }, 'qs8-conv', v.layout);
  },
  emit(fn: FunctionBuilder, s: Qs8ConvSpec, v: Qs8GemmVariant, a: Qs8ConvAddresses): void {
    if (!qs8ConvIm2col.supports(s, v)) {
      throw new EdgecnnError(`qs8-conv im2col: needs group 1 and at most 4 input channels`, 'internal');
    }
    if (a.scratch === undefined) throw new EdgecnnError('qs8-conv im2col: the scratch address is required', 'internal');
    const { rowBytes } = im2colGeometry(s);
    const [start, end] = [fn.param(0), fn.param(1)];
    const [c0, c1, p, iy, ix, dst, src, tmp, inside] = fn.locals('i32', 9);
    fn.forRange(
      c0,
      (b) => b.localGet(start),
      (b) => b.localGet(end),
      IM2COL_CHUNK,
      () => {
        fn.localGet(c0).i32Const(IM2COL_CHUNK).i32Add().localTee(c1).localGet(end).localGet(c1).localGet(end);
        fn.i32LtU().select().localSet(c1);
        emitGather(fn, s, a, a.packedWeights, c0, c1, { p, iy, ix, dst, src, tmp, inside });
        emitDense(
          fn,
          im2colGemmSpec(s),
          v,
          { input: { addrBytes: a.scratch!, pixelStride: rowBytes }, packedWeights: a.packedWeights, output: a.output },
          'qs8-conv im2col',
          { start: c0, end: c1 },
        );
      },
    );
  },
  macs: denseMacs,
} as const;
