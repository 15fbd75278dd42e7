/**
 * qs8 depthwise convolution (group == C_in == C_out, any kernel/stride/pad/dilation; MobileNet's 3x3/5x5 s1/s2)
 * over NHWC int8, 8 channels per block: inputs widened to i16 (v128.load8x8_s), two taps interleaved per channel
 * (one i8x16.shuffle per 4 channels) and multiplied with packed [w(A), w(B)] pairs by i32x4.dot_i16x8_s.
 * Tile `8c`: one output pixel per item, taps paired in order, padding read from the packed pad row.
 * Tiles `<px>x8c[r]`: items are output rows (x channel groups); px adjacent pixels per step share the interleaves
 * of kernel-row pairs at each input column. Padding: a kernel row outside the image reads a clamped row with
 * zero weights (one packed weight set per row-validity pattern, its zIn * w moved into the bias); a column outside
 * reads input-zero-point lanes held in a register (compile-time code for border columns). Requantization is the
 * shared one (requantize.ts). `r`: the channel block loop is outside the row's pixels, so a block's
 * 2 x ceil(taps / 2) weight pairs are loaded once per row.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import {
  type Qs8ConvAddresses,
  type Qs8ConvSpec,
  type Qs8ConvWeights,
  biasOf,
  checkFloatBias,
  padRowBytes,
} from './qs8-gemm.js';
import { QS8_BLOCK, QS8_HEADER_BYTES, checkQuant, emitRequantize, emitStoreBytes, packHeader } from './requantize.js';
import type { KernelVariant } from './types.js';
import { dwChannelGroups, dwRowWalk, dwSlotPatterns } from './qs8-dwconv-rows.js';
import { checkConvSpec } from './types.js';

/** A depthwise variant: `px` output pixels per step along a row (0: the per-pixel `8c` kernel). */
export interface Qs8DwconvVariant extends KernelVariant {
  readonly px: number;
  /** Channel blocks outside the row's pixels (weights stay in registers along the row); else inside each tile. */
  readonly stream?: boolean;
}

/** i16 lanes 0-3 (half 0) or 4-7 (half 1) of two vectors, interleaved: [a0 b0 a1 b1 ...] (punpck{l,h}wd). */
export const INTERLEAVE = [0, 1].map((h) =>
  Array.from({ length: 16 }, (_, i) => {
    const lane = h * 4 + (i >> 2);
    return (i & 2 ? 16 : 0) + lane * 2 + (i & 1);
  }),
) as [number[], number[]];

/** The depthwise variants, in cost-model order (measured: `node dist/bench/qs8-kernels.js dw`). */
export const QS8_DWCONV_VARIANTS: readonly Qs8DwconvVariant[] = [
  // Measured on MobileNetV2's layers: 4x8cr >= 4x8c by 1-9%, both 1.2-1.6x 8c; 2-pixel tiles 5-10% behind;
  // 6x8cr within +-3% of 4x8cr (a tuning candidate: its code is larger).
  { tile: '4x8cr', isa: 'wasmsimd', px: 4, stream: true },
  { tile: '6x8cr', isa: 'wasmsimd', px: 6, stream: true },
  { tile: '4x8c', isa: 'wasmsimd', px: 4 },
  { tile: '2x8cr', isa: 'wasmsimd', px: 2, stream: true },
  { tile: '8c', isa: 'wasmsimd', px: 0 },
];

export const isDepthwise = (s: Qs8ConvSpec): boolean => s.group === s.inC && s.inC === s.outC;

function check(s: Qs8ConvSpec): void {
  checkConvSpec({ ...s, epilogue: { activation: { kind: 'none' }, residual: false } }, 'qs8-dwconv');
  if (!isDepthwise(s)) throw new EdgecnnError('qs8-dwconv: not a depthwise conv (group == C_in == C_out)', 'internal');
}

const blockBytes = (s: Qs8ConvSpec): number => QS8_HEADER_BYTES + Math.ceil((s.kernelH * s.kernelW) / 2) * 32;

function pack(s: Qs8ConvSpec, v: Qs8DwconvVariant, w: Qs8ConvWeights): Uint8Array {
  check(s);
  checkQuant(w.quant, 'qs8-dwconv');
  checkFloatBias(s, w, 'qs8-dwconv');
  const taps = s.kernelH * s.kernelW;
  if (w.weights.length !== s.outC * taps) {
    throw new EdgecnnError(`qs8-dwconv: ${w.weights.length} weights, expected ${s.outC * taps}`, 'bad-model');
  }
  if (v.px > 0) return packRows(s, w);
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
    packHeader(view, base, b * QS8_BLOCK, s.outC, w.quant, sum, biasOf(w), { lo: s.outMin, hi: s.outMax });
    for (let k = 0; k < taps; k++) {
      for (let j = 0; j < QS8_BLOCK && b * QS8_BLOCK + j < s.outC; j++) {
        const at = base + QS8_HEADER_BYTES + (k >> 1) * 32 + (j >> 2) * 16 + (j & 3) * 4 + (k & 1) * 2;
        view.setInt16(at, w.weights[(b * QS8_BLOCK + j) * taps + k]!, true);
      }
    }
  }
  return out;
}

function emit(fn: FunctionBuilder, s: Qs8ConvSpec, v: Qs8DwconvVariant, a: Qs8ConvAddresses): void {
  if (v.px > 0) return emitRows(fn, s, v.px, v.stream ?? false, a);
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
    emitRequantize(fn, acc0, acc1, wp, 0, s.outMin, s.outMax, res, true, s.floatBias === true);
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

// ---- Row tiles (`<px>x8c`) ---------------------------------------------------------------------------------

/** A pair slot: one i16x8 interleave of the inputs at taps A and B times the packed [w(A), w(B)] pairs. */
interface Slot {
  /** Kernel rows and input columns (relative to the pixel's window start) of the two interleaved inputs. */
  rowA: number;
  colA: number;
  rowB: number;
  colB: number;
  /** Weight tap index (ky * kw + kx) of each half; -1 = zero weight (a partner read only to fill the pair). */
  kA: number;
  kB: number;
}

/**
 * The pair slots of every output pixel: kernel rows (0,1), (2,3), ... pair at each kx (the interleave of two
 * rows at one column is shared by every pixel whose window covers that column); an odd last row pairs (kx, kx+1)
 * and its odd last tap with a zero-weight neighbour: the previous column (`backward`, shared with the
 * neighbouring pixel at stride 1) or the next (`forward`, shared with the next pixel's first pair at stride 2).
 */
function slotsOf(s: Qs8ConvSpec, forward: boolean): Slot[] {
  const { kernelH: kh, kernelW: kw, dilationW: dW } = s;
  const out: Slot[] = [];
  for (let ky = 0; ky + 1 < kh; ky += 2)
    for (let kx = 0; kx < kw; kx++)
      out.push({ rowA: ky, colA: kx * dW, rowB: ky + 1, colB: kx * dW, kA: ky * kw + kx, kB: (ky + 1) * kw + kx });
  if (kh % 2 === 1) {
    const r = kh - 1;
    for (let kx = 0; kx + 1 < kw; kx += 2)
      out.push({ rowA: r, colA: kx * dW, rowB: r, colB: (kx + 1) * dW, kA: r * kw + kx, kB: r * kw + kx + 1 });
    if (kw % 2 === 1) {
      const kx = kw - 1;
      const k = r * kw + kx;
      if (kw === 1) out.push({ rowA: r, colA: 0, rowB: r, colB: 0, kA: k, kB: -1 });
      else if (forward) out.push({ rowA: r, colA: kx * dW, rowB: r, colB: (kx + 1) * dW, kA: k, kB: -1 });
      else out.push({ rowA: r, colA: (kx - 1) * dW, rowB: r, colB: kx * dW, kA: -1, kB: k });
    }
  }
  return out;
}

const keyOf = (p: number, sW: number, sl: Slot): string =>
  `${sl.rowA}:${p * sW + sl.colA}:${sl.rowB}:${p * sW + sl.colB}`;

/** Distinct interleaves of a 4-pixel tile; the odd-tap partner goes where it shares more (backward on ties). */
function isForward(s: Qs8ConvSpec): boolean {
  if (s.kernelH % 2 === 0 || s.kernelW % 2 === 0 || s.kernelW === 1) return false;
  const count = (fw: boolean): number =>
    new Set([0, 1, 2, 3].flatMap((p) => slotsOf(s, fw).map((sl) => keyOf(p, s.strideW, sl)))).size;
  return count(true) < count(false);
}

/** Row tiles' packed prefix: 16 input-zero-point bytes (the padding lanes), then the channel blocks. */
const ZERO_LANES_BYTES = 16;

const rowsBlockBytes = (s: Qs8ConvSpec): number => QS8_HEADER_BYTES + slotsOf(s, isForward(s)).length * 32;

/** One slot per kernel row (its input row from the window top). */
const kernelRowSlots = (s: Qs8ConvSpec): number[] => Array.from({ length: s.kernelH }, (_, ky) => ky * s.dilationH);

function packRows(s: Qs8ConvSpec, w: Qs8ConvWeights): Uint8Array {
  const taps = s.kernelH * s.kernelW;
  const slots = slotsOf(s, isForward(s));
  const pad = ZERO_LANES_BYTES;
  const bytes = rowsBlockBytes(s);
  const blocks = Math.ceil(s.outC / QS8_BLOCK);
  // Per row-validity pattern its own packed weights: taps of rows in the padding zeroed, their zIn * w in the bias.
  const { patterns } = dwSlotPatterns(s, 1, kernelRowSlots(s));
  const out = new Uint8Array(pad + patterns.length * blocks * bytes);
  out.fill(w.quant.inZero & 0xff, 0, pad);
  const view = new DataView(out.buffer);
  patterns.forEach((pattern, pi) => {
    const live = (k: number): boolean => k >= 0 && pattern[Math.floor(k / s.kernelW)]!;
    for (let b = 0; b < blocks; b++) {
      const base = pad + (pi * blocks + b) * bytes;
      // The accumulator starts at bias - zIn * sum(w) over the taps in rows inside the image only.
      const sum = (n: number): number => {
        let t = 0;
        for (let k = 0; k < taps; k++) if (live(k)) t += w.weights[n * taps + k]!;
        return t;
      };
      packHeader(view, base, b * QS8_BLOCK, s.outC, w.quant, sum, biasOf(w), { lo: s.outMin, hi: s.outMax });
      slots.forEach((sl, i) => {
        for (let j = 0; j < QS8_BLOCK && b * QS8_BLOCK + j < s.outC; j++) {
          const at = base + QS8_HEADER_BYTES + i * 32 + (j >> 2) * 16 + (j & 3) * 4;
          const n = (b * QS8_BLOCK + j) * taps;
          if (live(sl.kA)) view.setInt16(at, w.weights[n + sl.kA]!, true);
          if (live(sl.kB)) view.setInt16(at + 2, w.weights[n + sl.kB]!, true);
        }
      });
    }
  });
  return out;
}

function emitRows(fn: FunctionBuilder, s: Qs8ConvSpec, px: number, stream: boolean, a: Qs8ConvAddresses): void {
  check(s);
  const forward = isForward(s);
  const slots = slotsOf(s, forward);
  const { strideW: sW, inW } = s;
  const inStride = a.input.pixelStride;
  const outStride = a.output.pixelStride;
  const colValid = (ix: number): boolean => ix >= 0 && ix < inW;
  const positions = (p: number): number[] => slots.flatMap((sl) => [p * sW + sl.colA, p * sW + sl.colB]);
  // One slot per kernel row; interior pixels: every position a slot reads (zero-weight partners too) is inside.
  const walk = dwRowWalk(fn, s, a, {
    px,
    stream,
    rows: 1,
    slotOffsets: kernelRowSlots(s),
    blockBytes: rowsBlockBytes(s),
    weightsAt: a.packedWeights + ZERO_LANES_BYTES,
    interior: (x) => positions(0).every((j) => colValid(x * sW - s.padLeft + j)),
  });
  const { rp, op, wp } = walk.locals;
  const [zs, bias0, bias1, lo, hi, res] = fn.locals('v128', 6);
  const acc = Array.from({ length: px }, () => fn.locals('v128', 2));
  const pool: Local[] = [];
  const wLocals = fn.locals('v128', slots.length * 2);
  const take = (): Local => pool.pop() ?? fn.local('v128');

  // Input-zero-point lanes stand in for taps in the padding (their (zIn - zIn) * w is 0 as the bias assumes).
  fn.i32Const(a.packedWeights).v128Load8x8S().localSet(zs);

  // A block's bias and weight pairs (loaded once per block and shared by its pixels; with `stream`, by the row).
  const loadBlockConstants = (): void => {
    fn.localGet(wp).v128Load(0).localSet(bias0);
    fn.localGet(wp).v128Load(16).localSet(bias1);
    wLocals.forEach((l, i) =>
      fn
        .localGet(wp)
        .v128Load(QS8_HEADER_BYTES + i * 16)
        .localSet(l),
    );
  };

  /**
   * One block of `lanes` channels for `n` pixels: ip/op/wp set. `constX`: the output column of a compile-time
   * pixel (positions outside the image read zero-point lanes); undefined for a runtime tile (all inside).
   */
  const blockBody = (n: number, lanes: number, constX?: number): void => {
    if (!stream) loadBlockConstants();
    const started = acc.map(() => [false, false]);
    // Interleave keys in column order; each input vector is loaded once and freed after its last use.
    const terms = new Map<string, { sl: Slot; slot: number; p: number }[]>();
    for (let p = 0; p < n; p++)
      slots.forEach((sl, slot) => {
        const k = keyOf(p, sW, sl);
        (terms.get(k) ?? terms.set(k, []).get(k)!).push({ sl, slot, p });
      });
    const keys = [...terms.keys()].sort((x, y) => {
      const [ra, ca, rb, cbb] = x.split(':').map(Number) as [number, number, number, number];
      const [sa, da, sb, db] = y.split(':').map(Number) as [number, number, number, number];
      return Math.max(ca, cbb) - Math.max(da, db) || ca - da || ra - sa || rb - sb;
    });
    const src = (ky: number, j: number): string => {
      const ix = constX === undefined ? j : constX * sW - s.padLeft + j;
      return constX === undefined || colValid(ix) ? `${ky}:${ix}` : 'z';
    };
    const lastUse = new Map<string, number>();
    keys.forEach((k, i) => {
      const [ra, ca, rb, cbb] = k.split(':').map(Number) as [number, number, number, number];
      lastUse.set(src(ra, ca), i);
      lastUse.set(src(rb, cbb), i);
    });
    const loaded = new Map<string, Local>([['z', zs]]);
    const weight = (slot: number, h: number): Local => wLocals[slot * 2 + h]!;
    const value = (id: string): Local => {
      let l = loaded.get(id);
      if (!l) {
        const [ky, ix] = id.split(':').map(Number) as [number, number];
        l = take();
        fn.localGet(rp[ky]!)
          .v128Load8x8S(ix * inStride)
          .localSet(l);
        loaded.set(id, l);
      }
      return l;
    };
    keys.forEach((k, i) => {
      const [ra, ca, rb, cbb] = k.split(':').map(Number) as [number, number, number, number];
      const [ia, ib] = [src(ra, ca), src(rb, cbb)];
      const [va, vb] = [value(ia), value(ib)];
      fn.localGet(va).localGet(vb).i8x16Shuffle(INTERLEAVE[0]).localSet(lo);
      fn.localGet(va).localGet(vb).i8x16Shuffle(INTERLEAVE[1]).localSet(hi);
      for (const id of [ia, ib]) {
        if (id !== 'z' && lastUse.get(id) === i && loaded.has(id)) {
          pool.push(loaded.get(id)!);
          loaded.delete(id);
        }
      }
      for (const { slot, p } of terms.get(k)!) {
        for (let h = 0; h < 2; h++) {
          fn.localGet(started[p]![h] ? acc[p]![h]! : h ? bias1 : bias0);
          fn.localGet(h ? hi : lo)
            .localGet(weight(slot, h))
            .i32x4DotI16x8S()
            .i32x4Add()
            .localSet(acc[p]![h]!);
          started[p]![h] = true;
        }
      }
    });
    for (let p = 0; p < n; p++) {
      emitRequantize(fn, acc[p]![0]!, acc[p]![1]!, wp, 0, s.outMin, s.outMax, res, true, s.floatBias === true);
      emitStoreBytes(fn, op, p * outStride, res, lanes);
    }
  };

  walk.emit({ block: blockBody, loadBlockConstants });
}

/** The qs8 depthwise conv family; ids `qs8-dwconv[-minmax]-<kh>x<kw>s<s>-<tile>-wasmsimd`. */
export const qs8Dwconv = {
  family: 'qs8-dwconv',
  variants: QS8_DWCONV_VARIANTS,
  supports: (s: Qs8ConvSpec, _v: Qs8DwconvVariant): boolean => isDepthwise(s),
  id: (s: Qs8ConvSpec, v: Qs8DwconvVariant): string =>
    `qs8-dwconv${s.outMin > -128 || s.outMax < 127 ? '-minmax' : ''}-${s.kernelH}x${s.kernelW}s${s.strideH}-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8ConvSpec, v: Qs8DwconvVariant): number =>
    v.px > 0 ? s.batch * s.outH * dwChannelGroups(s, 1).groups : s.batch * s.outH * s.outW,
  pack,
  emit,
  macs: (s: Qs8ConvSpec): number => s.batch * s.outH * s.outW * s.outC * s.kernelH * s.kernelW,
} as const;
