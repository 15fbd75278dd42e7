/**
 * qs8 GEMM over NHWC int8 pixels (1x1 convolutions), and the dot-product tile the dense qs8 conv reuses.
 * Tile `4x8c2`: 4 output pixels x 8 output channels, two i32x4 accumulators per pixel. The reduction runs over
 * segments (one per kernel tap) of Cp = roundUp(C_in, 8) channels: 8 input bytes are widened to i16 with one
 * v128.load8x8_s, each channel pair is broadcast by a shuffle and i32x4.dot_i16x8_s multiplies it with the
 * packed pair layout [w(k,n), w(k+1,n)] for 4 channels, pre-widened to i16 (a plain load: the sign extension
 * would compete with the dot products for the vector ALUs). Channels past C_in read garbage times zero weights.
 * Packed: a pad row of input-zero bytes, then per 8-channel block the requantize header and the weights.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import {
  QS8_BLOCK,
  QS8_HEADER_BYTES,
  type Qs8Quant,
  checkQuant,
  emitClampBytes,
  emitRequantize,
  emitRequantizeHalf,
  emitStoreBytes,
  packHeader,
} from './requantize.js';
import type { ActivationRef, ConvSpec, KernelVariant } from './types.js';
import { checkConvSpec } from './types.js';

/** A quantized convolution: ConvSpec geometry (its epilogue unused) and int8 output clamp bounds. */
export interface Qs8ConvSpec extends Omit<ConvSpec, 'epilogue'> {
  /** Output clamp in the int8 domain (fused ReLU/ReLU6 narrow it). */
  outMin: number;
  outMax: number;
  /**
   * The bias is real-valued only (no int32 bias): the epilogue adds it as biasF. Absent, the epilogue skips that
   * add and packing rejects a float-only bias.
   */
  floatBias?: boolean;
}

/** int8 activation views: pixel strides are in bytes (= elements). */
export interface Qs8ConvAddresses {
  input: ActivationRef;
  packedWeights: number;
  output: ActivationRef;
  /** Private scratch (families with `scratchBytes`: qs8-winograd). */
  scratch?: number;
}

/** Signed int8 weights [outC, inC / group, kH, kW], the bias, quantization parameters. */
export interface Qs8ConvWeights {
  weights: Int8Array;
  /** int32 bias in accumulator units (scale inScale * wScale[n]), as QDQ models and QLinearConv store it. */
  biasInt?: Int32Array;
  /** Real-valued bias, used when `biasInt` is absent. */
  bias?: Float32Array;
  quant: Qs8Quant;
}

export interface Qs8GemmVariant extends KernelVariant {
  /** Pixels per tile. */
  readonly mr: number;
  /**
   * `c2`: channel pairs broadcast, 2 accumulators of 4 channels per pixel. `c8`: 8 input channels against one
   * output channel per dot, 8 accumulators of partial sums per pixel reduced by shuffles after the reduction
   * (no broadcast shuffles in the inner loop; pays off when the reduction is long).
   */
  readonly layout: 'c2' | 'c8';
  /**
   * Loop order: `pixels` (each pixel tile runs every channel block: the input stays in registers/L1, the
   * weights stream once per tile) or `channels` (tile suffix `ws`, weight-stationary: each channel block runs
   * every pixel tile of the range, so large weight sets are read once per range instead of once per tile).
   */
  readonly order: 'pixels' | 'channels';
  /**
   * Output channels per tile: 8 (one packed block) or 16 (c2 only: two consecutive blocks share each pixel's
   * broadcast pairs, and their 16 results are requantized with one narrowing chain and one store).
   */
  readonly nr: 8 | 16;
  /**
   * c2 with widened rows (tile suffix `w`, any ungrouped conv): each chunk of pixels is first widened to i16 rows
   * (taps x Cp) in scratch (strided, padded or tap pixels gathered once), then every channel pair is broadcast straight
   * from memory by v128.load32_splat: no shuffles and no activation registers in the reduction, which leaves the
   * vector ALUs to the dot products and adds. Channel blocks run outside the chunk's pixel tiles.
   */
  readonly widen?: boolean;
}

/**
 * The variants; selection (`pickQs8GemmVariant`) prefers c8 for long reductions, `ws` for large weights, 16-channel
 * tiles for short 1x1 reductions.
 */
export const QS8_GEMM_VARIANTS: readonly Qs8GemmVariant[] = [
  { tile: '4x8c2', isa: 'wasmsimd', mr: 4, layout: 'c2', order: 'pixels', nr: 8 },
  { tile: '1x8c8', isa: 'wasmsimd', mr: 1, layout: 'c8', order: 'pixels', nr: 8 },
  { tile: '4x8c2ws', isa: 'wasmsimd', mr: 4, layout: 'c2', order: 'channels', nr: 8 },
  { tile: '1x8c8ws', isa: 'wasmsimd', mr: 1, layout: 'c8', order: 'channels', nr: 8 },
  { tile: '2x16c2', isa: 'wasmsimd', mr: 2, layout: 'c2', order: 'pixels', nr: 16 },
  { tile: '3x16c2', isa: 'wasmsimd', mr: 3, layout: 'c2', order: 'pixels', nr: 16 },
  { tile: '2x16c2w', isa: 'wasmsimd', mr: 2, layout: 'c2', order: 'channels', nr: 16, widen: true },
  { tile: '3x16c2w', isa: 'wasmsimd', mr: 3, layout: 'c2', order: 'channels', nr: 16, widen: true },
  { tile: '4x8c2w', isa: 'wasmsimd', mr: 4, layout: 'c2', order: 'channels', nr: 8, widen: true },
];

/**
 * c8 when each pixel's reduction (taps x padded channels) amortizes its final reduce and its panel fits L1;
 * weight-stationary (`ws`) when the packed weights exceed 128 KB; widened rows (`w`) for every 1x1 convolution whose
 * rows fit the scratch cap (unless `allowWiden` is false: the im2col stem runs the tile on its own rows).
 */
export function pickQs8GemmVariant(s: Qs8ConvSpec, allowWiden = true): Qs8GemmVariant {
  const k = s.kernelH * s.kernelW * Math.ceil(s.inC / 8) * 8;
  // Measured: c8 wins from K ~ 144 (25 -> 27 GMAC/s; 26 -> 31 at K 960) and loses below (15 vs 20 at K 24); its one
  // pixel streams the whole weight panel (K x 16 bytes) per pixel, so past ~24 KB (K 1536, L1) it halves (3x3x512).
  // With several taps the switch comes later (3x3: c2 28 vs c8 25 GMAC/s at 32 channels, 28.4 vs 29.7 at 64).
  // Weight-stationary (`node dist/bench/qs8-kernels.js`): ResNet-18's 3x3 s2 layers 1.1-1.3x faster with 1x8c8ws
  // than the pixel-order pick (14x14x256 -> 512: 2.56 -> 1.97 ms, also past K 1536), MobileNetV2's 7x7 1x1 layers
  // 1.04-1.07x; neutral below ~50 KB of weights.
  const taps = s.kernelH * s.kernelW;
  // Widened rows (`node dist/bench/qs8-kernels.js`, same run): ResNet-18's 1x1 stride-2 downsamples 2x faster than
  // any tile that reads the strided pixels in place (14x14x256 -> 512: 0.42 -> 0.20 ms); 1x1 reductions from K 64 up
  // 1.05-1.1x faster than 1x8c8 (7x7x320 -> 1280: 0.64 -> 0.60 ms; before the fence below, the shuffle tiles won
  // under K 64). With 3x3 taps they are left to the tuner: 3x16c2w beat 1x8c8ws on ResNet-18's 56x56x64 -> 128 s2
  // (1.91 -> 1.76 ms) but lost on its 28x28 and 14x14 s2 layers (1.76 -> 1.99, 1.91 -> 2.27 ms: rows of 9 x Cp i16
  // leave few pixels per L1 chunk, so the weights stream once per few pixels).
  // Since the widened tiles fence each pair step (`emitScheduleFence`), 2x16c2w keeps its 8 accumulators and the
  // step's 6 loaded vectors in registers and is the fastest 1x1 tile at every reduction length measured
  // (MobileNetV2, Node 20, same run: K 16 -> 96 at 112x112 43.6 -> 52.3 GFLOP/s over 3x16c2, K 24 -> 144 at 56x56
  // 51.0 -> 58.9, K 960 -> 320 at 7x7 66.3 -> 78.7 over 3x16c2w).
  if (allowWiden && taps === 1 && widenSupports(s)) {
    return QS8_GEMM_VARIANTS.find((v) => v.widen && (s.outC >= 16 ? v.tile === '2x16c2w' : v.nr === 8))!;
  }
  const ws = k * Math.ceil(s.outC / 8) * 8 * 2 > 128 * 1024;
  const want = k >= (taps === 1 ? 128 : 512) && (k <= 1536 || ws) ? 'c8' : 'c2';
  // Short 1x1 reductions: 3 pixels x 16 channels halves the broadcasts per dot product and narrows 16 outputs at
  // once (MobileNetV2's 24 -> 144 at 56x56: 0.51 -> 0.48 ms, 32 -> 192 at 28x28: 0.20 -> 0.19 ms, same run).
  const nr = want === 'c2' && taps === 1 && !ws && s.outC >= 16 ? 16 : 8;
  return QS8_GEMM_VARIANTS.find(
    (v) =>
      !v.widen &&
      v.layout === want &&
      v.order === (ws ? 'channels' : 'pixels') &&
      v.nr === nr &&
      (nr === 8 || v.mr === 3),
  )!;
}

/** Every variant, `pickQs8GemmVariant`'s choice first (the candidates the tuner measures). */
export function candidateQs8GemmVariants(s: Qs8ConvSpec): Qs8GemmVariant[] {
  const pick = pickQs8GemmVariant(s);
  return [pick, ...QS8_GEMM_VARIANTS.filter((v) => v !== pick)];
}

/** Bytes of the pad row at the start of the packed weights (covers an 8-byte over-read). */
export function padRowBytes(inC: number): number {
  return Math.ceil((Math.ceil(inC / 8) * 8 + 16) / 16) * 16;
}

/** True for the 1x1 / stride 1 / unpadded / ungrouped convolutions this file's GEMM computes. */
export function isPointwise(s: Qs8ConvSpec): boolean {
  return (
    s.group === 1 &&
    s.kernelH === 1 &&
    s.kernelW === 1 &&
    s.strideH === 1 &&
    s.strideW === 1 &&
    s.padTop === 0 &&
    s.padLeft === 0 &&
    s.outH === s.inH &&
    s.outW === s.inW
  );
}

/** The window of a 1x1, stride-1, unpadded, undilated conv (what the GEMM tiles compute). */
export const POINTWISE_WINDOW = {
  kernelH: 1,
  kernelW: 1,
  strideH: 1,
  strideW: 1,
  padTop: 0,
  padLeft: 0,
  dilationH: 1,
  dilationW: 1,
} as const;

/** A 1x1 / stride-1 / unpadded conv of inC -> outC channels over batch x h x w pixels, clamped to `clamp`. */
export function pointwiseQs8Spec(
  inC: number,
  outC: number,
  h: number,
  w: number,
  batch = 1,
  clamp: [number, number] = [-128, 127],
): Qs8ConvSpec {
  return {
    batch,
    inH: h,
    inW: w,
    inC,
    outH: h,
    outW: w,
    outC,
    ...POINTWISE_WINDOW,
    group: 1,
    outMin: clamp[0],
    outMax: clamp[1],
  };
}

/** Reject what no dense (group 1) qs8 kernel runs: a bad geometry, a group, a clamp outside int8. */
export function checkDenseSpec(s: Qs8ConvSpec, what: string): void {
  checkConvSpec({ ...s, epilogue: { activation: { kind: 'none' }, residual: false } }, what);
  if (s.group !== 1) throw new EdgecnnError(`${what}: group ${s.group} is not 1`, 'internal');
  if (!(s.outMin >= -128 && s.outMax <= 127 && s.outMin <= s.outMax)) {
    throw new EdgecnnError(`${what}: clamp [${s.outMin}, ${s.outMax}] is not an int8 range`, 'internal');
  }
}

/** Packing a float-only bias into a kernel emitted without its add would drop it: reject that. */
export function checkFloatBias(s: Qs8ConvSpec, w: Qs8ConvWeights, what: string): void {
  if (!w.biasInt && w.bias && !s.floatBias) {
    throw new EdgecnnError(`${what}: a float-only bias needs spec.floatBias (its epilogue add)`, 'internal');
  }
}

/** The bias as packHeader takes it. */
export function biasOf(w: Qs8ConvWeights): { int?: Int32Array; float?: Float32Array } {
  return w.biasInt ? { int: w.biasInt } : w.bias ? { float: w.bias } : {};
}

/** Packed size/offsets of a dense qs8 conv. */
function geometry(s: Qs8ConvSpec): { cp: number; taps: number; padBytes: number; blockBytes: number; blocks: number } {
  const cp = Math.ceil(s.inC / 8) * 8;
  const taps = s.kernelH * s.kernelW;
  return {
    cp,
    taps,
    padBytes: padRowBytes(s.inC),
    blockBytes: QS8_HEADER_BYTES + taps * cp * 16,
    blocks: Math.ceil(s.outC / QS8_BLOCK),
  };
}

/** Check a dense conv and its weights [outC, inC, kH, kW] before packing them (any dense layout). */
export function checkDenseWeights(s: Qs8ConvSpec, w: Qs8ConvWeights, what: string): void {
  checkDenseSpec(s, what);
  checkQuant(w.quant, what);
  checkFloatBias(s, w, what);
  const kk = s.inC * s.kernelH * s.kernelW;
  if (w.weights.length !== s.outC * kk) {
    throw new EdgecnnError(`${what}: ${w.weights.length} weights, expected ${s.outC * kk}`, 'bad-model');
  }
}

/** Pack dense (group 1) conv weights into the pair layout (see the file header). */
export function packDense(s: Qs8ConvSpec, w: Qs8ConvWeights, what: string, layout: 'c2' | 'c8' = 'c2'): Uint8Array {
  checkDenseWeights(s, w, what);
  const g = geometry(s);
  const kk = s.inC * g.taps;
  const out = new Uint8Array(g.padBytes + g.blocks * g.blockBytes);
  out.fill(w.quant.inZero & 0xff, 0, g.padBytes);
  const view = new DataView(out.buffer);
  const sum = new Float64Array(s.outC);
  for (let n = 0; n < s.outC; n++) for (let i = 0; i < kk; i++) sum[n] += w.weights[n * kk + i]!;
  for (let b = 0; b < g.blocks; b++) {
    const base = g.padBytes + b * g.blockBytes;
    packHeader(view, base, b * QS8_BLOCK, s.outC, w.quant, (n) => sum[n]!, biasOf(w), { lo: s.outMin, hi: s.outMax });
    for (let t = 0; t < g.taps; t++) {
      for (let c = 0; c < s.inC; c++) {
        const kc = c >> 3;
        const j = (c & 7) >> 1;
        for (let nn = 0; nn < QS8_BLOCK; nn++) {
          const n = b * QS8_BLOCK + nn;
          if (n >= s.outC) break;
          const h = nn >> 2;
          const at =
            layout === 'c2'
              ? base + QS8_HEADER_BYTES + ((t * (g.cp / 8) + kc) * 8 + j * 2 + h) * 16 + (nn & 3) * 4 + (c & 1) * 2
              : base + QS8_HEADER_BYTES + ((t * (g.cp / 8) + kc) * 8 + nn) * 16 + (c & 7) * 2;
          view.setInt16(at, w.weights[n * kk + c * g.taps + t]!, true);
        }
      }
    }
  }
  return out;
}

/** The locals of a dense pixel tile (qs8-gemm's and the relaxed-dot tiles'); iyb/ixb/bb are unused when pointwise. */
export interface PixelTileLocals {
  /** The step's pixel range [start, end). */
  start: Local;
  end: Local;
  /** First pixel of the tile. */
  p: Local;
  t0: Local;
  t1: Local;
  /** Per row: its pixel (clamped into the range), output pointer, image base row, first input row and column. */
  pr: Local[];
  op: Local[];
  iyb: Local[];
  ixb: Local[];
  bb: Local[];
  /** Per tap and row: the input pointer (the pad row at the packed weights' address for taps in the padding). */
  tapPtr: Local[][];
}

/**
 * Emit a loop over the pixel tiles of [start, end), mr pixels each, that sets every row's output and per-tap input
 * pointers before `body`. Rows past the range recompute the last pixel (same bytes written twice, inside the
 * range), so a tile never reads or writes outside it.
 */
export function emitForPixelTiles(
  fn: FunctionBuilder,
  s: Qs8ConvSpec,
  a: Qs8ConvAddresses,
  mr: number,
  l: PixelTileLocals,
  body: () => void,
): void {
  const { p, t0, t1, pr, op, iyb, ixb, bb, tapPtr } = l;
  const pointwise = isPointwise(s);
  const taps = s.kernelH * s.kernelW;
  const plane = s.outH * s.outW;
  const inStride = a.input.pixelStride;
  const setPtrs = (t: number): void => {
    const ky = Math.floor(t / s.kernelW);
    const kx = t % s.kernelW;
    const ptr = tapPtr[t]!;
    for (let r = 0; r < mr; r++) {
      const iy = (): void =>
        void fn
          .localGet(iyb[r]!)
          .i32Const(ky * s.dilationH)
          .i32Add();
      const ix = (): void =>
        void fn
          .localGet(ixb[r]!)
          .i32Const(kx * s.dilationW)
          .i32Add();
      iy();
      fn.localGet(bb[r]!).i32Add().i32Const(s.inW).i32Mul();
      ix();
      fn.i32Add().i32Const(inStride).i32Mul().i32Const(a.input.addrBytes).i32Add();
      fn.i32Const(a.packedWeights);
      iy();
      fn.i32Const(s.inH).i32LtU();
      ix();
      fn.i32Const(s.inW).i32LtU().i32And().select().localSet(ptr[r]!);
    }
  };
  fn.forRange(
    p,
    (b) => b.localGet(l.start),
    (b) => b.localGet(l.end),
    mr,
    () => {
      for (let r = 0; r < mr; r++) {
        fn.localGet(p).i32Const(r).i32Add().localTee(t0).localGet(l.end).i32Const(1).i32Sub().localTee(t1);
        fn.localGet(t0).localGet(t1).i32LtS().select().localSet(pr[r]!);
        fn.localGet(pr[r]!).i32Const(a.output.pixelStride).i32Mul().i32Const(a.output.addrBytes).i32Add();
        fn.localSet(op[r]!);
        if (pointwise) {
          fn.localGet(pr[r]!).i32Const(inStride).i32Mul().i32Const(a.input.addrBytes).i32Add();
          fn.localSet(tapPtr[0]![r]!);
        } else {
          fn.localGet(pr[r]!).i32Const(plane).i32DivU().i32Const(s.inH).i32Mul().localSet(bb[r]!);
          fn.localGet(pr[r]!).i32Const(plane).i32RemU().localTee(t0).i32Const(s.outW).i32DivU();
          fn.i32Const(s.strideH).i32Mul().i32Const(s.padTop).i32Sub().localSet(iyb[r]!);
          fn.localGet(t0).i32Const(s.outW).i32RemU();
          fn.i32Const(s.strideW).i32Mul().i32Const(s.padLeft).i32Sub().localSet(ixb[r]!);
        }
      }
      if (!pointwise) for (let t = 0; t < taps; t++) setPtrs(t);
      body();
    },
  );
}

/**
 * Emit the walk over output-channel panels of `nr` channels, `bytes` apart from address `first`: a loop over the
 * full panels, then the rest (`lanes` < nr live channels). `wp` and `oc` hold the panel's address and first channel
 * during `body`; `counter` is the loop's local (a fresh one when absent).
 */
export function emitForPanels(
  fn: FunctionBuilder,
  outC: number,
  nr: number,
  l: { first: number; bytes: number; wp: Local; oc: Local; counter?: Local },
  body: (lanes: number) => void,
): void {
  const full = Math.floor(outC / nr);
  const rest = outC - full * nr;
  fn.i32Const(l.first).localSet(l.wp);
  fn.i32Const(0).localSet(l.oc);
  if (full > 0) {
    fn.forRange(
      l.counter ?? fn.local('i32'),
      (b) => b.i32Const(0),
      (b) => b.i32Const(full),
      1,
      () => {
        body(nr);
        fn.localGet(l.wp).i32Const(l.bytes).i32Add().localSet(l.wp);
        fn.localGet(l.oc).i32Const(nr).i32Add().localSet(l.oc);
      },
    );
  }
  if (rest > 0) body(rest);
}

/**
 * Requantize one pixel's accumulators of nb packed blocks (2 * nb i32x4, headers blockBytes apart from wp) into
 * `res`: one block through emitRequantize, two narrowed together into 16 bytes and clamped once.
 */
function emitBlocksEpilogue(
  fn: FunctionBuilder,
  s: Qs8ConvSpec,
  blockBytes: number,
  q: Local[],
  nb: 1 | 2,
  wp: Local,
  res: Local,
): void {
  if (nb === 1) {
    emitRequantize(fn, q[0]!, q[1]!, wp, 0, s.outMin, s.outMax, res, true, s.floatBias === true);
    return;
  }
  for (let i = 0; i < 4; i++) {
    emitRequantizeHalf(fn, q[i]!, wp, (i >> 1) * blockBytes, (i & 1) as 0 | 1, s.floatBias === true);
    if (i & 1) fn.i16x8NarrowI32x4S();
  }
  fn.i8x16NarrowI16x8S();
  emitClampBytes(fn, s.outMin, s.outMax, { hdr: wp, hdrOffBytes: 0 });
  fn.localSet(res);
}

/**
 * A scheduling fence between two pair steps of a widened tile: `if (never) acc = 0` for every accumulator, with
 * `never` false whenever the tile runs (start > end: the pixel loops are empty). V8's TurboFan places a block's pure
 * arithmetic after its loads (the loads are ordered on the effect chain, the dots and adds float to their last use),
 * so an unrolled 8-channel step loaded all 16 weight vectors and 12 broadcasts before its first dot and spilled
 * 1.5 vectors per dot. The branch makes each accumulator a phi at the fence, so the previous step's dots are
 * computed before the next step's loads: a step's live vectors are its accumulators and its own loads (2x16:
 * 8 + 4 weights + 2 broadcasts, no spills). Costs a test and a never-taken branch per step.
 */
function emitScheduleFence(fn: FunctionBuilder, never: Local, acc: Local[][]): void {
  fn.localGet(never).if();
  for (const q of acc) for (const l of q) fn.v128ConstI32(0).localSet(l);
  fn.end();
}

/**
 * Emit a dense qs8 conv (group 1; 1x1 when `isPointwise`) over output pixels [start, end) (the step's
 * parameters, or `range`'s locals). `what` is only for error messages.
 */
export function emitDense(
  fn: FunctionBuilder,
  s: Qs8ConvSpec,
  v: Qs8GemmVariant,
  a: Qs8ConvAddresses,
  what: string,
  range?: { start: Local; end: Local },
): void {
  if (v.widen) {
    if (range) throw new EdgecnnError(`${what}: widened tiles run only as a whole step`, 'internal');
    return emitWidened(fn, s, v, a, what);
  }
  const mr = v.mr;
  checkDenseSpec(s, what);
  const g = geometry(s);
  const [start, end] = range ? [range.start, range.end] : [fn.param(0), fn.param(1)];
  const [p, t0, t1, wp, oc, ko, wk] = fn.locals('i32', 7);
  const pr = fn.locals('i32', mr);
  const iyb = fn.locals('i32', mr);
  const ixb = fn.locals('i32', mr);
  const bb = fn.locals('i32', mr);
  // Input pointer of each (tap, pixel), computed once per pixel tile (taps in the padding -> the pad row).
  const tapPtr = Array.from({ length: g.taps }, () => fn.locals('i32', mr));
  const op = fn.locals('i32', mr);
  const acc = Array.from({ length: mr }, () => fn.locals('v128', v.nr / 4));
  const av = fn.locals('v128', mr);
  const wv = fn.locals('v128', v.nr / 4);
  const [w0, bc, res] = [wv[0]!, ...fn.locals('v128', 2)] as [Local, Local, Local];

  // The reduction over one tap's Cp channels, 8 per step: unrolled with constant offsets when short and the conv
  // is 1x1 (MobileNet's 16..32-channel GEMMs: 17 -> 20 GMAC/s), else a loop (unrolling 9 taps as well made 3x3
  // convs over 16-32 channels slower: 25 -> 18.7 GMAC/s). `body(wBase, wOff)` finds the step's weights at wBase + wOff, A in `av`.
  const forK = (t: number, body: (wBase: Local, wOff: number) => void): void => {
    const steps = g.cp / 8;
    const tapOff = QS8_HEADER_BYTES + t * g.cp * 16;
    if (steps <= 4 && g.taps === 1) {
      for (let kc = 0; kc < steps; kc++) {
        for (let r = 0; r < mr; r++)
          fn.localGet(tapPtr[t]![r]!)
            .v128Load8x8S(kc * 8)
            .localSet(av[r]!);
        body(wp, tapOff + kc * 128);
      }
      return;
    }
    fn.localGet(wp).i32Const(tapOff).i32Add().localSet(wk);
    fn.forRange(
      ko,
      (b) => b.i32Const(0),
      (b) => b.i32Const(g.cp),
      8,
      () => {
        for (let r = 0; r < mr; r++) fn.localGet(tapPtr[t]![r]!).localGet(ko).i32Add().v128Load8x8S().localSet(av[r]!);
        body(wk, 0);
        fn.localGet(wk).i32Const(128).i32Add().localSet(wk);
      },
    );
  };

  const c8 = v.layout === 'c8' ? Array.from({ length: mr }, () => fn.locals('v128', 8)) : [];
  const blockC8 = (lanes: number): void => {
    for (let r = 0; r < mr; r++) for (const l of c8[r]!) fn.v128ConstI32(0).localSet(l);
    for (let t = 0; t < g.taps; t++) {
      forK(t, (wBase, wOff) => {
        for (let nn = 0; nn < QS8_BLOCK; nn++) {
          fn.localGet(wBase)
            .v128Load(wOff + nn * 16)
            .localSet(w0);
          for (let r = 0; r < mr; r++) {
            const l = c8[r]![nn]!;
            fn.localGet(l).localGet(av[r]!).localGet(w0).i32x4DotI16x8S().i32x4Add().localSet(l);
          }
        }
      });
    }
    for (let r = 0; r < mr; r++) {
      const q = c8[r]!;
      // Transpose-and-add: 4 vectors of partial sums -> one vector of 4 channel sums, twice.
      for (let h = 0; h < 2; h++) {
        const [x0, x1, x2, x3] = q.slice(4 * h, 4 * h + 4) as [Local, Local, Local, Local];
        fn.localGet(x0).localGet(x1).i32x4Shuffle(0, 4, 1, 5).localGet(x0).localGet(x1).i32x4Shuffle(2, 6, 3, 7);
        fn.i32x4Add().localSet(x0);
        fn.localGet(x2).localGet(x3).i32x4Shuffle(0, 4, 1, 5).localGet(x2).localGet(x3).i32x4Shuffle(2, 6, 3, 7);
        fn.i32x4Add().localSet(x2);
        fn.localGet(x0).localGet(x2).i32x4Shuffle(0, 1, 4, 5).localGet(x0).localGet(x2).i32x4Shuffle(2, 3, 6, 7);
        fn.i32x4Add()
          .localGet(wp)
          .v128Load(16 * h)
          .i32x4Add()
          .localSet(acc[r]![h]!);
      }
      const [a0, a1] = acc[r]! as [Local, Local];
      emitRequantize(fn, a0, a1, wp, 0, s.outMin, s.outMax, res, true, s.floatBias === true);
      fn.localGet(op[r]!).localGet(oc).i32Add().localSet(t0);
      emitStoreBytes(fn, t0, 0, res, lanes);
    }
  };

  // nb consecutive packed blocks (nb * 8 channels, `lanes` of them live) against mr pixels; block i's header and
  // weights sit blockBytes * i past block 0's.
  const block = (lanes: number, nb: 1 | 2): void => {
    if (v.layout === 'c8') return blockC8(lanes);
    for (let r = 0; r < mr; r++) {
      for (let i = 0; i < 2 * nb; i++)
        fn.localGet(wp)
          .v128Load((i >> 1) * g.blockBytes + 16 * (i & 1))
          .localSet(acc[r]![i]!);
    }
    for (let t = 0; t < g.taps; t++) {
      forK(t, (wBase, wOff) => {
        for (let j = 0; j < 4; j++) {
          for (let i = 0; i < 2 * nb; i++)
            fn.localGet(wBase)
              .v128Load(wOff + (i >> 1) * g.blockBytes + j * 32 + 16 * (i & 1))
              .localSet(wv[i]!);
          const lanesJ = Array.from({ length: 16 }, (_, i) => 4 * j + (i % 4));
          for (let r = 0; r < mr; r++) {
            fn.localGet(av[r]!).localGet(av[r]!).i8x16Shuffle(lanesJ).localSet(bc);
            for (let i = 0; i < 2 * nb; i++) {
              const a0 = acc[r]![i]!;
              fn.localGet(a0).localGet(bc).localGet(wv[i]!).i32x4DotI16x8S().i32x4Add().localSet(a0);
            }
          }
        }
      });
    }
    for (let r = 0; r < mr; r++) {
      const q = acc[r]!;
      fn.localGet(op[r]!).localGet(oc).i32Add().localSet(t0);
      emitBlocksEpilogue(fn, s, g.blockBytes, q, nb, wp, res);
      emitStoreBytes(fn, t0, 0, res, lanes);
    }
  };

  const tiles = { start, end, p, t0, t1, pr, op, iyb, ixb, bb, tapPtr };
  const forPixelTiles = (body: () => void): void => emitForPixelTiles(fn, s, a, mr, tiles, body);
  const panels = { first: a.packedWeights + g.padBytes, bytes: (v.nr / QS8_BLOCK) * g.blockBytes, wp, oc };
  const forBlocks = (body: (lanes: number, nb: 1 | 2) => void): void =>
    emitForPanels(fn, s.outC, v.nr, panels, (lanes) => body(lanes, lanes > QS8_BLOCK ? 2 : 1));
  if (v.order === 'channels') {
    // Weight-stationary: one channel block's panel stays in cache while every pixel tile of the range uses it
    // (the pixel tiles' pointers are recomputed per block).
    forBlocks((lanes, n) => forPixelTiles(() => block(lanes, n)));
  } else {
    forPixelTiles(() => forBlocks(block));
  }
}

/** Pixels per widened chunk: rows of i16 that stay in L1 (~24 KB) while every channel block runs over them. */
function widenChunk(s: Qs8ConvSpec, v: Qs8GemmVariant): number {
  const rowBytes = s.kernelH * s.kernelW * Math.ceil(s.inC / 8) * 16;
  return Math.max(2 * v.mr, Math.min(64, Math.floor(24576 / rowBytes / v.mr) * v.mr));
}

/** Largest scratch the widened rows of one step may take (one row per output pixel). */
const WIDEN_MAX_SCRATCH_BYTES = 8 * 1024 * 1024;

/** Bytes of the widened rows of a step: one i16 row (taps x Cp) per output pixel (ranges never share rows). */
function widenRowsBytes(s: Qs8ConvSpec): number {
  return s.batch * s.outH * s.outW * s.kernelH * s.kernelW * Math.ceil(s.inC / 8) * 16 + 16;
}

/**
 * True for the shapes the widened (`w`) tiles take: ungrouped, any kernel, stride, padding and dilation, while
 * their rows fit WIDEN_MAX_SCRATCH_BYTES (large images keep the in-place tiles rather than megabytes of scratch).
 */
export function widenSupports(s: Qs8ConvSpec): boolean {
  return s.group === 1 && widenRowsBytes(s) <= WIDEN_MAX_SCRATCH_BYTES;
}

/** Scratch of a variant: the widened rows for `w` tiles, none otherwise. */
export function widenScratchBytes(s: Qs8ConvSpec, v: Qs8GemmVariant): number {
  return v.widen ? widenRowsBytes(s) : 0;
}

/** Emit a `w` tile (see `Qs8GemmVariant.widen`) over output pixels [start, end) (the step's parameters). */
function emitWidened(fn: FunctionBuilder, s: Qs8ConvSpec, v: Qs8GemmVariant, a: Qs8ConvAddresses, what: string): void {
  checkDenseSpec(s, what);
  if (!widenSupports(s)) throw new EdgecnnError(`${what}: widened tiles need an ungrouped conv`, 'internal');
  if (a.scratch === undefined) throw new EdgecnnError(`${what}: the scratch address is required`, 'internal');
  const g = geometry(s);
  const mr = v.mr;
  const rowBytes = g.taps * g.cp * 2;
  // Widening runs per tap (steps of 8 channels); the reduction over the whole row (kSteps).
  const steps = g.cp / 8;
  const kSteps = g.taps * steps;
  const chunk = widenChunk(s, v);
  const pointwise = isPointwise(s);
  const plane = s.outH * s.outW;
  const inStride = a.input.pixelStride;
  const [start, end] = [fn.param(0), fn.param(1)];
  const [c0, c1, p, src, dst, t0, t1, wp, oc, ko, wk, img] = fn.locals('i32', 12);
  const ap = fn.locals('i32', mr);
  const op = fn.locals('i32', mr);
  const acc = Array.from({ length: mr }, () => fn.locals('v128', v.nr / 4));
  const wv = fn.locals('v128', v.nr / 4);
  const [bc, res] = fn.locals('v128', 2);
  const never = fn.local('i32');
  fn.localGet(start).localGet(end).i32GtS().localSet(never);

  // (1) widen pixels [c0, c1) into their rows; a strided or padded pixel is gathered here once.
  const widen = (): void =>
    void fn.forRange(
      p,
      (b) => b.localGet(c0),
      (b) => b.localGet(c1),
      1,
      () => {
        fn.localGet(p).i32Const(rowBytes).i32Mul().i32Const(a.scratch!).i32Add().localSet(dst);
        const one = (dstOff: number, srcOff: number): void =>
          void fn.localGet(dst).localGet(src).v128Load8x8S(srcOff).v128Store(dstOff, 0);
        // One tap's Cp channels from src to dst + tapOff (dst is restored after a loop).
        const copyTap = (tapOff: number): void => {
          if (steps <= 16) {
            for (let kc = 0; kc < steps; kc++) one(tapOff + kc * 16, kc * 8);
            return;
          }
          fn.forRange(
            ko,
            (b) => b.i32Const(0),
            (b) => b.i32Const(steps),
            1,
            () => {
              one(tapOff, 0);
              fn.localGet(dst).i32Const(16).i32Add().localSet(dst);
              fn.localGet(src).i32Const(8).i32Add().localSet(src);
            },
          );
          fn.localGet(dst)
            .i32Const(-steps * 16)
            .i32Add()
            .localSet(dst);
        };
        if (pointwise) {
          fn.localGet(p).i32Const(inStride).i32Mul().i32Const(a.input.addrBytes).i32Add().localSet(src);
          copyTap(0);
          return;
        }
        // iy = oy * sH - padTop + ky * dH, ix likewise; a tap out of the image reads the pad row of input-zero bytes.
        const [iy, ix] = [t0, t1];
        fn.localGet(p).i32Const(plane).i32RemU().localTee(src).i32Const(s.outW).i32DivU();
        fn.i32Const(s.strideH).i32Mul().i32Const(s.padTop).i32Sub().localSet(iy);
        fn.localGet(src).i32Const(s.outW).i32RemU();
        fn.i32Const(s.strideW).i32Mul().i32Const(s.padLeft).i32Sub().localSet(ix);
        fn.localGet(p)
          .i32Const(plane)
          .i32DivU()
          .i32Const(s.inH * s.inW * inStride)
          .i32Mul();
        fn.i32Const(a.input.addrBytes).i32Add().localSet(img);
        for (let t = 0; t < g.taps; t++) {
          const dy = Math.floor(t / s.kernelW) * s.dilationH;
          const dx = (t % s.kernelW) * s.dilationW;
          fn.localGet(iy).i32Const(dy).i32Add().i32Const(s.inW).i32Mul().localGet(ix).i32Const(dx).i32Add().i32Add();
          fn.i32Const(inStride).i32Mul().localGet(img).i32Add().i32Const(a.packedWeights);
          fn.localGet(iy).i32Const(dy).i32Add().i32Const(s.inH).i32LtU();
          fn.localGet(ix).i32Const(dx).i32Add().i32Const(s.inW).i32LtU().i32And().select().localSet(src);
          copyTap(t * g.cp * 2);
        }
      },
    );

  // (2) one tile: mr pixels from p (rows past c1 redo the last pixel) x nb blocks at wp.
  const tile = (lanes: number, nb: 1 | 2): void => {
    for (let r = 0; r < mr; r++) {
      fn.localGet(p).i32Const(r).i32Add().localTee(t0).localGet(c1).i32Const(1).i32Sub().localTee(t1);
      fn.localGet(t0).localGet(t1).i32LtS().select().localTee(t0);
      fn.i32Const(rowBytes).i32Mul().i32Const(a.scratch!).i32Add().localSet(ap[r]!);
      fn.localGet(t0).i32Const(a.output.pixelStride).i32Mul().i32Const(a.output.addrBytes).i32Add();
      fn.localGet(oc).i32Add().localSet(op[r]!);
      for (let i = 0; i < 2 * nb; i++)
        fn.localGet(wp)
          .v128Load((i >> 1) * g.blockBytes + 16 * (i & 1))
          .localSet(acc[r]![i]!);
    }
    // One 8-channel step: A at ap + aOff (constant or via ko), weights at wBase + wOff.
    const kStep = (aOff: number, wBase: Local, wOff: number): void => {
      for (let j = 0; j < 4; j++) {
        emitScheduleFence(fn, never, acc);
        for (let i = 0; i < 2 * nb; i++)
          fn.localGet(wBase)
            .v128Load(wOff + (i >> 1) * g.blockBytes + j * 32 + 16 * (i & 1))
            .localSet(wv[i]!);
        for (let r = 0; r < mr; r++) {
          fn.localGet(ap[r]!)
            .v128Load32Splat(aOff + j * 4, 0)
            .localSet(bc);
          for (let i = 0; i < 2 * nb; i++) {
            const l = acc[r]![i]!;
            fn.localGet(l).localGet(bc).localGet(wv[i]!).i32x4DotI16x8S().i32x4Add().localSet(l);
          }
        }
      }
    };
    if (kSteps <= 4) {
      for (let kc = 0; kc < kSteps; kc++) kStep(kc * 16, wp, QS8_HEADER_BYTES + kc * 128);
    } else {
      fn.localGet(wp).i32Const(QS8_HEADER_BYTES).i32Add().localSet(wk);
      fn.forRange(
        ko,
        (b) => b.i32Const(0),
        (b) => b.i32Const(kSteps),
        1,
        () => {
          kStep(0, wk, 0);
          fn.localGet(wk).i32Const(128).i32Add().localSet(wk);
          for (let r = 0; r < mr; r++) fn.localGet(ap[r]!).i32Const(16).i32Add().localSet(ap[r]!);
        },
      );
    }
    for (let r = 0; r < mr; r++) {
      const q = acc[r]!;
      emitBlocksEpilogue(fn, s, g.blockBytes, q, nb, wp, res);
      emitStoreBytes(fn, op[r]!, 0, res, lanes);
    }
  };

  const panels = { first: a.packedWeights + g.padBytes, bytes: (v.nr / QS8_BLOCK) * g.blockBytes, wp, oc };
  const tiles = (lanes: number, n: 1 | 2): void =>
    void fn.forRange(
      p,
      (b) => b.localGet(c0),
      (b) => b.localGet(c1),
      mr,
      () => tile(lanes, n),
    );
  fn.forRange(
    c0,
    (b) => b.localGet(start),
    (b) => b.localGet(end),
    chunk,
    () => {
      fn.localGet(c0).i32Const(chunk).i32Add().localTee(c1).localGet(end).localGet(c1).localGet(end);
      fn.i32LtU().select().localSet(c1);
      widen();
      emitForPanels(fn, s.outC, v.nr, panels, (lanes) => tiles(lanes, lanes > QS8_BLOCK ? 2 : 1));
    },
  );
}

/** Multiply-accumulates of a dense conv. */
export function denseMacs(s: Qs8ConvSpec): number {
  return s.batch * s.outH * s.outW * s.outC * s.inC * s.kernelH * s.kernelW;
}

/** The qs8 GEMM family (1x1 convolutions over pixels); ids `qs8-gemm-<clamp>-4x8c2-wasmsimd`. */
export const qs8Gemm = {
  family: 'qs8-gemm',
  variants: QS8_GEMM_VARIANTS,
  supports: (s: Qs8ConvSpec, v: Qs8GemmVariant): boolean => isPointwise(s) && (!v.widen || widenSupports(s)),
  id: (s: Qs8ConvSpec, v: Qs8GemmVariant): string =>
    `qs8-gemm${s.outMin > -128 || s.outMax < 127 ? '-minmax' : ''}-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8ConvSpec): number => s.batch * s.outH * s.outW,
  scratchBytes: widenScratchBytes,
  pack: (s: Qs8ConvSpec, v: Qs8GemmVariant, w: Qs8ConvWeights): Uint8Array => packDense(s, w, 'qs8-gemm', v.layout),
  emit(fn: FunctionBuilder, s: Qs8ConvSpec, v: Qs8GemmVariant, a: Qs8ConvAddresses): void {
    if (!isPointwise(s)) throw new EdgecnnError('qs8-gemm: not a 1x1/stride-1/unpadded conv', 'internal');
    emitDense(fn, s, v, a, 'qs8-gemm');
  },
  macs: denseMacs,
} as const;
