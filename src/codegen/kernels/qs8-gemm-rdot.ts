/**
 * qs8 GEMM and direct convolution over NHWC int8 pixels on the relaxed int8 dot product
 * `i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c)`, used only where the start-up probe proved it exact for full-range
 * b (`RelaxedDotB`): `wasmusdot` reads b as u8 (x86 VNNI), `wasmsdot` as i8 (ARM sdot). a = 16 packed weight bytes
 * (4 output channels x 4 consecutive input channels), b = the pixel's 4 input bytes broadcast with
 * v128.load32_splat (xor 0x80 for u8: int8 q + 128); 16 MACs per instruction. Tile `MRxNRc4`: MR pixels x NR
 * channels, NR/4 i32x4 accumulators per pixel. The reduction runs per kernel tap over Cp = roundUp(C_in, 4)
 * channels (the bytes read past C_in meet zero weights); taps in the padding read a pad row of input-zero bytes.
 * Packed: the pad row, then per NR-channel panel NR/8 requantize headers (accumulator start `bias - zFed * sum(w)`,
 * zFed the zero point of the bytes fed) and per tap and 4 channels NR/4 vectors. The accumulator is qs8-gemm's
 * exactly, and so is the epilogue (requantize.ts): outputs are bit-identical to qs8-gemm / qs8-conv.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import {
  type Qs8ConvAddresses,
  type Qs8ConvSpec,
  type Qs8ConvWeights,
  biasOf,
  checkDenseSpec,
  checkDenseWeights,
  denseMacs,
  emitForPanels,
  emitForPixelTiles,
  isPointwise,
} from './qs8-gemm.js';
import {
  QS8_BLOCK,
  QS8_HEADER_BYTES,
  emitClampBytes,
  emitRequantizeHalf,
  emitStoreBytes,
  packHeader,
} from './requantize.js';
import type { KernelVariant } from './types.js';

/** The relaxed-dot ISAs: how the engine reads b bytes >= 128 (probed, `WasmFeatures.relaxedDotB`). */
export type RdotIsa = 'wasmusdot' | 'wasmsdot';

export interface Qs8GemmRdotVariant extends KernelVariant {
  readonly isa: RdotIsa;
  /** Pixels per tile. */
  readonly mr: number;
  /** Output channels per tile (one packed panel): 8 or 16. */
  readonly nr: 8 | 16;
  /**
   * `pixels`: each pixel tile runs every panel (weights streamed once per tile); `channels` (suffix `ws`,
   * weight-stationary): each panel runs every pixel tile of the range (weights read once per range).
   */
  readonly order: 'pixels' | 'channels';
}

const TILES: readonly { mr: number; nr: 8 | 16; order: 'pixels' | 'channels' }[] = [
  { mr: 4, nr: 8, order: 'pixels' },
  { mr: 5, nr: 8, order: 'pixels' },
  { mr: 2, nr: 16, order: 'pixels' },
  { mr: 3, nr: 16, order: 'pixels' },
  { mr: 5, nr: 8, order: 'channels' },
];

/** Every tile for both readings of b. */
export const QS8_GEMM_RDOT_VARIANTS: readonly Qs8GemmRdotVariant[] = (['wasmusdot', 'wasmsdot'] as const).flatMap(
  (isa) =>
    TILES.map(({ mr, nr, order }) => ({
      tile: `${mr}x${nr}c4${order === 'channels' ? 'ws' : ''}`,
      isa,
      mr,
      nr,
      order,
    })),
);

/** The ISA for the probed reading of b, or undefined when the dot product is not exact (no variant usable). */
export function rdotIsaOf(b: 'unsigned' | 'signed' | 'none' | undefined): RdotIsa | undefined {
  return b === 'unsigned' ? 'wasmusdot' : b === 'signed' ? 'wasmsdot' : undefined;
}

/**
 * The variants usable for a dense (group 1) conv with the probed reading of b, the preferred first (none when the
 * dot is inexact).
 */
export function candidateQs8GemmRdotVariants(
  s: Qs8ConvSpec,
  b: 'unsigned' | 'signed' | 'none' | undefined,
): Qs8GemmRdotVariant[] {
  const isa = rdotIsaOf(b);
  if (!isa || s.group !== 1) return [];
  const mine = QS8_GEMM_RDOT_VARIANTS.filter((v) => v.isa === isa);
  // Measured in Chromium (`node dist/bench/browser-qs8-kernels.js --all`): 5x8 (10 accumulators, 14 live vectors
  // with the weights, the broadcast and the xor constant) is fastest on MobileNetV2's 1x1 layers from K 96 up,
  // 1.15-1.2x 4x8 (7x7 960 -> 160: 0.084 vs 0.100 ms), and on ResNet-18's 3x3 s2 and 1x1 s2 and the 7x7 stem; 6x8
  // and 4x16 spill (0.131, 0.110). Short 1x1 reductions into many channels prefer 3x16 (112x112 16 -> 96: 0.45 ms;
  // 28x28 32 -> 192: 0.074; but 32 -> 16: 5x8 0.119, 3x16 0.167).
  // Weight-stationary past 512 KB of weights: ResNet-18's 3x3 7x7x512 1.8 -> 1.4 ms, 3x3 s2 14x14x256 -> 512
  // 1.6 -> 0.85; neutral to slightly slower on MobileNetV2's 1x1 layers (<= 410 KB).
  const ws = s.kernelH * s.kernelW * Math.ceil(s.inC / 4) * 4 * s.outC > 512 * 1024;
  const want = ws
    ? '5x8c4ws'
    : isPointwise(s) && s.inC <= 32 && s.outC >= 64
      ? '3x16c4'
      : s.outC >= 8
        ? '5x8c4'
        : '4x8c4';
  const pick = mine.find((v) => v.tile === want)!;
  return [pick, ...mine.filter((v) => v !== pick)];
}

/** Channels per tap padded to the dot's 4 steps, taps, and bytes of the pad row (a 4-byte over-read included). */
function geometry(s: Qs8ConvSpec): { cp: number; taps: number; padBytes: number } {
  const cp = Math.ceil(s.inC / 4) * 4;
  return { cp, taps: s.kernelH * s.kernelW, padBytes: isPointwise(s) ? 0 : Math.ceil((cp + 16) / 16) * 16 };
}

function panelBytes(s: Qs8ConvSpec, nr: number): number {
  const g = geometry(s);
  return (nr / QS8_BLOCK) * QS8_HEADER_BYTES + g.taps * g.cp * nr;
}

/** Pack weights [outC, inC, kH, kW] (see the file header). */
export function packRdot(s: Qs8ConvSpec, v: Qs8GemmRdotVariant, w: Qs8ConvWeights, what: string): Uint8Array {
  checkDenseWeights(s, w, what);
  const g = geometry(s);
  const kk = s.inC * g.taps;
  const nr = v.nr;
  const panels = Math.ceil(s.outC / nr);
  const pb = panelBytes(s, nr);
  const out = new Uint8Array(g.padBytes + panels * pb);
  out.fill(w.quant.inZero & 255, 0, g.padBytes);
  const view = new DataView(out.buffer);
  const sum = new Float64Array(s.outC);
  for (let n = 0; n < s.outC; n++) for (let i = 0; i < kk; i++) sum[n] += w.weights[n * kk + i]!;
  // u8 feeding reads q + 128, whose zero point is zIn + 128; the header's start value is bias - zFed * sum(w).
  const fed = { ...w.quant, inZero: w.quant.inZero + (v.isa === 'wasmusdot' ? 128 : 0) };
  const hdrBytes = (nr / QS8_BLOCK) * QS8_HEADER_BYTES;
  const clamp = { lo: s.outMin, hi: s.outMax };
  for (let p = 0; p < panels; p++) {
    const base = g.padBytes + p * pb;
    for (let b = 0; b < nr / QS8_BLOCK; b++) {
      const n0 = p * nr + b * QS8_BLOCK;
      packHeader(view, base + b * QS8_HEADER_BYTES, n0, s.outC, fed, (n) => sum[n]!, biasOf(w), clamp);
    }
    for (let nn = 0; nn < nr; nn++) {
      const n = p * nr + nn;
      if (n >= s.outC) break;
      for (let t = 0; t < g.taps; t++) {
        for (let c = 0; c < s.inC; c++) {
          const at = base + hdrBytes + (t * g.cp + (c & ~3)) * nr + (nn >> 2) * 16 + (nn & 3) * 4 + (c & 3);
          out[at] = w.weights[n * kk + c * g.taps + t]! & 255;
        }
      }
    }
  }
  return out;
}

/** Emit the conv (1x1 GEMM when `isPointwise`) over output pixels [start, end) (the step's parameters). */
export function emitRdot(fn: FunctionBuilder, s: Qs8ConvSpec, v: Qs8GemmRdotVariant, a: Qs8ConvAddresses): void {
  checkDenseSpec(s, 'qs8-conv-rdot');
  const { mr, nr } = v;
  const nc = nr / 4;
  const g = geometry(s);
  const groups = g.cp / 4;
  const pb = panelBytes(s, nr);
  const hdrBytes = (nr / QS8_BLOCK) * QS8_HEADER_BYTES;
  const unsigned = v.isa === 'wasmusdot';
  const pointwise = isPointwise(s);
  const floatBias = s.floatBias === true;
  const [start, end] = [fn.param(0), fn.param(1)];
  const [p, t0, t1, wp, oc, ko, wk, nbl] = fn.locals('i32', 8);
  const pr = fn.locals('i32', mr);
  const op = fn.locals('i32', mr);
  const [iyb, ixb, bb] = pointwise ? [[], [], []] : [fn.locals('i32', mr), fn.locals('i32', mr), fn.locals('i32', mr)];
  // Input pointer of each (tap, pixel), computed once per pixel tile (taps in the padding -> the pad row).
  const tapPtr = Array.from({ length: g.taps }, () => fn.locals('i32', mr));
  const acc = Array.from({ length: mr }, () => fn.locals('v128', nc));
  const wv = fn.locals('v128', nc);
  const [bv, flip, res] = fn.locals('v128', 3) as [Local, Local, Local];
  if (unsigned) fn.v128ConstI32(0x80808080 | 0).localSet(flip);

  // One group of 4 channels: weights at wBase + wOff, each pixel's bytes at ptr[r] (+ ko) + aOff.
  const group = (ptr: Local[], cols: number, wBase: Local, wOff: number, aOff: number, withKo: boolean): void => {
    for (let c = 0; c < cols; c++)
      fn.localGet(wBase)
        .v128Load(wOff + 16 * c)
        .localSet(wv[c]!);
    for (let r = 0; r < mr; r++) {
      fn.localGet(ptr[r]!);
      if (withKo) fn.localGet(ko).i32Add();
      fn.v128Load32Splat(aOff, 0);
      if (unsigned) fn.localGet(flip).v128Xor();
      fn.localSet(bv);
      for (let c = 0; c < cols; c++) {
        const l = acc[r]![c]!;
        fn.localGet(wv[c]!).localGet(bv).localGet(l).i32x4RelaxedDotI8x16I7x16AddS().localSet(l);
      }
    }
  };

  // One tap's Cp channels: short reductions unrolled with constant offsets, long ones 4 groups per iteration.
  const unroll = 4;
  const tap = (t: number, cols: number): void => {
    const wTap = hdrBytes + t * g.cp * nr;
    const ptr = tapPtr[t]!;
    if (groups <= 16) {
      for (let k = 0; k < groups; k++) group(ptr, cols, wp, wTap + k * nr * 4, 4 * k, false);
      return;
    }
    const loops = Math.floor(groups / unroll);
    fn.localGet(wp).i32Const(wTap).i32Add().localSet(wk);
    fn.forRange(
      ko,
      (b) => b.i32Const(0),
      (b) => b.i32Const(loops * unroll * 4),
      unroll * 4,
      () => {
        for (let u = 0; u < unroll; u++) group(ptr, cols, wk, u * nr * 4, 4 * u, true);
        fn.localGet(wk)
          .i32Const(unroll * nr * 4)
          .i32Add()
          .localSet(wk);
      },
    );
    for (let k = loops * unroll; k < groups; k++) group(ptr, cols, wk, (k - loops * unroll) * nr * 4, 4 * k, false);
  };

  // One panel (`lanes` live channels, `cols` live accumulators per pixel) against the tile's mr pixels.
  const panel = (lanes: number): void => {
    const cols = Math.ceil(lanes / 4);
    for (let r = 0; r < mr; r++)
      for (let c = 0; c < cols; c++)
        fn.localGet(wp)
          .v128Load((c >> 1) * QS8_HEADER_BYTES + 16 * (c & 1))
          .localSet(acc[r]![c]!);
    for (let t = 0; t < g.taps; t++) tap(t, cols);
    for (let r = 0; r < mr; r++) {
      const q = acc[r]!;
      fn.localGet(op[r]!).localGet(oc).i32Add().localSet(t0);
      // Pairs of 4-channel halves narrow to 8 (then 16) bytes, as qs8-gemm's epilogue does.
      for (let c = 0; c < 2 * Math.ceil(cols / 2); c++) {
        if (c < cols) emitRequantizeHalf(fn, q[c]!, wp, (c >> 1) * QS8_HEADER_BYTES, (c & 1) as 0 | 1, floatBias);
        else fn.v128ConstI32(0);
        if (c & 1) fn.i16x8NarrowI32x4S();
      }
      if (cols <= 2) fn.localTee(res).localGet(res);
      fn.i8x16NarrowI16x8S();
      emitClampBytes(fn, s.outMin, s.outMax, { hdr: wp, hdrOffBytes: 0 });
      fn.localSet(res);
      emitStoreBytes(fn, t0, 0, res, lanes);
    }
  };

  const tiles = { start, end, p, t0, t1, pr, op, iyb, ixb, bb, tapPtr };
  const forPixelTiles = (body: () => void): void => emitForPixelTiles(fn, s, a, mr, tiles, body);
  const panels = { first: a.packedWeights + g.padBytes, bytes: pb, wp, oc, counter: nbl };
  const forPanels = (body: (lanes: number) => void): void => emitForPanels(fn, s.outC, nr, panels, body);
  // Weight-stationary: one panel stays in cache while every pixel tile of the range uses it.
  if (v.order === 'channels') forPanels((lanes) => forPixelTiles(() => panel(lanes)));
  else forPixelTiles(() => forPanels(panel));
}

/** The relaxed-dot qs8 GEMM family (1x1 convolutions); ids `qs8-gemm[-minmax]-5x8c4-wasmusdot`. */
export const qs8GemmRdot = {
  family: 'qs8-gemm',
  variants: QS8_GEMM_RDOT_VARIANTS,
  supports: (s: Qs8ConvSpec, _v: Qs8GemmRdotVariant): boolean => isPointwise(s),
  id: (s: Qs8ConvSpec, v: Qs8GemmRdotVariant): string =>
    `qs8-gemm${s.outMin > -128 || s.outMax < 127 ? '-minmax' : ''}-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8ConvSpec): number => s.batch * s.outH * s.outW,
  pack: (s: Qs8ConvSpec, v: Qs8GemmRdotVariant, w: Qs8ConvWeights): Uint8Array => packRdot(s, v, w, 'qs8-gemm'),
  emit(fn: FunctionBuilder, s: Qs8ConvSpec, v: Qs8GemmRdotVariant, a: Qs8ConvAddresses): void {
    if (!isPointwise(s)) throw new EdgecnnError('qs8-gemm: not a 1x1/stride-1/unpadded conv', 'internal');
    emitRdot(fn, s, v, a);
  },
  macs: denseMacs,
} as const;

/** The relaxed-dot direct qs8 conv (group 1, any kernel); ids `qs8-conv[-minmax]-3x3s2-5x8c4-wasmusdot`. */
export const qs8ConvRdot = {
  family: 'qs8-conv',
  variants: QS8_GEMM_RDOT_VARIANTS,
  supports: (s: Qs8ConvSpec, _v: Qs8GemmRdotVariant): boolean => s.group === 1,
  id: (s: Qs8ConvSpec, v: Qs8GemmRdotVariant): string =>
    `qs8-conv${s.outMin > -128 || s.outMax < 127 ? '-minmax' : ''}-${s.kernelH}x${s.kernelW}s${s.strideH}-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8ConvSpec): number => s.batch * s.outH * s.outW,
  pack: (s: Qs8ConvSpec, v: Qs8GemmRdotVariant, w: Qs8ConvWeights): Uint8Array => packRdot(s, v, w, 'qs8-conv'),
  emit(fn: FunctionBuilder, s: Qs8ConvSpec, v: Qs8GemmRdotVariant, a: Qs8ConvAddresses): void {
    emitRdot(fn, s, v, a);
  },
  macs: denseMacs,
} as const;
