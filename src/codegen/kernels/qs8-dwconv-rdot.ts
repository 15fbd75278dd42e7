/**
 * qs8 depthwise convolution on the relaxed int8 dot `i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c)` (used only
 * where the start-up probe proved it exact: `wasmusdot` reads b as u8, `wasmsdot` as i8; see qs8-gemm-rdot.ts).
 * One i32 lane = 4 input rows of one channel at one kernel column: a = packed weights, 4 channels x 4 rows per
 * vector; b = the 4 rows' bytes of those channels at one input column. An item is 1 or 2 output rows; it reads
 * `slots` input rows (kh, or kh + 1 for 2 rows at stride 1) in groups of 4, a group's slots past the last
 * reusing its vector (zero weights, no load). Per group and input column: 4 loads of 8 channels, 2 byte
 * interleaves (slots 0/1, 2/3) and 2 16-bit interleaves give [s0 s1 s2 s3] for channels 0-3 and 4-7 (xor 0x80 for
 * u8 feeding: q + 128), which every output pixel of the tile covering that column takes, per output row with
 * that row's weights (3x3, 2 rows: row y has [k0 k1 k2 0], row y + 1 [0 k0 k1 k2] on the same vectors).
 * Row tiles as qs8-dwconv's: items = output rows (or pairs; an odd last row shares the pair before it, whose
 * first row is then written twice with equal bytes) x channel groups; px pixels per step share each column's
 * interleaves. 1 row: column by column, a pixel finished after its last column; 2 rows: pixel by pixel, a
 * column's interleaves live until their last pixel (fewer live registers than 2 rows of accumulators).
 * Padding as qs8-dwconv's: one packed weight set per slot-validity pattern (slots in the padding read a clamped
 * row with zero weights and their zFed * w is moved into the bias), columns outside the image read
 * input-zero-point lanes. The accumulator starts at bias - zFed * sum(live w) (zFed = zIn + 128 for u8 feeding)
 * and ends equal to qs8-dwconv's; the epilogue is the shared one (requantize.ts): outputs are bit-identical.
 * Tiles `[2x]<px>x8c4[r]`: `2x` two output rows, `r` a block's weights in registers along the row (1 row, 3
 * columns). Any kernel size, stride and dilation works here; lowering offers these kernels for 3x3 and 5x5 at
 * stride 1 or 2 without dilation (measured), other depthwise shapes stay on qs8-dwconv.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { type Qs8ConvAddresses, type Qs8ConvSpec, type Qs8ConvWeights, biasOf, checkFloatBias } from './qs8-gemm.js';
import { type RdotIsa, rdotIsaOf } from './qs8-gemm-rdot.js';
import { INTERLEAVE, isDepthwise } from './qs8-dwconv.js';
import { dwChannelGroups, dwItemsPerImage, dwRowWalk, dwSlotPatterns } from './qs8-dwconv-rows.js';
import { QS8_BLOCK, QS8_HEADER_BYTES, checkQuant, emitRequantize, emitStoreBytes, packHeader } from './requantize.js';
import type { KernelVariant } from './types.js';
import { checkConvSpec } from './types.js';

export interface Qs8DwconvRdotVariant extends KernelVariant {
  readonly isa: RdotIsa;
  /** Output pixels per step along a row. */
  readonly px: number;
  /** Channel blocks outside the row's pixels with the block's weights in registers (3x3 only); else inside. */
  readonly stream: boolean;
  /**
   * Output rows per item: 2 (stride 1, no dilation) feeds both rows from one set of interleaves (input rows
   * y..y+kh: row y's weights at lanes 0..kh-1, row y+1's at 1..kh), pixel by pixel (a pixel's columns live).
   */
  readonly rows: 1 | 2;
}

const TILES: readonly { px: number; stream: boolean; rows: 1 | 2 }[] = [
  { px: 4, stream: true, rows: 1 },
  { px: 8, stream: true, rows: 1 },
  { px: 16, stream: true, rows: 1 },
  { px: 8, stream: false, rows: 1 },
  { px: 16, stream: false, rows: 1 },
  { px: 8, stream: false, rows: 2 },
  { px: 16, stream: false, rows: 2 },
];

/** Every tile for both readings of b. */
export const QS8_DWCONV_RDOT_VARIANTS: readonly Qs8DwconvRdotVariant[] = (['wasmusdot', 'wasmsdot'] as const).flatMap(
  (isa) =>
    TILES.map(({ px, stream, rows }) => ({
      tile: `${rows > 1 ? `${rows}x` : ''}${px}x8c4${stream ? 'r' : ''}`,
      isa,
      px,
      stream,
      rows,
    })),
);

/** Input-row slots an item reads: kernel rows (1 output row) or kh + 1 consecutive rows (2 output rows). */
const slotsOf = (s: Qs8ConvSpec, rows: number): number => s.kernelH + rows - 1;

/** Slot groups of 4 (one i32 lane each). */
const groupsOf = (s: Qs8ConvSpec, rows: number): number => Math.ceil(slotsOf(s, rows) / 4);

/** Weight vectors per output row of an 8-channel block: groups x kernel columns x 2 (channels 0-3, 4-7). */
const weightVectors = (s: Qs8ConvSpec, rows: number): number => groupsOf(s, rows) * s.kernelW * 2;

/** `stream` keeps the weights in registers: only where they fit beside the accumulators (V8 x64: 16 xmm). */
const fitsRegisters = (s: Qs8ConvSpec): boolean => weightVectors(s, 1) <= 6;

/** Two output rows per item need stride 1, no row dilation and at least 2 output rows. */
const twoRowsFit = (s: Qs8ConvSpec): boolean => s.strideH === 1 && s.dilationH === 1 && s.outH >= 2;

const usable = (s: Qs8ConvSpec, v: Qs8DwconvRdotVariant): boolean =>
  isDepthwise(s) && (!v.stream || (fitsRegisters(s) && v.rows === 1)) && (v.rows === 1 || twoRowsFit(s));

/** Input row (relative to the item's first output row's window top) of slot t. */
const slotOffset = (s: Qs8ConvSpec, rows: number, t: number): number => (rows === 1 ? t * s.dilationH : t);
const slotOffsets = (s: Qs8ConvSpec, rows: number): number[] =>
  Array.from({ length: slotsOf(s, rows) }, (_, t) => slotOffset(s, rows, t));

/** The kernel row output row r of an item applies at slot t (-1: none). */
const kernelRowAt = (s: Qs8ConvSpec, rows: number, r: number, t: number): number =>
  rows === 1 ? (t < s.kernelH ? t : -1) : t - r >= 0 && t - r < s.kernelH ? t - r : -1;

/**
 * The variants usable for a depthwise conv with the probed reading of b, the preferred first; none when the dot is
 * inexact or the shape is not one measured faster than qs8-dwconv (3x3 and 5x5 kernels, stride 1 or 2, no
 * dilation: MobileNet, EfficientNet, ShuffleNet).
 */
export function candidateQs8DwconvRdotVariants(
  s: Qs8ConvSpec,
  b: 'unsigned' | 'signed' | 'none' | undefined,
): Qs8DwconvRdotVariant[] {
  const isa = rdotIsaOf(b);
  const square = s.kernelH === s.kernelW && (s.kernelH === 3 || s.kernelH === 5);
  const strided = s.strideH === s.strideW && (s.strideH === 1 || s.strideH === 2);
  if (!isa || !isDepthwise(s) || !square || !strided || s.dilationH !== 1 || s.dilationW !== 1) return [];
  const mine = QS8_DWCONV_RDOT_VARIANTS.filter((v) => v.isa === isa && usable(s, v));
  // Measured in Chromium (`node dist/bench/browser-qs8-kernels.js dw- --all`, x86 VNNI): at stride 1 two output rows
  // per item win (MobileNetV2 3x3: 1.6-1.8x the best i16 tile; 1 row: 1.4-1.5x), 16-pixel tiles by 3-8% over 8
  // for 3x3 (fewer columns interleaved twice), 8 for 5x5 (fewer live registers); at stride 2 one row, 3x3 with
  // the weights in registers.
  const want = twoRowsFit(s) ? (s.kernelH === 3 ? '2x16x8c4' : '2x8x8c4') : fitsRegisters(s) ? '16x8c4r' : '16x8c4';
  const pick = mine.find((v) => v.tile === want)!;
  return [pick, ...mine.filter((v) => v !== pick)];
}

function check(s: Qs8ConvSpec, v: Qs8DwconvRdotVariant): void {
  checkConvSpec({ ...s, epilogue: { activation: { kind: 'none' }, residual: false } }, 'qs8-dwconv-rdot');
  if (!isDepthwise(s)) throw new EdgecnnError('qs8-dwconv: not a depthwise conv (group == C_in == C_out)', 'internal');
  if (!usable(s, v)) throw new EdgecnnError(`qs8-dwconv: ${v.tile} does not fit this shape`, 'internal');
}

/** Packed prefix: 16 input-zero-point bytes (the padding lanes), then per pattern and channel block its bytes. */
const ZERO_LANES_BYTES = 16;

/** Bytes of one output row's part of a block: its header, then its weight vectors. */
const rowBytes = (s: Qs8ConvSpec, rows: number): number => QS8_HEADER_BYTES + weightVectors(s, rows) * 16;

/** Bytes of one packed 8-channel block: a part per output row of the item. */
const blockBytes = (s: Qs8ConvSpec, rows: number): number => rows * rowBytes(s, rows);

/** Pack weights [C, 1, kh, kw]: per row-validity pattern and 8-channel block a header, then the weight vectors. */
function pack(s: Qs8ConvSpec, v: Qs8DwconvRdotVariant, w: Qs8ConvWeights): Uint8Array {
  check(s, v);
  checkQuant(w.quant, 'qs8-dwconv');
  checkFloatBias(s, w, 'qs8-dwconv');
  const { kernelH: kh, kernelW: kw } = s;
  const taps = kh * kw;
  if (w.weights.length !== s.outC * taps) {
    throw new EdgecnnError(`qs8-dwconv: ${w.weights.length} weights, expected ${s.outC * taps}`, 'bad-model');
  }
  const { rows } = v;
  const bytes = blockBytes(s, rows);
  const blocks = Math.ceil(s.outC / QS8_BLOCK);
  const { patterns } = dwSlotPatterns(s, rows, slotOffsets(s, rows));
  const out = new Uint8Array(ZERO_LANES_BYTES + patterns.length * blocks * bytes);
  out.fill(w.quant.inZero & 0xff, 0, ZERO_LANES_BYTES);
  const view = new DataView(out.buffer);
  // u8 feeding reads q + 128, whose zero point is zIn + 128 (the padding lanes hold zIn and are flipped too).
  const fed = { ...w.quant, inZero: w.quant.inZero + (v.isa === 'wasmusdot' ? 128 : 0) };
  patterns.forEach((pattern, pi) => {
    for (let b = 0; b < blocks; b++)
      for (let r = 0; r < rows; r++) {
        const base = ZERO_LANES_BYTES + (pi * blocks + b) * bytes + r * rowBytes(s, rows);
        // Only the taps at slots inside the image count: the others meet zero weights.
        const live = (ky: number): boolean => pattern[rows === 1 ? ky : ky + r]!;
        const sum = (n: number): number => {
          let t = 0;
          for (let k = 0; k < taps; k++) if (live(Math.floor(k / kw))) t += w.weights[n * taps + k]!;
          return t;
        };
        packHeader(view, base, b * QS8_BLOCK, s.outC, fed, sum, biasOf(w), { lo: s.outMin, hi: s.outMax });
        for (let j = 0; j < QS8_BLOCK && b * QS8_BLOCK + j < s.outC; j++) {
          const n = b * QS8_BLOCK + j;
          for (let g = 0; g < groupsOf(s, rows); g++)
            for (let kx = 0; kx < kw; kx++)
              for (let u = 0; u < 4; u++) {
                const ky = kernelRowAt(s, rows, r, 4 * g + u);
                if (ky < 0 || !pattern[4 * g + u]) continue;
                const at = base + QS8_HEADER_BYTES + ((g * kw + kx) * 2 + (j >> 2)) * 16 + (j & 3) * 4 + u;
                view.setInt8(at, w.weights[n * taps + ky * kw + kx]!);
              }
        }
      }
  });
  return out;
}

/** Bytes 0-7 of two vectors interleaved: [a0 b0 a1 b1 ... a7 b7]. */
const BYTES_LO = Array.from({ length: 16 }, (_, i) => (i & 1 ? 16 : 0) + (i >> 1));

function emit(fn: FunctionBuilder, s: Qs8ConvSpec, v: Qs8DwconvRdotVariant, a: Qs8ConvAddresses): void {
  check(s, v);
  const { px, stream, rows: R } = v;
  const unsigned = v.isa === 'wasmusdot';
  const { kernelW: kw, strideW: sW, dilationW: dW, inW, outW } = s;
  const G = groupsOf(s, R);
  const nSlots = slotsOf(s, R);
  const rb = rowBytes(s, R);
  const inStride = a.input.pixelStride;
  const outStride = a.output.pixelStride;
  const floatBias = s.floatBias === true;
  const colValid = (ix: number): boolean => ix >= 0 && ix < inW;
  const walk = dwRowWalk(fn, s, a, {
    px,
    stream,
    rows: R,
    slotOffsets: slotOffsets(s, R),
    blockBytes: blockBytes(s, R),
    weightsAt: a.packedWeights + ZERO_LANES_BYTES,
    interior: (x) => Array.from({ length: kw }, (_, kx) => x * sW - s.padLeft + kx * dW).every(colValid),
  });
  const { rp, op, wp } = walk.locals;
  const [flip, res, ab, bv] = fn.locals('v128', 4) as [Local, Local, Local, Local];
  const q = fn.locals('v128', 2);
  const acc = Array.from({ length: px }, () => Array.from({ length: R }, () => fn.locals('v128', 2)));
  const wLocals = stream ? fn.locals('v128', weightVectors(s, 1)) : [];
  const pool: Local[] = [];
  const take = (): Local => pool.pop() ?? fn.local('v128');
  if (unsigned) fn.v128ConstI32(0x80808080 | 0).localSet(flip);

  const weightOff = (r: number, g: number, kx: number, h: number): number =>
    r * rb + QS8_HEADER_BYTES + ((g * kw + kx) * 2 + h) * 16;
  const pushWeight = (r: number, g: number, kx: number, h: number): void => {
    if (stream) fn.localGet(wLocals[(g * kw + kx) * 2 + h]!);
    else fn.localGet(wp).v128Load(weightOff(r, g, kx, h));
  };
  const loadBlockWeights = (): void => {
    for (let g = 0; g < G; g++)
      for (let kx = 0; kx < kw; kx++)
        for (let h = 0; h < 2; h++)
          fn.localGet(wp)
            .v128Load(weightOff(0, g, kx, h))
            .localSet(wLocals[(g * kw + kx) * 2 + h]!);
  };

  /**
   * One block of `lanes` channels for `n` pixels: ip/op/wp set. `constX`: the output column of a compile-time
   * pixel (columns outside the image read zero-point lanes); undefined for a tile whose columns are all inside.
   */
  const blockBody = (n: number, lanes: number, constX?: number): void => {
    const started = acc.map((pa) => pa.map(() => [false, false]));
    // The group's [channels 0-3, 4-7] interleaves at input column j (relative to the first pixel's window).
    const interleave = (j: number, g: number): [Local, Local] => {
      const ix = constX === undefined ? j : constX * sW - s.padLeft + j;
      const inside = constX === undefined || colValid(ix);
      // Slots past the item's last reuse its vector (their weights are zero).
      const vecs: Local[] = [];
      for (let u = 0; u < 4; u++) {
        const slot = 4 * g + u;
        if (slot >= nSlots) {
          vecs.push(vecs[u - 1]!);
          continue;
        }
        const l = take();
        if (inside)
          fn.localGet(rp[slot]!)
            .v128Load64Zero(ix * inStride)
            .localSet(l);
        else fn.i32Const(a.packedWeights).v128Load64Zero().localSet(l);
        vecs.push(l);
      }
      fn.localGet(vecs[0]!).localGet(vecs[1]!).i8x16Shuffle(BYTES_LO).localSet(ab);
      fn.localGet(vecs[2]!).localGet(vecs[3]!).i8x16Shuffle(BYTES_LO).localSet(bv);
      for (const l of new Set(vecs)) pool.push(l);
      const out = [take(), take()] as [Local, Local];
      for (let h = 0; h < 2; h++) {
        fn.localGet(ab)
          .localGet(bv)
          .i8x16Shuffle(INTERLEAVE[h as 0 | 1]);
        if (unsigned) fn.localGet(flip).v128Xor();
        fn.localSet(out[h]!);
      }
      return out;
    };
    const dots = (p: number, g: number, kx: number, qv: [Local, Local]): void => {
      for (let r = 0; r < R; r++)
        for (let h = 0; h < 2; h++) {
          pushWeight(r, g, kx, h);
          fn.localGet(qv[h]!);
          if (started[p]![r]![h]) fn.localGet(acc[p]![r]![h]!);
          else fn.localGet(wp).v128Load(r * rb + 16 * h);
          fn.i32x4RelaxedDotI8x16I7x16AddS().localSet(acc[p]![r]![h]!);
          started[p]![r]![h] = true;
        }
    };
    const finish = (p: number): void => {
      for (let r = 0; r < R; r++) {
        emitRequantize(fn, acc[p]![r]![0]!, acc[p]![r]![1]!, wp, r * rb, s.outMin, s.outMax, res, true, floatBias);
        emitStoreBytes(fn, op, (r * outW + p) * outStride, res, lanes);
      }
    };
    const colOf = (p: number, kx: number): number => p * sW + kx * dW;
    if (R > 1) {
      // Pixel by pixel: a column's interleaves stay live from their first pixel to their last.
      const live = new Map<string, [Local, Local]>();
      const lastUser = new Map<string, number>();
      for (let p = 0; p < n; p++)
        for (let kx = 0; kx < kw; kx++) for (let g = 0; g < G; g++) lastUser.set(`${colOf(p, kx)}:${g}`, p);
      for (let p = 0; p < n; p++) {
        for (let kx = 0; kx < kw; kx++)
          for (let g = 0; g < G; g++) {
            const key = `${colOf(p, kx)}:${g}`;
            const qv = live.get(key) ?? live.set(key, interleave(colOf(p, kx), g)).get(key)!;
            dots(p, g, kx, qv);
          }
        for (const [key, qv] of [...live]) {
          if (lastUser.get(key) !== p) continue;
          pool.push(...qv);
          live.delete(key);
        }
        finish(p);
      }
      return;
    }
    // Column by column: a column's interleaves feed every pixel covering it; a pixel is finished at its last.
    const cols = new Map<number, { p: number; kx: number }[]>();
    for (let p = 0; p < n; p++)
      for (let kx = 0; kx < kw; kx++) {
        const j = colOf(p, kx);
        (cols.get(j) ?? cols.set(j, []).get(j)!).push({ p, kx });
      }
    for (const j of [...cols.keys()].sort((x, y) => x - y)) {
      for (let g = 0; g < G; g++) {
        const qv = interleave(j, g);
        for (const { p, kx } of cols.get(j)!) dots(p, g, kx, qv);
        pool.push(...qv);
      }
      for (let p = 0; p < n; p++) if (colOf(p, kw - 1) === j) finish(p);
    }
  };

  walk.emit({ block: blockBody, loadBlockConstants: loadBlockWeights });
}

/** The relaxed-dot qs8 depthwise family; ids `qs8-dwconv[-minmax]-3x3s1-4x8c4r-wasmusdot`. */
export const qs8DwconvRdot = {
  family: 'qs8-dwconv',
  variants: QS8_DWCONV_RDOT_VARIANTS,
  supports: usable,
  id: (s: Qs8ConvSpec, v: Qs8DwconvRdotVariant): string =>
    `qs8-dwconv${s.outMin > -128 || s.outMax < 127 ? '-minmax' : ''}-${s.kernelH}x${s.kernelW}s${s.strideH}-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8ConvSpec, v: Qs8DwconvRdotVariant): number =>
    s.batch * dwItemsPerImage(s, v.rows) * dwChannelGroups(s, v.rows).groups,
  pack,
  emit,
  macs: (s: Qs8ConvSpec): number => s.batch * s.outH * s.outW * s.outC * s.kernelH * s.kernelW,
} as const;
