/**
 * qs8 Winograd F(2x2, 3x3) convolution (3x3, stride 1, undilated, one group) over NHWC int8, in exact integer
 * arithmetic: V = B^T (d - zIn) B (coefficients 0/±1, |V| <= 4 * 255, i16), U' = (2G) g (2G)^T = 4 G g G^T
 * (|U'| <= 9 * 127, i16, packed at compile time), M_e = V_e U'_e with i32x4.dot_i16x8_s, Y' = A^T M A = 4 x the
 * direct accumulator. Integer add/sub/mul are exact modulo 2^32, so Y' is exact whenever its true value fits an
 * i32 (`supports` bounds it for any int8 weights): Y' >> 2 + biasInt is the direct conv's accumulator and the
 * outputs equal qs8-conv's bit for bit. Per parallel item (a group of output tile rows, times an output-channel
 * chunk when there are too few groups for threads; a range transforms each group's input once): (1) input transform to
 * 16 i16 matrices V_e[tile][Cp] in scratch, (2) 16 GEMMs into i32 M_e[tile][Np] (e.g. tile `4x8c2`: 4 tiles x 8
 * channels, weights in qs8-gemm's pair layout; the c8 and `w` tiles pad the rows to a multiple of theirs), (3) output transform, requantize, store. Packed: the input-zero
 * pad row, the requantize headers (per 8 channels), then U'_e per e in 8-channel blocks.
 */
import { EdgecnnError } from '../../ir/errors.js';
import { inputTransform, itemSlots, tileWalk } from './winograd-tiles.js';
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
import { checkConvSpec } from './types.js';

/** A qs8 Winograd variant: the transform-domain GEMM tile (tiles per step x 8 channels, pair layout). */
export interface Qs8WinogradVariant extends KernelVariant {
  /** Tiles per GEMM step. */
  readonly mr: number;
  /**
   * `c2`: 8 output channels per block, input channel pairs broadcast by shuffles (qs8-gemm's pair layout).
   * `c8`: 4 output channels per block, 8 input channels of a tile against 8 weights of one output per dot, no
   * shuffles in the reduction (the shuffle port is free for the adds), partial sums reduced once per row.
   */
  readonly layout: 'c2' | 'c8';
  /**
   * c2 only, tile suffix `w`: 16 output channels (two blocks) per tile and each channel pair of a V row broadcast
   * straight from scratch by v128.load32_splat (V is already i16): no shuffles and no partial-sum reduction.
   */
  readonly splat?: boolean;
  /** `w` only: 8-channel blocks per step (default 2). */
  readonly nb?: number;
}

/**
 * The variants (the only hand-edited list), fastest first. Measured on ResNet-18's layers
 * (`node dist/bench/qs8-kernels.js r18`): 2x4c8 is 1.1-1.3x faster than 4x8c2; 3x4c8 (12 accumulators + 3 rows
 * spill) was slower than 2x4c8 everywhere and was dropped. 3x16c2w (no shuffles, no reduction) is within +-5% of
 * 2x4c8 at 56x56x64 and 14x14x256 but 1.2x slower at 28x28x128 and 7x7x512 (the GEMM phase is ~85% of the
 * layer's time, bound by V/M traffic more than by ALU ops); 2x16c2w was slower still and was dropped. The tuner
 * measures all of them (lower-int8 offers every variant). With padded rows and one V pointer (emitC8Gemm),
 * 2x4c8 is 1.15-1.2x faster again at 56x56x64 and 14x14x256, and touching the next weight block ahead 1.15x at
 * 7x7x512 (1.05x at 14x14x256), and setting the accumulators by the first k step instead of zeroing them 1.04-1.09x;
 * unrolling the k loop fully (cp <= 128) made it 1.7-2x slower; 1x4c8 and 3x4c8 on that loop were no better, 4x8c2w /
 * 5x8c2w / 6x8c2w / 2x16c2w (splats, 8 or 16 channels) 1.1-1.6x slower, unrolling the k loop by 2 slower in all.
 */
export const QS8_WINOGRAD_VARIANTS: readonly Qs8WinogradVariant[] = [
  { tile: 'f2x2-2x4c8', isa: 'wasmsimd', mr: 2, layout: 'c8' },
  { tile: 'f2x2-4x8c2', isa: 'wasmsimd', mr: 4, layout: 'c2' },
  { tile: 'f2x2-3x16c2w', isa: 'wasmsimd', mr: 3, layout: 'c2', splat: true },
];

/**
 * Output tiles below which direct convolution is assumed to win. Unlike f32 Winograd (36), ResNet-18's 7x7x512
 * layer (16 tiles) is 1.7x faster than qs8-conv here: one item holds all 16 tiles, so each weight block is read
 * once per layer (the direct conv re-reads its i16 weights per 4-pixel tile).
 */
const MIN_TILES = 16;
/** GEMM rows per item below which re-reading the 16 U' matrices per item dominates. */
const MIN_GEMM_ROWS = 48;
/** Items wanted for thread splitting; fewer groups are split by output channels. */
const MIN_ITEMS = 4;
/** Fewest output channels per chunk. */
const MIN_CHUNK_C = 32;
/** Largest scratch a step may ask for. */
const MAX_SCRATCH_BYTES = 32 * 1024 * 1024;
/** 2^31 - 1: |Y'| must stay below it. */
const I32_MAX = 2147483647;

interface Geometry {
  tilesH: number;
  tilesW: number;
  /** Tile rows per item (a divisor of tilesH). */
  rows: number;
  /** Groups of `rows` tile rows (over all images). */
  groups: number;
  /** Output-channel chunks per group (1, or a power of two dividing outC / 8): items = groups * splits. */
  splits: number;
  /** Output channels per chunk (np when splits is 1). */
  chunkC: number;
  items: number;
  /** Input channels rounded up to 8 (one i16x8 per step), output channels rounded up to 8 (one block). */
  cp: number;
  np: number;
  blocks: number;
  /** Tiles per item. */
  nTiles: number;
  /** GEMM rows per item: nTiles rounded up to the tile's `mr` (V and M rows past nTiles are scratch only). */
  nRows: number;
  vMatBytes: number;
  mMatBytes: number;
  itemScratchBytes: number;
  padBytes: number;
  /** Bytes of one U'_e (all blocks). */
  uMatBytes: number;
}

function geometry(s: Qs8ConvSpec, mr = 1): Geometry {
  const tilesH = Math.ceil(s.outH / 2);
  const tilesW = Math.ceil(s.outW / 2);
  let rows = 1;
  while (rows < tilesH && (tilesH % rows !== 0 || rows * tilesW < MIN_GEMM_ROWS)) rows++;
  const cp = Math.ceil(s.inC / 8) * 8;
  const np = Math.ceil(s.outC / 8) * 8;
  const nTiles = rows * tilesW;
  const groups = s.batch * (tilesH / rows);
  // Late layers have one or two groups: split their output channels so threads can share them.
  let splits = 1;
  while (groups * splits < MIN_ITEMS && s.outC % (16 * splits) === 0 && s.outC / (2 * splits) >= MIN_CHUNK_C) {
    splits *= 2;
  }
  const chunkC = splits === 1 ? np : s.outC / splits;
  const nRows = Math.ceil(nTiles / mr) * mr;
  const vMatBytes = nRows * cp * 2;
  const mMatBytes = nRows * chunkC * 4;
  return {
    tilesH,
    tilesW,
    rows,
    groups,
    splits,
    chunkC,
    items: groups * splits,
    cp,
    np,
    blocks: np / QS8_BLOCK,
    nTiles,
    nRows,
    vMatBytes,
    mMatBytes,
    itemScratchBytes: Math.ceil((16 * (vMatBytes + mMatBytes)) / 16) * 16,
    padBytes: padRowBytes(s.inC),
    uMatBytes: (np / QS8_BLOCK) * cp * 16,
  };
}

/** Rows per GEMM step the item's V and M rows are padded to: the c8 and `w` tiles address mr rows from one pointer. */
function paddedMr(v: Qs8WinogradVariant): number {
  return v.layout === 'c8' || v.splat === true ? v.mr : 1;
}

function applicable(s: Qs8ConvSpec): boolean {
  return (
    s.kernelH === 3 &&
    s.kernelW === 3 &&
    s.strideH === 1 &&
    s.strideW === 1 &&
    s.dilationH === 1 &&
    s.dilationW === 1 &&
    s.group === 1
  );
}

/**
 * True when Y' = 4 * sum((d - zIn) * w) fits an i32 for every int8 input, zero point and weight:
 * 4 * 255 * 127 * 9 * inC <= 2^31 - 1, i.e. inC <= 1841. (V and U' fit i16 for any shape.)
 */
export function qs8WinogradExact(s: Qs8ConvSpec): boolean {
  return 4 * 255 * 127 * 9 * s.inC <= I32_MAX;
}

function check(s: Qs8ConvSpec, what: string, mr = 1): Geometry {
  checkConvSpec({ ...s, epilogue: { activation: { kind: 'none' }, residual: false } }, what);
  if (!applicable(s)) throw new EdgecnnError(`${what}: needs a 3x3 stride-1 undilated ungrouped conv`, 'internal');
  if (!qs8WinogradExact(s)) {
    throw new EdgecnnError(`${what}: ${s.inC} input channels could overflow the i32 accumulator`, 'internal');
  }
  if (!(s.outMin >= -128 && s.outMax <= 127 && s.outMin <= s.outMax)) {
    throw new EdgecnnError(`${what}: clamp [${s.outMin}, ${s.outMax}] is not an int8 range`, 'internal');
  }
  return geometry(s, mr);
}

/** 2G for F(2x2, 3x3): integer, so U' = (2G) g (2G)^T is exact. */
const G2 = [
  [2, 0, 0],
  [1, 1, 1],
  [1, -1, 1],
  [0, 0, 2],
] as const;

/** Pack: pad row of input-zero bytes, headers (bias only: the input zero point is subtracted in V), U'_e. */
export function packQs8Winograd(s: Qs8ConvSpec, w: Qs8ConvWeights, layout: 'c2' | 'c8' = 'c2'): Uint8Array {
  const what = 'qs8-winograd';
  const g = check(s, what);
  checkQuant(w.quant, what);
  checkFloatBias(s, w, what);
  const { inC, outC } = s;
  if (w.weights.length !== outC * inC * 9) {
    throw new EdgecnnError(`${what}: ${w.weights.length} weights, expected ${outC * inC * 9}`, 'bad-model');
  }
  const hdrBase = g.padBytes;
  const uBase = hdrBase + g.blocks * QS8_HEADER_BYTES;
  const out = new Uint8Array(uBase + 16 * g.uMatBytes);
  out.fill(w.quant.inZero & 0xff, 0, g.padBytes);
  const view = new DataView(out.buffer);
  for (let b = 0; b < g.blocks; b++) {
    packHeader(view, hdrBase + b * QS8_HEADER_BYTES, b * QS8_BLOCK, outC, w.quant, () => 0, biasOf(w), {
      lo: s.outMin,
      hi: s.outMax,
    });
  }
  const t = new Int32Array(12);
  for (let n = 0; n < outC; n++) {
    const b = n >> 3;
    const nn = n & 7;
    for (let c = 0; c < inC; c++) {
      const k = (n * inC + c) * 9;
      // t = (2G) g (4x3), then U' = t (2G)^T (4x4).
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 3; j++) {
          let acc = 0;
          for (let a = 0; a < 3; a++) acc += G2[i]![a]! * w.weights[k + a * 3 + j]!;
          t[i * 3 + j] = acc;
        }
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++) {
          let u = 0;
          for (let a = 0; a < 3; a++) u += t[i * 3 + a]! * G2[j]![a]!;
          // c2: qs8-gemm's pair layout, per 8-channel step kc vector (j2 * 2 + half) holds [w(k, n), w(k + 1, n)]
          // for the block's 4 channels of that half. c8: per step, 4 vectors of 8 channels, one per output.
          const at =
            uBase +
            (i * 4 + j) * g.uMatBytes +
            (layout === 'c2'
              ? b * g.cp * 16 + (((c >> 3) * 8 + ((c & 7) >> 1) * 2 + (nn >> 2)) * 16 + (nn & 3) * 4 + (c & 1) * 2)
              : (n >> 2) * g.cp * 8 + ((c >> 3) * 4 + (n & 3)) * 16 + (c & 7) * 2);
          view.setInt16(at, u, true);
        }
    }
  }
  return out;
}

/** Emit the step `(start, end)` over items (groups of `rows` output tile rows). */
export function emitQs8Winograd(
  fn: FunctionBuilder,
  s: Qs8ConvSpec,
  vr: Qs8WinogradVariant,
  a: Qs8ConvAddresses,
): void {
  const what = 'qs8-winograd';
  const g = check(s, what, paddedMr(vr));
  if (a.scratch === undefined) throw new EdgecnnError(`${what}: the scratch address is required`, 'internal');
  const { inH, inW, outH, outW } = s;
  const { tilesW, rows: R, cp, nTiles, vMatBytes, mMatBytes, splits, chunkC } = g;
  const mr = vr.mr;
  const itemsPerImage = g.tilesH / R;
  const psIn = a.input.pixelStride;
  const psOut = a.output.pixelStride;
  const pad = a.packedWeights;
  const hdrBase = a.packedWeights + g.padBytes;
  const uBase = hdrBase + g.blocks * QS8_HEADER_BYTES;

  const [start, end] = [fn.param(0), fn.param(1)];
  const [it, img, th0, th, inImg, vBase, mBase, rr, tw, cv, vt, tmp, e, gA, gW, gC, ob, rt, ko, wk, hdr, o0] =
    fn.locals('i32', 22);
  const [grp, ck] = fn.locals('i32', 2);
  const d = fn.locals('v128', 16);

  const { forTiles, tileIndexBytes, tapPointers, ptr } = tileWalk(
    fn,
    { rows: R, tilesW, inH, inW, pixelStrideBytes: psIn, padTop: s.padTop, padLeft: s.padLeft },
    { rr, th, th0, tw, inImg },
  );

  // V5 = (B^T d B)[1][1] is the only entry a constant patch reaches (with 4x its value): subtracting 4 * zIn
  // there equals transforming d - zIn, one i16x8.sub instead of sixteen.
  const zeroFix = fn.local('v128');

  fn.forRange(
    it,
    (b) => b.localGet(start),
    (b) => b.localGet(end),
    1,
    () => {
      if (splits === 1) {
        fn.localGet(it).localSet(grp);
        fn.i32Const(0).localSet(ck);
      } else {
        fn.localGet(it).i32Const(splits).i32DivU().localSet(grp);
        fn.localGet(it).i32Const(splits).i32RemU().localSet(ck);
      }
      fn.localGet(grp).i32Const(itemsPerImage).i32DivU().localSet(img);
      fn.localGet(grp).i32Const(itemsPerImage).i32RemU().i32Const(R).i32Mul().localSet(th0);
      fn.localGet(img)
        .i32Const(inH * inW * psIn)
        .i32Mul()
        .i32Const(a.input.addrBytes)
        .i32Add()
        .localSet(inImg);
      itemSlots(fn, { it, grp, start, tmp, vBase, mBase }, splits, g.itemScratchBytes, a.scratch!, 16 * vMatBytes);
      // 4 * zIn as i16 lanes: the pad row's first byte is zIn (sign-extended by the load).
      fn.i32Const(pad).v128Load8x8S().localTee(zeroFix).localGet(zeroFix).i16x8Add().localTee(zeroFix);
      fn.localGet(zeroFix).i16x8Add().localSet(zeroFix);

      // (1) V_e[tile][c] = (B^T d B)[e], 8 channels per step; taps outside the image read the pad row.
      forTiles(() => {
        tapPointers(pad);
        tileIndexBytes(cp * 2);
        fn.localGet(vBase).i32Add().localSet(vt);
        fn.forRange(
          cv,
          (b) => b.i32Const(0),
          (b) => b.i32Const(cp),
          8,
          () => {
            inputTransform(fn, { d, ptr, cv, vt, tmp }, 'i16x8', vMatBytes, (e) => {
              if (e === 5) fn.localGet(zeroFix).i16x8Sub();
            });
          },
        );
      });

      if (splits > 1) fn.end();

      // (2) M_e = V_e U'_e: per channel block (its weights stay in L1), tiles in steps of mr.
      if (vr.layout === 'c8') {
        emitC8Gemm(fn, vr, g, uBase, { e, gA, gC, gW, ob, rt, ko, wk, tmp, ck, vBase, mBase });
      } else if (vr.splat) {
        emitSplatGemm(fn, vr, g, uBase, { e, gA, gC, gW, ob, rt, ko, wk, tmp, ck, vBase, mBase });
      } else {
        const nr = QS8_BLOCK;
        const rowPtr = fn.locals('i32', mr);
        const rowIdx = fn.locals('i32', mr);
        const acc = Array.from({ length: mr }, () => fn.locals('v128', 2));
        const av = fn.locals('v128', mr);
        const [w0, w1, bc] = fn.locals('v128', 3);
        const rowTiles = Math.ceil(nTiles / mr);
        const kStep = (): void => {
          for (let r = 0; r < mr; r++) fn.localGet(rowPtr[r]!).localGet(ko).i32Add().v128Load().localSet(av[r]!);
          for (let j = 0; j < 4; j++) {
            fn.localGet(wk)
              .v128Load(j * 32)
              .localSet(w0);
            fn.localGet(wk)
              .v128Load(j * 32 + 16)
              .localSet(w1);
            const lanesJ = Array.from({ length: 16 }, (_, i) => 4 * j + (i % 4));
            for (let r = 0; r < mr; r++) {
              fn.localGet(av[r]!).localGet(av[r]!).i8x16Shuffle(lanesJ).localSet(bc);
              const [a0, a1] = acc[r]! as [Local, Local];
              fn.localGet(a0).localGet(bc).localGet(w0).i32x4DotI16x8S().i32x4Add().localSet(a0);
              fn.localGet(a1).localGet(bc).localGet(w1).i32x4DotI16x8S().i32x4Add().localSet(a1);
            }
          }
        };
        fn.forRange(
          e,
          (b) => b.i32Const(0),
          (b) => b.i32Const(16),
          1,
          () => {
            fn.localGet(e).i32Const(vMatBytes).i32Mul().localGet(vBase).i32Add().localSet(gA);
            fn.localGet(e).i32Const(mMatBytes).i32Mul().localGet(mBase).i32Add().localSet(gC);
            fn.localGet(e).i32Const(g.uMatBytes).i32Mul().i32Const(uBase).i32Add().localSet(gW);
            if (splits > 1) {
              fn.localGet(ck)
                .i32Const(chunkC * cp * 2)
                .i32Mul()
                .localGet(gW)
                .i32Add()
                .localSet(gW);
            }
            fn.forRange(
              ob,
              (b) => b.i32Const(0),
              (b) => b.i32Const(chunkC / nr),
              1,
              () => {
                fn.forRange(
                  rt,
                  (b) => b.i32Const(0),
                  (b) => b.i32Const(rowTiles),
                  1,
                  () => {
                    // Rows past the item's tiles redo the last tile (same values stored twice).
                    for (let r = 0; r < mr; r++) {
                      emitTileRow(fn, r, mr, g, { rt, tmp, gA }, rowIdx[r]!, rowPtr[r]!);
                      for (const l of acc[r]!) fn.v128ConstI32(0).localSet(l);
                    }
                    fn.localGet(gW).localSet(wk);
                    // Not unrolled: unrolling by 2 or 4 measured slower (56x56x64: 2.30 -> 2.68 / 2.92 ms).
                    fn.forRange(
                      ko,
                      (b) => b.i32Const(0),
                      (b) => b.i32Const(cp * 2),
                      16,
                      () => {
                        kStep();
                        fn.localGet(wk)
                          .i32Const(nr * 16)
                          .i32Add()
                          .localSet(wk);
                      },
                    );
                    for (let r = 0; r < mr; r++) {
                      // M row = the tile's row of V (same index), at this block's columns.
                      fn.localGet(rowIdx[r]!)
                        .i32Const(chunkC * 4)
                        .i32Mul()
                        .localGet(gC)
                        .i32Add()
                        .localSet(tmp);
                      fn.localGet(tmp).localGet(acc[r]![0]!).v128Store(0);
                      fn.localGet(tmp).localGet(acc[r]![1]!).v128Store(16);
                    }
                  },
                );
                fn.localGet(gW)
                  .i32Const(cp * 2 * nr)
                  .i32Add()
                  .localSet(gW);
                fn.localGet(gC)
                  .i32Const(nr * 4)
                  .i32Add()
                  .localSet(gC);
              },
            );
          },
        );
      }

      // (3) Y' = A^T M A per 4 channels (rows of M folded as they load), Y' >> 2 + biasInt, requantize, store.
      const y = [fn.locals('v128', 4), fn.locals('v128', 4)]; // [half][pixel (dy * 2 + dx)]
      const m = fn.locals('v128', 4);
      const [s0, s1, res] = fn.locals('v128', 3);
      const [row1, right] = fn.locals('i32', 2);
      forTiles(() => {
        // o0 = output pixel (img, 2 th, 2 tw)
        fn.localGet(img).i32Const(outH).i32Mul().localGet(th).i32Const(2).i32Mul().i32Add();
        fn.i32Const(outW).i32Mul().localGet(tw).i32Const(2).i32Mul().i32Add();
        fn.i32Const(psOut).i32Mul().i32Const(a.output.addrBytes).i32Add().localSet(o0);
        fn.localGet(th).i32Const(2).i32Mul().i32Const(1).i32Add().i32Const(outH).i32LtS().localSet(row1);
        fn.localGet(tw).i32Const(2).i32Mul().i32Const(1).i32Add().i32Const(outW).i32LtS().localSet(right);
        tileIndexBytes(chunkC * 4);
        fn.localGet(mBase).i32Add().localSet(vt);
        fn.i32Const(hdrBase).localSet(hdr);
        if (splits > 1) {
          fn.localGet(ck)
            .i32Const((chunkC / QS8_BLOCK) * QS8_HEADER_BYTES)
            .i32Mul()
            .localGet(hdr)
            .i32Add()
            .localSet(hdr);
          fn.localGet(ck).i32Const(chunkC).i32Mul().localGet(o0).i32Add().localSet(o0);
        }
        const outBlock = (lanes: number): void => {
          for (let h = 0; h < 2; h++) {
            const [y00, y01, y10, y11] = y[h]! as [Local, Local, Local, Local];
            for (let r = 0; r < 4; r++) {
              for (let c = 0; c < 4; c++)
                fn.localGet(vt)
                  .v128Load((r * 4 + c) * mMatBytes + 16 * h)
                  .localSet(m[c]!);
              // s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 (A^T along the row)
              fn.localGet(m[0]!).localGet(m[1]!).i32x4Add().localGet(m[2]!).i32x4Add().localSet(s0);
              fn.localGet(m[1]!).localGet(m[2]!).i32x4Sub().localGet(m[3]!).i32x4Sub().localSet(s1);
              // y0x = s0x + s1x + s2x, y1x = s1x - s2x - s3x (A^T down the column)
              if (r === 0) {
                fn.localGet(s0).localSet(y00);
                fn.localGet(s1).localSet(y01);
              } else if (r === 1) {
                fn.localGet(y00).localGet(s0).i32x4Add().localSet(y00);
                fn.localGet(y01).localGet(s1).i32x4Add().localSet(y01);
                fn.localGet(s0).localSet(y10);
                fn.localGet(s1).localSet(y11);
              } else if (r === 2) {
                fn.localGet(y00).localGet(s0).i32x4Add().localSet(y00);
                fn.localGet(y01).localGet(s1).i32x4Add().localSet(y01);
                fn.localGet(y10).localGet(s0).i32x4Sub().localSet(y10);
                fn.localGet(y11).localGet(s1).i32x4Sub().localSet(y11);
              } else {
                fn.localGet(y10).localGet(s0).i32x4Sub().localSet(y10);
                fn.localGet(y11).localGet(s1).i32x4Sub().localSet(y11);
              }
            }
            for (const l of y[h]!) {
              fn.localGet(l)
                .i32Const(2)
                .i32x4ShrS()
                .localGet(hdr)
                .v128Load(16 * h)
                .i32x4Add()
                .localSet(l);
            }
          }
          const store = (p: number): void => {
            emitRequantize(fn, y[0]![p]!, y[1]![p]!, hdr, 0, s.outMin, s.outMax, res, true, s.floatBias === true);
            const off = ((p >> 1) * outW + (p & 1)) * psOut;
            emitStoreBytes(fn, tmp, off, res, lanes);
          };
          fn.localGet(o0).localSet(tmp);
          const rowPair = (dy: number): void => {
            store(dy * 2);
            if (outW % 2 === 0) {
              store(dy * 2 + 1);
            } else {
              fn.localGet(right).if();
              store(dy * 2 + 1);
              fn.end();
            }
          };
          rowPair(0);
          if (outH % 2 === 0) {
            rowPair(1);
          } else {
            fn.localGet(row1).if();
            rowPair(1);
            fn.end();
          }
        };
        const full = Math.floor((splits === 1 ? s.outC : chunkC) / QS8_BLOCK);
        const rest = splits === 1 ? s.outC - full * QS8_BLOCK : 0;
        if (full > 0) {
          fn.forRange(
            ob,
            (b) => b.i32Const(0),
            (b) => b.i32Const(full),
            1,
            () => {
              outBlock(QS8_BLOCK);
              fn.localGet(vt).i32Const(32).i32Add().localSet(vt);
              fn.localGet(hdr).i32Const(QS8_HEADER_BYTES).i32Add().localSet(hdr);
              fn.localGet(o0).i32Const(QS8_BLOCK).i32Add().localSet(o0);
            },
          );
        }
        if (rest > 0) outBlock(rest);
      });
    },
  );
}

/**
 * Row r of a GEMM step over V_e: tile rt * mr + r, clamped to the item's last tile, into `rowIdx`, and that tile's
 * row of V (cp i16 from gA) into `rowPtr`.
 */
function emitTileRow(
  fn: FunctionBuilder,
  r: number,
  mr: number,
  g: Geometry,
  l: { rt: Local; tmp: Local; gA: Local },
  rowIdx: Local,
  rowPtr: Local,
): void {
  fn.localGet(l.rt).i32Const(mr).i32Mul().i32Const(r).i32Add().localTee(l.tmp);
  fn.i32Const(g.nTiles - 1)
    .localGet(l.tmp)
    .i32Const(g.nTiles - 1)
    .i32LtS()
    .select()
    .localTee(rowIdx);
  fn.i32Const(g.cp * 2)
    .i32Mul()
    .localGet(l.gA)
    .i32Add()
    .localSet(rowPtr);
}

type GemmLocals = Record<
  'e' | 'gA' | 'gC' | 'gW' | 'ob' | 'rt' | 'ko' | 'wk' | 'tmp' | 'ck' | 'vBase' | 'mBase',
  Local
>;

/**
 * The 16 transform elements e (l.e), each with gA = this item's V_e, gC = its M_e, gW = U'_e (this channel
 * chunk's part) set before `body` (that element's GEMM).
 */
function emitElementLoop(fn: FunctionBuilder, g: Geometry, uBase: number, l: GemmLocals, body: () => void): void {
  fn.forRange(
    l.e,
    (b) => b.i32Const(0),
    (b) => b.i32Const(16),
    1,
    () => {
      emitMatrixBases(fn, g, uBase, l);
      body();
    },
  );
}

function emitMatrixBases(fn: FunctionBuilder, g: Geometry, uBase: number, l: GemmLocals): void {
  fn.localGet(l.e).i32Const(g.vMatBytes).i32Mul().localGet(l.vBase).i32Add().localSet(l.gA);
  fn.localGet(l.e).i32Const(g.mMatBytes).i32Mul().localGet(l.mBase).i32Add().localSet(l.gC);
  fn.localGet(l.e).i32Const(g.uMatBytes).i32Mul().i32Const(uBase).i32Add().localSet(l.gW);
  if (g.splits > 1) {
    fn.localGet(l.ck)
      .i32Const(g.chunkC * g.cp * 2)
      .i32Mul()
      .localGet(l.gW)
      .i32Add()
      .localSet(l.gW);
  }
}

/**
 * A transform-domain GEMM's row loop (tested at the bottom): rowBase walks V_e's padded rows and mRow M_e's, mr
 * rows per step, until all nRows are done; `body` is one step.
 */
function emitRowLoop(
  fn: FunctionBuilder,
  g: Geometry,
  l: GemmLocals,
  r: { rowBase: Local; mRow: Local; rEnd: Local },
  mr: number,
  body: () => void,
): void {
  const rowBytes = g.cp * 2;
  const mRowBytes = g.chunkC * 4;
  fn.localGet(l.gA).localSet(r.rowBase);
  fn.localGet(l.gC).localSet(r.mRow);
  fn.localGet(l.gA)
    .i32Const(g.nRows * rowBytes)
    .i32Add()
    .localSet(r.rEnd);
  const rLoop = fn.loop();
  body();
  fn.localGet(r.mRow)
    .i32Const(mr * mRowBytes)
    .i32Add()
    .localSet(r.mRow);
  fn.localGet(r.rowBase)
    .i32Const(mr * rowBytes)
    .i32Add()
    .localTee(r.rowBase)
    .localGet(r.rEnd)
    .i32LtU()
    .brIf(rLoop);
  fn.end();
}

/**
 * Phase (2) with the `w` tile: M_e[row][chunk channels] = V_e U'_e, mr consecutive rows x 8 * nb channels per step
 * (the c2 pair layout; two blocks are cp * 16 bytes apart), pairs of V broadcast from memory. The item's rows are
 * padded to a multiple of mr, so one pointer addresses all mr rows by constant offsets (no clamps, one scalar add
 * per k step for V); padding rows compute garbage into M rows the output transform never reads.
 */
function emitSplatGemm(fn: FunctionBuilder, vr: Qs8WinogradVariant, g: Geometry, uBase: number, l: GemmLocals): void {
  const { cp, chunkC } = g;
  const mr = vr.mr;
  const nbMax = vr.nb ?? 2;
  const acc = Array.from({ length: mr }, () => fn.locals('v128', 2 * nbMax));
  const wv = fn.locals('v128', 2 * nbMax);
  const bc = fn.local('v128');
  const [rowBase, mRow, kEnd, rEnd] = fn.locals('i32', 4);
  const blockStride = cp * 16;
  const rowBytes = cp * 2;
  const mRowBytes = chunkC * 4;
  const tiles = (nb: number): void => {
    emitRowLoop(fn, g, l, { rowBase, mRow, rEnd }, mr, () => {
      for (let r = 0; r < mr; r++) for (let i = 0; i < 2 * nb; i++) fn.v128ConstI32(0).localSet(acc[r]![i]!);
      fn.localGet(rowBase).localTee(l.ko).i32Const(rowBytes).i32Add().localSet(kEnd);
      fn.localGet(l.gW).localSet(l.wk);
      const kLoop = fn.loop();
      {
        for (let j = 0; j < 4; j++) {
          for (let i = 0; i < 2 * nb; i++)
            fn.localGet(l.wk)
              .v128Load((i >> 1) * blockStride + j * 32 + 16 * (i & 1))
              .localSet(wv[i]!);
          for (let r = 0; r < mr; r++) {
            fn.localGet(l.ko)
              .v128Load32Splat(r * rowBytes + j * 4, 0)
              .localSet(bc);
            for (let i = 0; i < 2 * nb; i++) {
              const a0 = acc[r]![i]!;
              fn.localGet(a0).localGet(bc).localGet(wv[i]!).i32x4DotI16x8S().i32x4Add().localSet(a0);
            }
          }
        }
      }
      fn.localGet(l.wk).i32Const(128).i32Add().localSet(l.wk);
      fn.localGet(l.ko).i32Const(16).i32Add().localTee(l.ko).localGet(kEnd).i32LtU().brIf(kLoop);
      fn.end();
      for (let r = 0; r < mr; r++)
        for (let i = 0; i < 2 * nb; i++)
          fn.localGet(mRow)
            .localGet(acc[r]![i]!)
            .v128Store(r * mRowBytes + 16 * i);
    });
  };
  const full = Math.floor(chunkC / (8 * nbMax));
  const rest = (chunkC - full * 8 * nbMax) / 8;
  emitElementLoop(fn, g, uBase, l, () => {
    if (full > 0) {
      fn.forRange(
        l.ob,
        (b) => b.i32Const(0),
        (b) => b.i32Const(full),
        1,
        () => {
          tiles(nbMax);
          fn.localGet(l.gW)
            .i32Const(nbMax * blockStride)
            .i32Add()
            .localSet(l.gW);
          fn.localGet(l.gC)
            .i32Const(nbMax * 32)
            .i32Add()
            .localSet(l.gC);
        },
      );
    }
    if (rest > 0) tiles(rest);
  });
}

/**
 * Phase (2) with a c8 tile: mr consecutive (padded) rows x 4 outputs per step from one V pointer, k loop and row
 * loop tested at the bottom, the first k step peeled (it sets the accumulators). Each row step also touches a share of the next weight block's cache lines (one i32
 * load per line, result unused): in the late layers U' (16/9 x 2 bytes per weight: 8 MiB at 7x7x512) streams from
 * L3 and without this the first row step of every block waits on it.
 */
function emitC8Gemm(fn: FunctionBuilder, vr: Qs8WinogradVariant, g: Geometry, uBase: number, l: GemmLocals): void {
  const { cp, nRows, chunkC } = g;
  const mr = vr.mr;
  const acc = Array.from({ length: mr }, () => fn.locals('v128', 4));
  const av = fn.locals('v128', mr);
  const w0 = fn.local('v128');
  const [rowBase, mRow, kEnd, rEnd, pf, pfEnd, sink] = fn.locals('i32', 7);
  const rowBytes = cp * 2;
  const mRowBytes = chunkC * 4;
  const blockBytes = cp * 8;
  const nOb = chunkC / 4;
  const rtCount = nRows / mr;
  const lines = blockBytes / 64;
  const pfLines = Math.max(1, Math.floor(lines / rtCount));
  // With more row steps than lines, pf stops at the block's last line.
  const pfClamp = rtCount * pfLines > lines;
  const tiles = (): void => {
    // pf = the next block's weights: this e's next block, the next e's first block, or (last) this block.
    fn.localGet(l.gW).i32Const(blockBytes).i32Add();
    fn.localGet(l.gW)
      .i32Const(g.uMatBytes - (nOb - 1) * blockBytes)
      .i32Add();
    fn.localGet(l.gW).localGet(l.e).i32Const(15).i32LtU().select();
    fn.localGet(l.ob)
      .i32Const(nOb - 1)
      .i32LtU()
      .select()
      .localTee(pf)
      .i32Const(blockBytes - 64)
      .i32Add()
      .localSet(pfEnd);
    emitRowLoop(fn, g, l, { rowBase, mRow, rEnd }, mr, () => {
      // Touch pfLines lines of the next block per row step: its weights arrive while this block computes.
      for (let i = 0; i < pfLines; i++)
        fn.localGet(pf)
          .i32Load(i * 64)
          .localGet(sink)
          .i32Or()
          .localSet(sink);
      fn.localGet(pf)
        .i32Const(pfLines * 64)
        .i32Add();
      if (pfClamp) fn.localTee(pf).localGet(pfEnd).localGet(pf).localGet(pfEnd).i32LtU().select();
      fn.localSet(pf);
      const kStep = (base: Local, vOff: number, wOff: number, first: boolean): void => {
        for (let r = 0; r < mr; r++)
          fn.localGet(base)
            .v128Load(r * rowBytes + vOff)
            .localSet(av[r]!);
        for (let n = 0; n < 4; n++) {
          fn.localGet(l.wk)
            .v128Load(wOff + n * 16)
            .localSet(w0);
          for (let r = 0; r < mr; r++) {
            const a0 = acc[r]![n]!;
            if (first) fn.localGet(av[r]!).localGet(w0).i32x4DotI16x8S().localSet(a0);
            else fn.localGet(a0).localGet(av[r]!).localGet(w0).i32x4DotI16x8S().i32x4Add().localSet(a0);
          }
        }
      };
      // The first k step sets the accumulators (no zeroing, no adds).
      fn.localGet(l.gW).localSet(l.wk);
      kStep(rowBase, 0, 0, true);
      if (cp > 8) {
        fn.localGet(l.wk).i32Const(64).i32Add().localSet(l.wk);
        fn.localGet(rowBase).i32Const(rowBytes).i32Add().localSet(kEnd);
        fn.localGet(rowBase).i32Const(16).i32Add().localSet(l.ko);
        const kLoop = fn.loop();
        kStep(l.ko, 0, 0, false);
        fn.localGet(l.wk).i32Const(64).i32Add().localSet(l.wk);
        fn.localGet(l.ko).i32Const(16).i32Add().localTee(l.ko).localGet(kEnd).i32LtU().brIf(kLoop);
        fn.end();
      }
      for (let r = 0; r < mr; r++) {
        const [x0, x1, x2, x3] = acc[r]! as [Local, Local, Local, Local];
        fn.localGet(x0).localGet(x1).i32x4Shuffle(0, 4, 1, 5).localGet(x0).localGet(x1);
        fn.i32x4Shuffle(2, 6, 3, 7).i32x4Add().localSet(x0);
        fn.localGet(x2).localGet(x3).i32x4Shuffle(0, 4, 1, 5).localGet(x2).localGet(x3);
        fn.i32x4Shuffle(2, 6, 3, 7).i32x4Add().localSet(x2);
        fn.localGet(mRow).localGet(x0).localGet(x2).i32x4Shuffle(0, 1, 4, 5).localGet(x0).localGet(x2);
        fn.i32x4Shuffle(2, 3, 6, 7)
          .i32x4Add()
          .v128Store(r * mRowBytes);
      }
    });
  };
  emitElementLoop(fn, g, uBase, l, () => {
    fn.forRange(
      l.ob,
      (b) => b.i32Const(0),
      (b) => b.i32Const(chunkC / 4),
      1,
      () => {
        tiles();
        fn.localGet(l.gW)
          .i32Const(cp * 8)
          .i32Add()
          .localSet(l.gW);
        fn.localGet(l.gC).i32Const(16).i32Add().localSet(l.gC);
      },
    );
  });
}

/** The qs8 Winograd family; ids `qs8-winograd[-minmax]-f2x2-4x8c2-wasmsimd`. */
export const qs8Winograd = {
  family: 'qs8-winograd',
  variants: QS8_WINOGRAD_VARIANTS,
  supports(s: Qs8ConvSpec, v: Qs8WinogradVariant): boolean {
    // As f32 Winograd: tiny channel counts are all transform, few tiles all weight traffic.
    if (!applicable(s) || s.inC < 8 || s.outC < 8 || !qs8WinogradExact(s)) return false;
    const g = geometry(s, paddedMr(v));
    return g.tilesH * g.tilesW >= MIN_TILES && g.items * g.itemScratchBytes <= MAX_SCRATCH_BYTES;
  },
  id: (s: Qs8ConvSpec, v: Qs8WinogradVariant): string =>
    `qs8-winograd${s.outMin > -128 || s.outMax < 127 ? '-minmax' : ''}-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8ConvSpec, _v: Qs8WinogradVariant): number => geometry(s).items,
  scratchBytes: (s: Qs8ConvSpec, v: Qs8WinogradVariant): number => {
    const g = geometry(s, paddedMr(v));
    return g.items * g.itemScratchBytes;
  },
  pack: (s: Qs8ConvSpec, v: Qs8WinogradVariant, w: Qs8ConvWeights): Uint8Array => packQs8Winograd(s, w, v.layout),
  emit: emitQs8Winograd,
  /** Work actually done, as f32 Winograd counts it: 16 GEMMs of tiles x inC x outC. */
  macs: (s: Qs8ConvSpec): number => s.batch * Math.ceil(s.outH / 2) * Math.ceil(s.outW / 2) * 16 * s.inC * s.outC,
} as const;
