/**
 * f32 general convolution over NHWC (any kernel, stride, dilation, padding, groups) without im2col.
 * Weights are packed per (group, NR-column panel): NR bias values, then for each tap (ky, kx) the group's
 * input channels x NR output channels (zero-padded past the group's outC). A register tile is MR consecutive
 * output pixels of one row x NR output channels. For each valid kernel row (range computed per output row)
 * and each kernel column, MR input-pixel pointers are chosen (the pixel, or a shared all-zero buffer when it
 * falls in the padding), then a GEMM micro-kernel runs over the group's input channels.
 * Loop nest: group > panel > output rows > pixel tiles, so one weight panel stays in cache while the rows
 * stream. A parallel item is one output row of one panel block; ungrouped layers with few rows (late layers)
 * are cut into several panel blocks so threads share them and each reads only its block's weights.
 * parallelExtent = blocks * batch * outH, item = block * (batch * outH) + row (rows vary fastest, so a range
 * runs block > panel > rows and keeps each panel in cache over its rows, as the single-block nest does).
 */
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { EdgecnnError } from '../../ir/errors.js';
import { EpilogueEmitter, emitTileEpilogue, kernelId } from './epilogue.js';
import {
  type ConvAddresses,
  type ConvSpec,
  type ConvWeights,
  type Isa,
  type KernelFamily,
  type KernelVariant,
  checkConvSpec,
} from './types.js';

/** A convolution register tile: MR output pixels x NR output channels. */
export interface ConvVariant extends KernelVariant {
  readonly mr: number;
  readonly nr: number;
}

function v(mr: number, nr: number, isa: Isa): ConvVariant {
  return { tile: `${mr}x${nr}`, mr, nr, isa };
}

/** The convolution variants (the only hand-edited list). */
export const CONV_VARIANTS: readonly ConvVariant[] = [
  v(4, 8, 'wasmsimd'),
  v(2, 16, 'wasmsimd'),
  v(3, 8, 'wasmsimd'),
  v(1, 8, 'wasmsimd'),
  v(4, 8, 'wasmrelaxed'),
  v(2, 16, 'wasmrelaxed'),
  v(3, 8, 'wasmrelaxed'),
  v(1, 8, 'wasmrelaxed'),
];

interface Geometry {
  icg: number;
  ocg: number;
  panelsPerGroup: number;
  fullPanels: number;
  colsLast: number;
  panelFloats: number;
  /** Panel blocks (1 unless ungrouped with few output rows). */
  blocks: number;
  /** Panels per block. */
  blockPanels: number;
}

/** Items per layer wanted for thread splitting; layers with fewer output rows are split by panel blocks. */
const MIN_ITEMS = 16;

function geometry(spec: ConvSpec, vr: ConvVariant): Geometry {
  if (spec.inC % spec.group !== 0 || spec.outC % spec.group !== 0) {
    throw new EdgecnnError(
      `conv: channels ${spec.inC}->${spec.outC} not divisible by group ${spec.group}`,
      'bad-model',
    );
  }
  const icg = spec.inC / spec.group;
  const ocg = spec.outC / spec.group;
  const panelsPerGroup = Math.ceil(ocg / vr.nr);
  const fullPanels = Math.floor(ocg / vr.nr);
  const rows = spec.batch * spec.outH;
  let blocks = 1;
  while (spec.group === 1 && rows * blocks < MIN_ITEMS && 2 * blocks <= panelsPerGroup) blocks *= 2;
  const blockPanels = Math.ceil(panelsPerGroup / blocks);
  blocks = Math.ceil(panelsPerGroup / blockPanels); // no empty block
  return {
    blocks,
    blockPanels,
    icg,
    ocg,
    panelsPerGroup,
    fullPanels,
    colsLast: ocg - fullPanels * vr.nr,
    panelFloats: vr.nr * (1 + spec.kernelH * spec.kernelW * icg),
  };
}

/** Pack ONNX weights [outC, inC/group, kH, kW] (+ bias) into per-(group, panel) blocks. */
export function packConv(spec: ConvSpec, vr: ConvVariant, w: ConvWeights): Float32Array {
  checkConvSpec(spec, 'conv');
  const g = geometry(spec, vr);
  const taps = spec.kernelH * spec.kernelW;
  if (w.weights.length !== spec.outC * g.icg * taps) {
    throw new EdgecnnError(
      `conv pack: weights have ${w.weights.length} values, expected ${spec.outC}x${g.icg}x${spec.kernelH}x${spec.kernelW}`,
      'bad-model',
    );
  }
  if (w.bias && w.bias.length !== spec.outC) {
    throw new EdgecnnError(`conv pack: bias has ${w.bias.length} values, expected ${spec.outC}`, 'bad-model');
  }
  const nr = vr.nr;
  const out = new Float32Array(spec.group * g.panelsPerGroup * g.panelFloats);
  for (let grp = 0; grp < spec.group; grp++) {
    for (let p = 0; p < g.panelsPerGroup; p++) {
      const base = (grp * g.panelsPerGroup + p) * g.panelFloats;
      for (let c = 0; c < nr; c++) {
        const oc = p * nr + c;
        if (oc >= g.ocg) break;
        const o = grp * g.ocg + oc;
        out[base + c] = w.bias ? w.bias[o]! : 0;
        for (let t = 0; t < taps; t++) {
          for (let ic = 0; ic < g.icg; ic++) {
            out[base + nr + (t * g.icg + ic) * nr + c] = w.weights[(o * g.icg + ic) * taps + t]!;
          }
        }
      }
    }
  }
  return out;
}

/** Emit the convolution step `(start, end)` over output rows. */
export function emitConv(fn: FunctionBuilder, spec: ConvSpec, vr: ConvVariant, addr: ConvAddresses): void {
  checkConvSpec(spec, 'conv');
  const g = geometry(spec, vr);
  if (spec.epilogue.residual && !addr.residual) throw new EdgecnnError('conv: residual address missing', 'internal');
  if (addr.zero === undefined) throw new EdgecnnError('conv: zero buffer address missing', 'internal');
  const { inW, outW, kernelW: kw, strideW: sW, dilationH: dH, dilationW: dW } = spec;
  const { mr, nr } = vr;
  const nvecFull = nr / 4;
  const psIn = addr.input.pixelStride * 4;
  const psOut = addr.output.pixelStride * 4;
  const psRes = (addr.residual?.pixelStride ?? 0) * 4;
  const relaxed = vr.isa === 'wasmrelaxed';
  const fullTiles = Math.floor(outW / mr);
  const pixLast = outW - fullTiles * mr;
  const tapBytes = g.icg * nr * 4;

  const start = fn.param(0);
  const end = fn.param(1);
  const ep = new EpilogueEmitter(fn, spec.epilogue.activation, vr.isa === 'wasmrelaxed');
  const acc = Array.from({ length: mr }, () => fn.locals('v128', nvecFull));
  const bVec = fn.locals('v128', nvecFull);
  const aSplat = fn.local('v128');
  const aPtr = fn.locals('i32', mr);
  const grp = fn.local('i32');
  const p = fn.local('i32');
  const panelW = fn.local('i32'); // packed panel start (bias)
  const chIn = fn.local('i32'); // byte offset of the group's first input channel
  const chOut = fn.local('i32'); // byte offset of the panel's first output channel
  const r = fn.local('i32');
  const rS = fn.local('i32'); // the range's rows within the current block
  const rE = fn.local('i32');
  const blk = fn.local('i32');
  const pLo = fn.local('i32'); // the block's full panels [pLo, pHi)
  const pHi = fn.local('i32');
  const oy = fn.local('i32');
  const iy0 = fn.local('i32');
  const kyS = fn.local('i32');
  const nky = fn.local('i32');
  const rowIn = fn.local('i32');
  const rowOut = fn.local('i32');
  const rowRes = fn.local('i32');
  const tile = fn.local('i32');
  const ox0 = fn.local('i32');
  const ky = fn.local('i32');
  const kx = fn.local('i32');
  const inRow = fn.local('i32'); // input row (b, iy) + group channel offset
  const wt = fn.local('i32'); // weights of the current tap
  const ix = fn.local('i32');
  const kEnd = fn.local('i32');
  const cPtr = fn.local('i32');
  const rPtr = fn.local('i32');

  // One tile of `rows` pixels (starting at ox0) x `cols` channels of the current panel.
  const emitTile = (rows: number, cols: number): void => {
    const nvec = Math.ceil(cols / 4);
    for (let j = 0; j < nvec; j++) {
      fn.localGet(panelW)
        .v128Load(j * 16, 4)
        .localTee(acc[0]![j]!);
      for (let i = 1; i < rows; i++) fn.localTee(acc[i]![j]!);
      fn.drop();
    }
    // ky over the valid kernel rows; inRow follows it
    fn.localGet(kyS).localSet(ky);
    fn.localGet(rowIn).localSet(inRow);
    const kyExit = fn.block();
    const kyTop = fn.loop();
    fn.localGet(ky).localGet(kyS).i32Sub().localGet(nky).i32GeS().brIf(kyExit);
    fn.localGet(ky)
      .i32Const(kw * tapBytes)
      .i32Mul()
      .localGet(panelW)
      .i32Add()
      .i32Const(nr * 4)
      .i32Add()
      .localSet(wt);
    fn.i32Const(0).localSet(kx);
    const kxTop = fn.loop();
    // pointers of the tile's pixels for this tap (zero buffer where the pixel is padding)
    for (let i = 0; i < rows; i++) {
      fn.localGet(ox0).i32Const(i).i32Add().i32Const(sW).i32Mul().i32Const(spec.padLeft).i32Sub();
      fn.localGet(kx).i32Const(dW).i32Mul().i32Add().localTee(ix);
      fn.i32Const(psIn).i32Mul().localGet(inRow).i32Add();
      fn.i32Const(addr.zero!);
      fn.localGet(ix).i32Const(inW).i32LtU().select().localSet(aPtr[i]!);
    }
    // k loop over the group's input channels
    fn.localGet(wt).i32Const(tapBytes).i32Add().localSet(kEnd);
    const kTop = fn.loop();
    for (let j = 0; j < nvec; j++)
      fn.localGet(wt)
        .v128Load(j * 16, 4)
        .localSet(bVec[j]!);
    for (let i = 0; i < rows; i++) {
      fn.localGet(aPtr[i]!).v128Load32Splat().localSet(aSplat);
      for (let j = 0; j < nvec; j++) {
        const a = acc[i]![j]!;
        if (relaxed) fn.localGet(aSplat).localGet(bVec[j]!).localGet(a).f32x4RelaxedMadd().localSet(a);
        else fn.localGet(a).localGet(aSplat).localGet(bVec[j]!).f32x4Mul().f32x4Add().localSet(a);
      }
    }
    for (let i = 0; i < rows; i++) fn.localGet(aPtr[i]!).i32Const(4).i32Add().localSet(aPtr[i]!);
    fn.localGet(wt)
      .i32Const(nr * 4)
      .i32Add()
      .localTee(wt)
      .localGet(kEnd)
      .i32Ne()
      .brIf(kTop);
    fn.end();
    fn.localGet(kx).i32Const(1).i32Add().localTee(kx).i32Const(kw).i32LtS().brIf(kxTop);
    fn.end();
    fn.localGet(ky).i32Const(1).i32Add().localSet(ky);
    fn.localGet(inRow)
      .i32Const(dH * inW * psIn)
      .i32Add()
      .localSet(inRow);
    fn.br(kyTop);
    fn.end().end();
    // epilogue
    fn.localGet(ox0).i32Const(psOut).i32Mul().localGet(rowOut).i32Add().localGet(chOut).i32Add().localSet(cPtr);
    if (addr.residual) {
      fn.localGet(ox0).i32Const(psRes).i32Mul().localGet(rowRes).i32Add().localGet(chOut).i32Add().localSet(rPtr);
    }
    emitTileEpilogue(fn, ep, {
      acc,
      rows,
      cols,
      cPtr,
      cRowBytes: psOut,
      ...(addr.residual ? { rPtr, rRowBytes: psRes } : {}),
    });
  };

  // All rows [start, end) for the current panel, `cols` output channels wide.
  const rowsOfPanel = (cols: number): void => {
    fn.forRange(
      r,
      (b) => b.localGet(rS),
      (b) => b.localGet(rE),
      1,
      () => {
        emitConvRowWindow(fn, spec, addr, { r, oy, iy0, kyS, nky, rowIn, rowOut, rowRes }, { clampNky: false, chIn });
        if (fullTiles > 0) {
          fn.forRange(
            tile,
            (b) => b.i32Const(0),
            (b) => b.i32Const(fullTiles),
            1,
            () => {
              fn.localGet(tile).i32Const(mr).i32Mul().localSet(ox0);
              emitTile(mr, cols);
            },
          );
        }
        if (pixLast > 0) {
          fn.i32Const(fullTiles * mr).localSet(ox0);
          emitTile(pixLast, cols);
        }
      },
    );
  };

  const nRows = spec.batch * spec.outH;
  const forBlocks = (body: () => void): void => {
    if (g.blocks === 1) {
      fn.localGet(start).localSet(rS);
      fn.localGet(end).localSet(rE);
      fn.i32Const(0).localSet(pLo);
      fn.i32Const(g.fullPanels).localSet(pHi);
      body();
      return;
    }
    fn.forRange(
      blk,
      (b) => b.localGet(start).i32Const(nRows).i32DivU(),
      (b) =>
        b
          .localGet(end)
          .i32Const(nRows - 1)
          .i32Add()
          .i32Const(nRows)
          .i32DivU(),
      1,
      () => {
        // rows max(start - blk * nRows, 0) .. min(end - blk * nRows, nRows)
        fn.localGet(start).localGet(blk).i32Const(nRows).i32Mul().i32Sub().localTee(rS);
        fn.i32Const(0).localGet(rS).i32Const(0).i32GtS().select().localSet(rS);
        fn.localGet(end).localGet(blk).i32Const(nRows).i32Mul().i32Sub().localTee(rE);
        fn.i32Const(nRows).localGet(rE).i32Const(nRows).i32LtS().select().localSet(rE);
        fn.localGet(blk).i32Const(g.blockPanels).i32Mul().localTee(pLo).i32Const(g.blockPanels).i32Add().localTee(pHi);
        fn.i32Const(g.fullPanels).localGet(pHi).i32Const(g.fullPanels).i32LtS().select().localSet(pHi);
        body();
      },
    );
  };

  forBlocks(() =>
    fn.forRange(
      grp,
      (b) => b.i32Const(0),
      (b) => b.i32Const(spec.group),
      1,
      () => {
        fn.localGet(grp)
          .i32Const(g.icg * 4)
          .i32Mul()
          .localSet(chIn);
        if (g.fullPanels > 0) {
          fn.forRange(
            p,
            (b) => b.localGet(pLo),
            (b) => b.localGet(pHi),
            1,
            () => {
              fn.localGet(grp)
                .i32Const(g.panelsPerGroup)
                .i32Mul()
                .localGet(p)
                .i32Add()
                .i32Const(g.panelFloats * 4)
                .i32Mul();
              fn.i32Const(addr.packedWeights).i32Add().localSet(panelW);
              fn.localGet(grp)
                .i32Const(g.ocg * 4)
                .i32Mul()
                .localGet(p)
                .i32Const(nr * 4)
                .i32Mul()
                .i32Add()
                .localSet(chOut);
              rowsOfPanel(nr);
            },
          );
        }
        if (g.colsLast > 0) {
          // the partial panel belongs to the last block
          if (g.blocks > 1)
            fn.localGet(blk)
              .i32Const(g.blocks - 1)
              .i32Eq()
              .if();
          fn.localGet(grp)
            .i32Const(g.panelsPerGroup)
            .i32Mul()
            .i32Const(g.fullPanels)
            .i32Add()
            .i32Const(g.panelFloats * 4)
            .i32Mul();
          fn.i32Const(addr.packedWeights).i32Add().localSet(panelW);
          fn.localGet(grp)
            .i32Const(g.ocg * 4)
            .i32Mul()
            .i32Const(g.fullPanels * nr * 4)
            .i32Add()
            .localSet(chOut);
          rowsOfPanel(g.colsLast);
          if (g.blocks > 1) fn.end();
        }
      },
    ),
  );
}

/** The i32 locals an output-row step derives from its row index `r` (see `emitConvRowWindow`). */
export interface ConvRowLocals {
  r: Local;
  oy: Local;
  iy0: Local;
  kyS: Local;
  nky: Local;
  rowIn: Local;
  rowOut: Local;
  rowRes: Local;
}

/**
 * Start of one output row (r = b * outH + oy) of a conv-like step: sets oy, iy0 = oy * strideH - padTop, the
 * first kernel row inside the input kyS = iy0 < 0 ? ceil(-iy0 / dH) : 0, the number of such rows
 * nky = min(kh, ceil((inH - iy0) / dH)) - kyS (floored at 0 when `clampNky`; a caller whose loop exits on
 * `ky - kyS >= nky` does not need it), and the byte addresses rowIn (input row iy0 + kyS * dH of image b, plus
 * `chIn` when given), rowOut and rowRes (output/residual row r). Shared by conv and dwconv so the two kernels
 * skip padded kernel rows the same way.
 */
export function emitConvRowWindow(
  fn: FunctionBuilder,
  spec: ConvSpec,
  addr: ConvAddresses,
  l: ConvRowLocals,
  opts: { clampNky: boolean; chIn?: Local },
): void {
  const { inH, inW, outH, outW, kernelH: kh, strideH: sH, dilationH: dH } = spec;
  const { r, oy, iy0, kyS, nky, rowIn, rowOut, rowRes } = l;
  const psIn = addr.input.pixelStride * 4;
  const psOut = addr.output.pixelStride * 4;
  const psRes = (addr.residual?.pixelStride ?? 0) * 4;
  fn.localGet(r).i32Const(outH).i32RemU().localSet(oy);
  fn.localGet(oy).i32Const(sH).i32Mul().i32Const(spec.padTop).i32Sub().localSet(iy0);
  fn.i32Const(0)
    .localGet(iy0)
    .i32Sub()
    .i32Const(dH - 1)
    .i32Add()
    .i32Const(dH)
    .i32DivS();
  fn.i32Const(0).localGet(iy0).i32Const(0).i32LtS().select().localSet(kyS);
  fn.i32Const(inH)
    .localGet(iy0)
    .i32Sub()
    .i32Const(dH - 1)
    .i32Add()
    .i32Const(dH)
    .i32DivS()
    .localSet(nky);
  fn.localGet(nky).i32Const(kh).localGet(nky).i32Const(kh).i32LtS().select().localGet(kyS).i32Sub().localSet(nky);
  if (opts.clampNky) {
    fn.localGet(nky).i32Const(0).localGet(nky).i32Const(0).i32GtS().select().localSet(nky);
  }
  // b * inH = (r - oy) / outH * inH
  fn.localGet(r).localGet(oy).i32Sub().i32Const(outH).i32DivU().i32Const(inH).i32Mul();
  fn.localGet(iy0)
    .i32Add()
    .localGet(kyS)
    .i32Const(dH)
    .i32Mul()
    .i32Add()
    .i32Const(inW * psIn)
    .i32Mul();
  fn.i32Const(addr.input.addrBytes).i32Add();
  if (opts.chIn) fn.localGet(opts.chIn).i32Add();
  fn.localSet(rowIn);
  fn.localGet(r)
    .i32Const(outW * psOut)
    .i32Mul()
    .i32Const(addr.output.addrBytes)
    .i32Add()
    .localSet(rowOut);
  if (addr.residual) {
    fn.localGet(r)
      .i32Const(outW * psRes)
      .i32Mul()
      .i32Const(addr.residual.addrBytes)
      .i32Add()
      .localSet(rowRes);
  }
}

/** The f32 general convolution family. */
export const conv: KernelFamily<ConvSpec, ConvVariant, ConvAddresses, ConvWeights> = {
  family: 'conv',
  variants: CONV_VARIANTS,
  supports(spec) {
    return spec.inC % spec.group === 0 && spec.outC % spec.group === 0;
  },
  id(spec, vr) {
    return kernelId('f32', 'conv', spec.epilogue, vr.tile, vr.isa);
  },
  parallelExtent(spec, vr) {
    return geometry(spec, vr).blocks * spec.batch * spec.outH;
  },
  pack: packConv,
  zeroBytes(spec) {
    return (spec.inC / spec.group) * 4 + 16;
  },
  emit: emitConv,
  macs(spec) {
    return spec.batch * spec.outH * spec.outW * spec.outC * (spec.inC / spec.group) * spec.kernelH * spec.kernelW;
  },
};
