/**
 * qs8 depthwise convolution (group == C_in == C_out, any kernel/stride/pad/dilation; MobileNet's 3x3/5x5 s1/s2)
 * over NHWC int8. Per output pixel the tap pointers are computed once (taps in the padding point at the
 * packed pad row of input-zero bytes); then for each block of 8 channels, taps go in pairs: both load 8 input
 * bytes widened to i16 (v128.load8x8_s), a shuffle interleaves them per channel and i32x4.dot_i16x8_s multiplies
 * with the packed [w(t,c), w(t+1,c)] pairs (an odd last tap pairs with a zero weight). Packed: pad row, then
 * per 8-channel block the requantize header and ceil(taps/2) x 2 x i16x8 weights. Tile `8c`: 8 channels.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { type Qs8ConvAddresses, type Qs8ConvSpec, type Qs8ConvWeights, biasOf, padRowBytes } from './qs8-gemm.js';
import { QS8_BLOCK, QS8_HEADER_BYTES, checkQuant, emitRequantize, emitStoreBytes, packHeader } from './requantize.js';
import type { KernelVariant } from './types.js';
import { checkConvSpec } from './types.js';

export type Qs8DwconvVariant = KernelVariant;

/** i16 lanes 0-3 (half 0) or 4-7 (half 1) of two vectors, interleaved: [a0 b0 a1 b1 ...] (punpck{l,h}wd). */
const INTERLEAVE = [0, 1].map((h) =>
  Array.from({ length: 16 }, (_, i) => {
    const lane = h * 4 + (i >> 2);
    return (i & 2 ? 16 : 0) + lane * 2 + (i & 1);
  }),
) as [number[], number[]];

export const QS8_DWCONV_VARIANTS: readonly Qs8DwconvVariant[] = [{ tile: '8c', isa: 'wasmsimd' }];

const isDepthwise = (s: Qs8ConvSpec): boolean => s.group === s.inC && s.inC === s.outC;

function check(s: Qs8ConvSpec): void {
  checkConvSpec({ ...s, epilogue: { activation: { kind: 'none' }, residual: false } }, 'qs8-dwconv');
  if (!isDepthwise(s)) throw new EdgecnnError('qs8-dwconv: not a depthwise conv (group == C_in == C_out)', 'internal');
}

const blockBytes = (s: Qs8ConvSpec): number => QS8_HEADER_BYTES + Math.ceil((s.kernelH * s.kernelW) / 2) * 32;

function pack(s: Qs8ConvSpec, _v: Qs8DwconvVariant, w: Qs8ConvWeights): Uint8Array {
  check(s);
  checkQuant(w.quant, 'qs8-dwconv');
  const taps = s.kernelH * s.kernelW;
  if (w.weights.length !== s.outC * taps) {
    throw new EdgecnnError(`qs8-dwconv: ${w.weights.length} weights, expected ${s.outC * taps}`, 'bad-model');
  }
  const pad = padRowBytes(s.inC);
  const blocks = Math.ceil(s.outC / QS8_BLOCK);
  const out = new Uint8Array(pad + blocks * blockBytes(s));
  out.fill(w.quant.inZero & 0xff, 0, pad);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = pad + b * blockBytes(s);
    const sum = (n: number): number => {
      let t = 0;
      for (let k = 0; k < taps; k++) t += w.weights[n * taps + k]!;
      return t;
    };
    packHeader(view, base, b * QS8_BLOCK, s.outC, w.quant, sum, biasOf(w));
    for (let k = 0; k < taps; k++) {
      for (let j = 0; j < QS8_BLOCK && b * QS8_BLOCK + j < s.outC; j++) {
        const at = base + QS8_HEADER_BYTES + (k >> 1) * 32 + (j >> 2) * 16 + (j & 3) * 4 + (k & 1) * 2;
        view.setInt16(at, w.weights[(b * QS8_BLOCK + j) * taps + k]!, true);
      }
    }
  }
  return out;
}

function emit(fn: FunctionBuilder, s: Qs8ConvSpec, _v: Qs8DwconvVariant, a: Qs8ConvAddresses): void {
  check(s);
  const taps = s.kernelH * s.kernelW;
  const [start, end] = [fn.param(0), fn.param(1)];
  const [p, t0, iyb, ixb, bb, wp, co, op, bc] = fn.locals('i32', 9);
  const tp = fn.locals('i32', taps);
  const [acc0, acc1, xv, yv, res] = fn.locals('v128', 5);
  const plane = s.outH * s.outW;
  const inStride = a.input.pixelStride;
  const pad = padRowBytes(s.inC);

  // Interior pixels (every tap in bounds) address taps as one base + constant offsets; border pixels use per-tap
  // pointers that may point at the pad row.
  const tapOff = (k: number): number =>
    (Math.floor(k / s.kernelW) * s.dilationH * s.inW + (k % s.kernelW) * s.dilationW) * inStride;
  const block = (lanes: number, interior: boolean): void => {
    fn.localGet(wp).v128Load(0).localSet(acc0);
    fn.localGet(wp).v128Load(16).localSet(acc1);
    if (interior) fn.localGet(bc).localGet(co).i32Add().localSet(t0);
    const load = (k: number, dst: Local): void => {
      if (interior) fn.localGet(t0).v128Load8x8S(tapOff(k)).localSet(dst);
      else fn.localGet(tp[k]!).localGet(co).i32Add().v128Load8x8S().localSet(dst);
    };
    for (let k = 0; k < taps; k += 2) {
      load(k, xv);
      // An odd last tap pairs with itself: its partner weight is zero.
      load(Math.min(k + 1, taps - 1), yv);
      for (const [acc, half] of [
        [acc0, 0],
        [acc1, 1],
      ] as const) {
        fn.localGet(acc).localGet(xv).localGet(yv).i8x16Shuffle(INTERLEAVE[half]);
        fn.localGet(wp)
          .v128Load(QS8_HEADER_BYTES + (k >> 1) * 32 + 16 * half)
          .i32x4DotI16x8S()
          .i32x4Add()
          .localSet(acc);
      }
    }
    emitRequantize(fn, acc0, acc1, wp, 0, s.outMin, s.outMax, res);
    fn.localGet(op).localGet(co).i32Add().localSet(t0);
    emitStoreBytes(fn, t0, 0, res, lanes);
  };

  fn.forRange(
    p,
    (b) => b.localGet(start),
    (b) => b.localGet(end),
    1,
    () => {
      fn.localGet(p).i32Const(a.output.pixelStride).i32Mul().i32Const(a.output.addrBytes).i32Add().localSet(op);
      fn.localGet(p).i32Const(plane).i32DivU().i32Const(s.inH).i32Mul().localSet(bb);
      fn.localGet(p).i32Const(plane).i32RemU().localTee(t0).i32Const(s.outW).i32DivU();
      fn.i32Const(s.strideH).i32Mul().i32Const(s.padTop).i32Sub().localSet(iyb);
      fn.localGet(t0).i32Const(s.outW).i32RemU();
      fn.i32Const(s.strideW).i32Mul().i32Const(s.padLeft).i32Sub().localSet(ixb);
      const channelBlocks = (interior: boolean): void => {
        fn.i32Const(a.packedWeights + pad).localSet(wp);
        fn.i32Const(0).localSet(co);
        const full = Math.floor(s.outC / QS8_BLOCK);
        const rest = s.outC - full * QS8_BLOCK;
        if (full > 0) {
          const end8 = full * QS8_BLOCK;
          fn.block();
          const loop = fn.loop();
          block(QS8_BLOCK, interior);
          fn.localGet(wp).i32Const(blockBytes(s)).i32Add().localSet(wp);
          fn.localGet(co).i32Const(QS8_BLOCK).i32Add().localTee(co).i32Const(end8).i32LtS().brIf(loop);
          fn.end().end();
        }
        if (rest > 0) block(rest, interior);
      };
      // Interior: iy in [0, inH - spanY], ix in [0, inW - spanX] (unsigned compares also reject negatives).
      const spanY = (s.kernelH - 1) * s.dilationH;
      const spanX = (s.kernelW - 1) * s.dilationW;
      // (A window taller or wider than the input is never interior: the bound would wrap as unsigned.)
      if (s.inH > spanY && s.inW > spanX) {
        fn.localGet(iyb)
          .i32Const(s.inH - spanY)
          .i32LtU()
          .localGet(ixb)
          .i32Const(s.inW - spanX)
          .i32LtU()
          .i32And();
      } else {
        fn.i32Const(0);
      }
      fn.if();
      fn.localGet(iyb).localGet(bb).i32Add().i32Const(s.inW).i32Mul().localGet(ixb).i32Add();
      fn.i32Const(inStride).i32Mul().i32Const(a.input.addrBytes).i32Add().localSet(bc);
      channelBlocks(true);
      fn.else();
      for (let k = 0; k < taps; k++) {
        const ky = Math.floor(k / s.kernelW) * s.dilationH;
        const kx = (k % s.kernelW) * s.dilationW;
        fn.localGet(iyb).i32Const(ky).i32Add().localGet(bb).i32Add().i32Const(s.inW).i32Mul();
        fn.localGet(ixb)
          .i32Const(kx)
          .i32Add()
          .i32Add()
          .i32Const(inStride)
          .i32Mul()
          .i32Const(a.input.addrBytes)
          .i32Add();
        fn.i32Const(a.packedWeights);
        fn.localGet(iyb).i32Const(ky).i32Add().i32Const(s.inH).i32LtU();
        fn.localGet(ixb).i32Const(kx).i32Add().i32Const(s.inW).i32LtU().i32And().select().localSet(tp[k]!);
      }
      channelBlocks(false);
      fn.end();
    },
  );
}

/** The qs8 depthwise conv family; ids `qs8-dwconv[-minmax]-<kh>x<kw>s<s>-8c-wasmsimd`. */
export const qs8Dwconv = {
  family: 'qs8-dwconv',
  variants: QS8_DWCONV_VARIANTS,
  supports: (s: Qs8ConvSpec, _v: Qs8DwconvVariant): boolean => isDepthwise(s),
  id: (s: Qs8ConvSpec, v: Qs8DwconvVariant): string =>
    `qs8-dwconv${s.outMin > -128 || s.outMax < 127 ? '-minmax' : ''}-${s.kernelH}x${s.kernelW}s${s.strideH}-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8ConvSpec): number => s.batch * s.outH * s.outW,
  pack,
  emit,
  macs: (s: Qs8ConvSpec): number => s.batch * s.outH * s.outW * s.outC * s.kernelH * s.kernelW,
} as const;
