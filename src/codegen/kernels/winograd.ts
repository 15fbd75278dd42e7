/**
 * f32 Winograd F(2x2, 3x3) convolution (3x3, stride 1, no dilation, one group) over NHWC: 16 small GEMMs
 * replace 2.25x more multiply-adds of the direct method. Per output tile row (the parallel item):
 * (1) input transform V = B^T d B of every 4x4 input patch (padding read from the zero buffer), channels in
 * lanes, stored as 16 matrices V_e[tile][CinPad]; (2) M_e = V_e * U_e with U = G g G^T packed at compile time
 * as GEMM panels; (3) output transform Y = A^T m A, + bias, residual, activation, stored with edge checks.
 * A parallel item is a group of output tile rows large enough that each GEMM has >= ~48 rows (the 16 packed
 * B matrices are re-read per item, which dominates for 7x7x512 layers otherwise), times an output-channel
 * block when there are too few groups to share among threads (late layers): each item then transforms its
 * whole input patch but reads and computes only its block's B columns. Packed weights:
 * [bias x CoutPad | 16 packed GEMM B matrices]. Scratch: one V+M slice per item, so ranges stay independent.
 * parallelExtent = batch * tile-row groups * channel blocks (block index varies fastest).
 */
import { inputTransform, itemSlots, tileWalk } from './winograd-tiles.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { EdgecnnError } from '../../ir/errors.js';
import { EpilogueEmitter, emitTileEpilogue, kernelId } from './epilogue.js';
import { GEMM_VARIANTS, type GemmVariant, emitGemmBody, packGemmB } from './gemm.js';
import {
  type ConvAddresses,
  type ConvSpec,
  type ConvWeights,
  type GemmSpec,
  type KernelFamily,
  type KernelVariant,
  checkConvSpec,
} from './types.js';

/** A Winograd variant: the GEMM tile used for its 16 products. */
export interface WinogradVariant extends KernelVariant {
  readonly gemm: GemmVariant;
}

function v(tile: string, isa: 'wasmsimd' | 'wasmrelaxed'): WinogradVariant {
  const g = GEMM_VARIANTS.find((x) => x.tile === tile && x.isa === isa);
  if (!g) throw new EdgecnnError(`winograd: no gemm variant ${tile}-${isa}`, 'internal');
  return { tile: `f2x2-${tile}`, isa, gemm: g };
}

/** The Winograd variants (the only hand-edited list). */
export const WINOGRAD_VARIANTS: readonly WinogradVariant[] = [
  v('4x8', 'wasmrelaxed'),
  v('2x16', 'wasmrelaxed'),
  v('4x8', 'wasmsimd'),
  v('2x16', 'wasmsimd'),
];

interface Geometry {
  tilesH: number;
  tilesW: number;
  /** Tile rows per parallel item (a divisor of tilesH), so each GEMM has at least ~48 rows. */
  rowsPerItem: number;
  cinPad: number;
  coutPad: number;
  /** Output-channel blocks per group (1, or a power of two with outC a multiple of blocks * NR). */
  blocks: number;
  /** Output channels per block (outC when blocks is 1). */
  blockC: number;
  /** Floats per row of an item's M matrices. */
  mStride: number;
  /** GEMM for packing (all outC columns). */
  inner: GemmSpec;
  /** GEMM one item runs (its block's columns). */
  blockGemm: GemmSpec;
  packedBFloats: number;
  itemScratchBytes: number;
}

/** Output tiles below which direct convolution wins (see `supports`). */
const MIN_TILES = 36;

/** Largest scratch (V and M for every item) a Winograd step may ask for. */
const MAX_SCRATCH_BYTES = 32 * 1024 * 1024;

/** Items per layer wanted for thread splitting; fewer tile-row groups are split by output channels. */
const MIN_ITEMS = 8;

/** Fewest output channels in a block (narrower blocks redo too much input transform per GEMM work). */
const MIN_BLOCK_C = 32;

/** GEMM rows per item below which weight traffic (16 B matrices re-read per item) dominates. */
const MIN_GEMM_ROWS = 48;

function geometry(spec: ConvSpec, vr: WinogradVariant): Geometry {
  const tilesH = Math.ceil(spec.outH / 2);
  const tilesW = Math.ceil(spec.outW / 2);
  let rowsPerItem = 1;
  while (rowsPerItem < tilesH && (tilesH % rowsPerItem !== 0 || rowsPerItem * tilesW < MIN_GEMM_ROWS)) rowsPerItem++;
  const cinPad = Math.ceil(spec.inC / 4) * 4;
  const coutPad = Math.ceil(spec.outC / 4) * 4;
  const groups = spec.batch * (tilesH / rowsPerItem);
  let blocks = 1;
  while (
    groups * blocks < MIN_ITEMS &&
    spec.outC % (2 * blocks * vr.gemm.nr) === 0 &&
    spec.outC / (2 * blocks) >= MIN_BLOCK_C
  )
    blocks *= 2;
  const blockC = spec.outC / blocks;
  const mStride = blocks === 1 ? coutPad : blockC;
  const inner: GemmSpec = {
    m: rowsPerItem * tilesW,
    n: spec.outC,
    k: spec.inC,
    epilogue: { activation: { kind: 'none' }, residual: false },
  };
  return {
    tilesH,
    tilesW,
    rowsPerItem,
    cinPad,
    coutPad,
    blocks,
    blockC,
    mStride,
    inner,
    blockGemm: { ...inner, n: blockC },
    packedBFloats: Math.ceil(spec.outC / vr.gemm.nr) * (spec.inC + 1) * vr.gemm.nr,
    itemScratchBytes: 16 * rowsPerItem * tilesW * (cinPad + mStride) * 4,
  };
}

function applicable(s: ConvSpec): boolean {
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

/** Pack ONNX weights [outC, inC, 3, 3] as bias + 16 GEMM B matrices U_e[inC][outC], U = G g G^T. */
export function packWinograd(spec: ConvSpec, vr: WinogradVariant, w: ConvWeights): Float32Array {
  checkConvSpec(spec, 'winograd');
  if (!applicable(spec)) throw new EdgecnnError('winograd: needs a 3x3 stride-1 undilated ungrouped conv', 'internal');
  const { inC, outC } = spec;
  if (w.weights.length !== outC * inC * 9) {
    throw new EdgecnnError(
      `winograd pack: weights have ${w.weights.length} values, expected ${outC}x${inC}x3x3`,
      'bad-model',
    );
  }
  if (w.bias && w.bias.length !== outC) {
    throw new EdgecnnError(`winograd pack: bias has ${w.bias.length} values, expected ${outC}`, 'bad-model');
  }
  const g = geometry(spec, vr);
  const u = Array.from({ length: 16 }, () => new Float32Array(inC * outC));
  const G = [
    [1, 0, 0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0, 0, 1],
  ];
  for (let oc = 0; oc < outC; oc++) {
    for (let ic = 0; ic < inC; ic++) {
      const k = (oc * inC + ic) * 9;
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 4; j++) {
          let s = 0;
          for (let a = 0; a < 3; a++)
            for (let b = 0; b < 3; b++) s += G[i]![a]! * w.weights[k + a * 3 + b]! * G[j]![b]!;
          u[i * 4 + j]![ic * outC + oc] = s;
        }
      }
    }
  }
  const out = new Float32Array(g.coutPad + 16 * g.packedBFloats);
  if (w.bias) out.set(w.bias, 0);
  for (let e = 0; e < 16; e++) {
    out.set(packGemmB(g.inner, vr.gemm, { b: u[e]!, layout: 'kn' }), g.coutPad + e * g.packedBFloats);
  }
  return out;
}

/** Emit the Winograd step `(start, end)` over groups of `rowsPerItem` output tile rows. */
export function emitWinograd(fn: FunctionBuilder, spec: ConvSpec, vr: WinogradVariant, addr: ConvAddresses): void {
  checkConvSpec(spec, 'winograd');
  if (!applicable(spec)) throw new EdgecnnError('winograd: needs a 3x3 stride-1 undilated ungrouped conv', 'internal');
  if (addr.zero === undefined || addr.scratch === undefined) {
    throw new EdgecnnError('winograd: zero and scratch addresses are required', 'internal');
  }
  if (spec.epilogue.residual && !addr.residual)
    throw new EdgecnnError('winograd: residual address missing', 'internal');
  const g = geometry(spec, vr);
  const { inH, inW, outH, outW } = spec;
  const { tilesH, tilesW, rowsPerItem: R, cinPad, coutPad, blocks, blockC, mStride } = g;
  const itemsPerImage = tilesH / R;
  // Bytes of one block's packed B panels (blockC is a multiple of NR when blocks > 1).
  const blockPanelBytes = (blockC / vr.gemm.nr) * (spec.inC + 1) * vr.gemm.nr * 4;
  const nTiles = R * tilesW; // GEMM rows
  const psIn = addr.input.pixelStride * 4;
  const psOut = addr.output.pixelStride * 4;
  const psRes = (addr.residual?.pixelStride ?? 0) * 4;
  const vMatBytes = nTiles * cinPad * 4; // one V_e
  const mMatBytes = nTiles * mStride * 4; // one M_e (this item's block)
  const zero = addr.zero;

  const start = fn.param(0);
  const end = fn.param(1);
  const ep = new EpilogueEmitter(fn, spec.epilogue.activation, vr.isa === 'wasmrelaxed');
  const it = fn.local('i32');
  const grp = fn.local('i32'); // tile-row group index (over all images)
  const cb0 = fn.local('i32'); // byte offset of the item's first output channel
  const bOff = fn.local('i32'); // byte offset of the item's first packed B panel within a B matrix
  const th0 = fn.local('i32'); // first tile row of the item
  const img = fn.local('i32'); // image index
  const rr = fn.local('i32');
  const th = fn.local('i32');
  const inImg = fn.local('i32');
  const vBase = fn.local('i32');
  const mBase = fn.local('i32');
  const outRow = fn.local('i32');
  const resRow = fn.local('i32');
  const tw = fn.local('i32');
  const cv = fn.local('i32');
  const vt = fn.local('i32');
  const d = fn.locals('v128', 16);
  const e = fn.local('i32');
  const gA = fn.local('i32');
  const gB = fn.local('i32');
  const gC = fn.local('i32');
  const row1 = fn.local('i32');
  const right = fn.local('i32');
  const o0 = fn.local('i32');
  const r0 = fn.local('i32');
  const tmp = fn.local('i32');
  const y = fn.locals('v128', 4);
  const bias = fn.local('v128');

  const { forTiles, tileIndexBytes, tapPointers, ptr } = tileWalk(
    fn,
    { rows: R, tilesW, inH, inW, pixelStrideBytes: psIn, padTop: spec.padTop, padLeft: spec.padLeft },
    { rr, th, th0, tw, inImg },
  );

  fn.forRange(
    it,
    (b) => b.localGet(start),
    (b) => b.localGet(end),
    1,
    () => {
      if (blocks === 1) {
        fn.localGet(it).localSet(grp);
        fn.i32Const(0).localSet(cb0);
        fn.i32Const(0).localSet(bOff);
      } else {
        fn.localGet(it).i32Const(blocks).i32DivU().localSet(grp);
        fn.localGet(it)
          .i32Const(blocks)
          .i32RemU()
          .localTee(tmp)
          .i32Const(blockC * 4)
          .i32Mul()
          .localSet(cb0);
        fn.localGet(tmp).i32Const(blockPanelBytes).i32Mul().localSet(bOff);
      }
      fn.localGet(grp).i32Const(itemsPerImage).i32DivU().localSet(img);
      fn.localGet(grp).i32Const(itemsPerImage).i32RemU().i32Const(R).i32Mul().localSet(th0);
      fn.localGet(img)
        .i32Const(inH * inW * psIn)
        .i32Mul()
        .i32Const(addr.input.addrBytes)
        .i32Add()
        .localSet(inImg);
      itemSlots(fn, { it, grp, start, tmp, vBase, mBase }, blocks, g.itemScratchBytes, addr.scratch!, 16 * vMatBytes);

      // (1) input transform V_e[tile][c] = (B^T d B)[e]
      forTiles(() => {
        tapPointers(zero);
        tileIndexBytes(cinPad * 4);
        fn.localGet(vBase).i32Add().localSet(vt);
        fn.forRange(
          cv,
          (b) => b.i32Const(0),
          (b) => b.i32Const(cinPad * 4),
          16,
          () => {
            inputTransform(fn, { d, ptr, cv, vt, tmp }, 'f32x4', vMatBytes);
          },
        );
      });
      if (blocks > 1) fn.end();

      // (2) M_e = V_e * U_e for the 16 e
      fn.forRange(
        e,
        (b) => b.i32Const(0),
        (b) => b.i32Const(16),
        1,
        () => {
          fn.localGet(e).i32Const(vMatBytes).i32Mul().localGet(vBase).i32Add().localSet(gA);
          fn.localGet(e)
            .i32Const(g.packedBFloats * 4)
            .i32Mul()
            .i32Const(addr.packedWeights + coutPad * 4)
            .i32Add()
            .localGet(bOff)
            .i32Add();
          fn.localSet(gB);
          fn.localGet(e).i32Const(mMatBytes).i32Mul().localGet(mBase).i32Add().localSet(gC);
          emitGemmBody(
            fn,
            g.blockGemm,
            vr.gemm,
            { a: { addrBytes: 0, pixelStride: cinPad }, packedB: 0, c: { addrBytes: 0, pixelStride: mStride } },
            {
              a: gA,
              b: gB,
              c: gC,
              tileStart: (b) => void b.i32Const(0),
              tileEnd: (b) => void b.i32Const(Math.ceil(nTiles / vr.gemm.mr)),
            },
          );
        },
      );

      // (3) output transform Y = A^T m A + bias, then residual/activation/store with edge checks
      forTiles(() => {
        // output row 2*th of image img
        fn.localGet(img).i32Const(outH).i32Mul().localGet(th).i32Const(2).i32Mul().i32Add().localTee(outRow);
        fn.i32Const(outW * psRes)
          .i32Mul()
          .i32Const(addr.residual?.addrBytes ?? 0)
          .i32Add()
          .localSet(resRow);
        fn.localGet(outRow)
          .i32Const(outW * psOut)
          .i32Mul()
          .i32Const(addr.output.addrBytes)
          .i32Add()
          .localSet(outRow);
        fn.localGet(th).i32Const(2).i32Mul().i32Const(1).i32Add().i32Const(outH).i32LtS().localSet(row1);
        fn.localGet(tw).i32Const(2).i32Mul().i32Const(1).i32Add().i32Const(outW).i32LtS().localSet(right);
        fn.localGet(tw)
          .i32Const(2 * psOut)
          .i32Mul()
          .localGet(outRow)
          .i32Add()
          .localGet(cb0)
          .i32Add()
          .localSet(o0);
        fn.localGet(tw)
          .i32Const(2 * psRes)
          .i32Mul()
          .localGet(resRow)
          .i32Add()
          .localGet(cb0)
          .i32Add()
          .localSet(r0);
        tileIndexBytes(mStride * 4);
        fn.localGet(mBase).i32Add().localSet(vt);
        const outVector = (cols: number): void => {
          // s[r][0] = m0 + m1 + m2, s[r][1] = m1 - m2 - m3 (kept in d[4r], d[4r+1])
          fn.localGet(vt).localGet(cv).i32Add().localSet(tmp);
          for (let r = 0; r < 4; r++) {
            for (let c = 0; c < 4; c++)
              fn.localGet(tmp)
                .v128Load((r * 4 + c) * mMatBytes)
                .localSet(d[r * 4 + c]!);
            const [m0, m1, m2, m3] = [0, 1, 2, 3].map((c) => d[r * 4 + c]!) as [Local, Local, Local, Local];
            fn.localGet(m0).localGet(m1).f32x4Add().localGet(m2).f32x4Add().localSet(m0);
            fn.localGet(m1).localGet(m2).f32x4Sub().localGet(m3).f32x4Sub().localSet(m1);
          }
          fn.i32Const(addr.packedWeights).localGet(cv).i32Add().localGet(cb0).i32Add().v128Load(0, 4).localSet(bias);
          for (let x = 0; x < 2; x++) {
            const sv = (r: number): Local => d[r * 4 + x]!;
            fn.localGet(sv(0)).localGet(sv(1)).f32x4Add().localGet(sv(2)).f32x4Add().localGet(bias).f32x4Add();
            fn.localSet(y[x]!);
            fn.localGet(sv(1)).localGet(sv(2)).f32x4Sub().localGet(sv(3)).f32x4Sub().localGet(bias).f32x4Add();
            fn.localSet(y[2 + x]!);
          }
          const store = (rowAcc: Local[], pixels: number, rowOff: number): void => {
            fn.localGet(o0)
              .localGet(cv)
              .i32Add()
              .i32Const(rowOff * outW * psOut)
              .i32Add()
              .localSet(gC);
            if (addr.residual) {
              fn.localGet(r0)
                .localGet(cv)
                .i32Add()
                .i32Const(rowOff * outW * psRes)
                .i32Add()
                .localSet(gB);
            }
            emitTileEpilogue(fn, ep, {
              acc: rowAcc.map((a) => [a]),
              rows: pixels,
              cols,
              cPtr: gC,
              cRowBytes: psOut,
              ...(addr.residual ? { rPtr: gB, rRowBytes: psRes } : {}),
            });
          };
          const both = (pixels: number): void => {
            store([y[0]!, y[1]!], pixels, 0);
            if (outH % 2 === 0) {
              store([y[2]!, y[3]!], pixels, 1);
            } else {
              fn.localGet(row1);
              fn.if();
              store([y[2]!, y[3]!], pixels, 1);
              fn.end();
            }
          };
          if (outW % 2 === 0) {
            both(2);
          } else {
            fn.localGet(right);
            fn.if();
            both(2);
            fn.else();
            both(1);
            fn.end();
          }
        };
        const nFullV = Math.floor(blockC / 4);
        if (nFullV > 0)
          fn.forRange(
            cv,
            (b) => b.i32Const(0),
            (b) => b.i32Const(nFullV * 16),
            16,
            () => outVector(4),
          );
        if (blockC % 4 !== 0) {
          fn.i32Const(nFullV * 16).localSet(cv);
          outVector(blockC % 4);
        }
      });
    },
  );
}

/** The f32 Winograd F(2x2, 3x3) convolution family. */
export const winograd: KernelFamily<ConvSpec, WinogradVariant, ConvAddresses, ConvWeights> = {
  family: 'winograd',
  variants: WINOGRAD_VARIANTS,
  supports(spec, vr) {
    // Measured on V8 x64 (ResNet-18 layers): 1.6x faster than direct conv at 56x56x64 .. 14x14x256, but 1.3x
    // slower at 7x7x512 (16 tiles: the 16 B matrices' traffic dominates); tiny channel counts are all transform.
    // The scratch is ~4x the layer's activations; large inputs (detectors at 640x640) stay on direct conv.
    if (!applicable(spec) || spec.inC < 8 || spec.outC < 8) return false;
    const g = geometry(spec, vr);
    const scratch = spec.batch * (g.tilesH / g.rowsPerItem) * g.blocks * g.itemScratchBytes;
    return g.tilesH * g.tilesW >= MIN_TILES && scratch <= MAX_SCRATCH_BYTES;
  },
  id(spec, vr) {
    return kernelId('f32', 'winograd', spec.epilogue, vr.tile, vr.isa);
  },
  parallelExtent(spec, vr) {
    const g = geometry(spec, vr);
    return spec.batch * (g.tilesH / g.rowsPerItem) * g.blocks;
  },
  pack: packWinograd,
  zeroBytes(spec) {
    return Math.ceil(spec.inC / 4) * 16 + 16;
  },
  scratchBytes(spec, vr) {
    const g = geometry(spec, vr);
    return spec.batch * (g.tilesH / g.rowsPerItem) * g.blocks * g.itemScratchBytes;
  },
  emit: emitWinograd,
  macs(spec) {
    // Work actually done: 16 GEMMs of ceil(outW/2) x inC x outC per tile row.
    return spec.batch * Math.ceil(spec.outH / 2) * 16 * Math.ceil(spec.outW / 2) * spec.inC * spec.outC;
  },
};
