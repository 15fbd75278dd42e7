/**
 * f32 convolution for few input channels (a network's stem: 3-channel images), over NHWC, group 1.
 * With 3 input channels the general conv kernel spends more instructions choosing per-tap pixel pointers and
 * running a 3-long k loop than multiplying; here interior output columns (all kx taps inside the row) run in
 * MR-pixel tiles whose kx loop moves one input and one weight pointer and unrolls the Cin products, every load
 * at pointer + constant; border columns are unrolled one pixel at a time with only their valid taps (no zero
 * buffer).
 * Weights are packed per NR-channel panel: NR bias values, then [ky][kx][ci] x NR (zero past outC).
 * Loop nest: panel > output rows [start, end) > column tiles > valid kernel rows. parallelExtent = batch*outH.
 * Not selected yet (select.ts): on V8 x64 it measured level with the direct conv on 3x3 s2 stems (MobileNetV2
 * 0.78-0.84 vs 0.82-0.84 ms) and slower on ResNet's 7x7 s2 stem (8.6 vs 7.8 ms); the one-pixel border and
 * remainder tiles cost about as much as full tiles.
 */
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { EdgecnnError } from '../../ir/errors.js';
import { emitConvRowWindow } from './conv.js';
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

/** A stem register tile: MR output pixels x NR output channels. */
export interface StemConvVariant extends KernelVariant {
  readonly mr: number;
  readonly nr: number;
}

function v(mr: number, nr: number, isa: Isa): StemConvVariant {
  return { tile: `${mr}x${nr}`, mr, nr, isa };
}

/** The stem convolution variants (the only hand-edited list). */
export const STEM_CONV_VARIANTS: readonly StemConvVariant[] = [
  v(4, 8, 'wasmsimd'),
  v(2, 16, 'wasmsimd'),
  v(4, 8, 'wasmrelaxed'),
  v(2, 16, 'wasmrelaxed'),
];

/** Largest kw * Cin unrolled per kernel row, and most border columns unrolled per row (code size bounds). */
const MAX_ROW_TAPS = 64;
const MAX_BORDER_COLUMNS = 8;

/** Output columns whose kernel row lies wholly inside the input row: [left, right). */
export function interiorColumns(spec: ConvSpec): { left: number; right: number } {
  const full = (ox: number): boolean => {
    const first = ox * spec.strideW - spec.padLeft;
    return first >= 0 && first + (spec.kernelW - 1) * spec.dilationW < spec.inW;
  };
  let left = 0;
  while (left < spec.outW && !full(left)) left++;
  let right = spec.outW;
  while (right > left && !full(right - 1)) right--;
  return { left, right };
}

function borderColumns(spec: ConvSpec): number {
  const { left, right } = interiorColumns(spec);
  return left + (spec.outW - right);
}

function panels(spec: ConvSpec, vr: StemConvVariant): number {
  return Math.ceil(spec.outC / vr.nr);
}

function panelFloats(spec: ConvSpec, vr: StemConvVariant): number {
  return vr.nr * (1 + spec.kernelH * spec.kernelW * spec.inC);
}

/** Pack ONNX weights [outC, inC, kH, kW] (+ bias) per NR panel as [bias | (ky, kx, ci) x NR]. */
export function packStemConv(spec: ConvSpec, vr: StemConvVariant, w: ConvWeights): Float32Array {
  checkConvSpec(spec, 'stemconv');
  const { inC: C, outC, kernelH: kh, kernelW: kw } = spec;
  const taps = kh * kw;
  if (w.weights.length !== outC * C * taps) {
    throw new EdgecnnError(
      `stemconv pack: weights have ${w.weights.length} values, expected ${outC}x${C}x${kh}x${kw}`,
      'bad-model',
    );
  }
  if (w.bias && w.bias.length !== outC) {
    throw new EdgecnnError(`stemconv pack: bias has ${w.bias.length} values, expected ${outC}`, 'bad-model');
  }
  const nr = vr.nr;
  const pf = panelFloats(spec, vr);
  const out = new Float32Array(panels(spec, vr) * pf);
  for (let o = 0; o < outC; o++) {
    const base = Math.floor(o / nr) * pf;
    const c = o % nr;
    out[base + c] = w.bias ? w.bias[o]! : 0;
    for (let ci = 0; ci < C; ci++) {
      for (let t = 0; t < taps; t++) out[base + nr + (t * C + ci) * nr + c] = w.weights[(o * C + ci) * taps + t]!;
    }
  }
  return out;
}

/** Emit the stem convolution step `(start, end)` over output rows. */
export function emitStemConv(fn: FunctionBuilder, spec: ConvSpec, vr: StemConvVariant, addr: ConvAddresses): void {
  checkConvSpec(spec, 'stemconv');
  if (!stemConv.supports(spec, vr)) throw new EdgecnnError('stemconv: spec not supported', 'internal');
  if (spec.epilogue.residual && !addr.residual)
    throw new EdgecnnError('stemconv: residual address missing', 'internal');
  const { inW, outW, inC: C, kernelW: kw, strideW: sW, dilationH: dH, dilationW: dW, padLeft } = spec;
  const { mr, nr } = vr;
  const nvec = nr / 4;
  const psIn = addr.input.pixelStride * 4;
  const psOut = addr.output.pixelStride * 4;
  const psRes = (addr.residual?.pixelStride ?? 0) * 4;
  const relaxed = vr.isa === 'wasmrelaxed';
  const kyBytes = kw * C * nr * 4;
  const pf = panelFloats(spec, vr);
  const nPanels = panels(spec, vr);
  const fullPanels = Math.floor(spec.outC / nr);
  const colsLast = spec.outC - fullPanels * nr;
  const { left: oxL, right: oxR } = interiorColumns(spec);
  const interior = Math.max(0, oxR - oxL);
  const fullTiles = Math.floor(interior / mr);
  const remTile = interior - fullTiles * mr;

  const start = fn.param(0);
  const end = fn.param(1);
  const ep = new EpilogueEmitter(fn, spec.epilogue.activation, relaxed);
  const acc = Array.from({ length: mr }, () => fn.locals('v128', nvec));
  const bVec = fn.locals('v128', nvec);
  const aSplat = fn.local('v128');
  const p = fn.local('i32');
  const panelW = fn.local('i32');
  const chOut = fn.local('i32');
  const r = fn.local('i32');
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
  const wt = fn.local('i32');
  const aBase = fn.local('i32');
  const cPtr = fn.local('i32');
  const rPtr = fn.local('i32');
  const ap = fn.local('i32');
  const wk = fn.local('i32');
  const wkEnd = fn.local('i32');

  /**
   * One tile of `rows` pixels x `cols` channels. `setBase` sets aBase, the address (in the first valid kernel
   * row) that `offset(i, kx)` is relative to (bytes; undefined = the tap falls outside the input row);
   * `outPixel(stride)` pushes the tile's first pixel times a pixel stride (bytes) for the output/residual.
   * With `pixelOffset` (interior tiles: offset(i, kx) = pixelOffset(i) + kx * dW * psIn) kx runs in a loop.
   */
  const emitTile = (
    rows: number,
    cols: number,
    setBase: () => void,
    offset: (i: number, kx: number) => number | undefined,
    outPixel: (stride: number) => void,
    pixelOffset?: (i: number) => number,
  ): void => {
    for (let j = 0; j < nvec; j++) {
      fn.localGet(panelW)
        .v128Load(j * 16, 4)
        .localTee(acc[0]![j]!);
      for (let i = 1; i < rows; i++) fn.localTee(acc[i]![j]!);
      fn.drop();
    }
    setBase();
    fn.localGet(kyS)
      .i32Const(kyBytes)
      .i32Mul()
      .localGet(panelW)
      .i32Add()
      .i32Const(nr * 4)
      .i32Add()
      .localSet(wt);
    fn.localGet(kyS).localSet(ky);
    const kyExit = fn.block();
    const kyTop = fn.loop();
    fn.localGet(ky).localGet(kyS).i32Sub().localGet(nky).i32GeS().brIf(kyExit);
    if (pixelOffset) {
      // Interior: a runtime kx loop over one input pointer and one weight pointer (a fully unrolled kernel row
      // measured slower: TurboFan's schedule of the long straight-line block spills).
      fn.localGet(aBase).localSet(ap);
      fn.localGet(wt).localSet(wk);
      fn.localGet(wt).i32Const(kyBytes).i32Add().localSet(wkEnd);
      const kxTop = fn.loop();
      for (let ci = 0; ci < C; ci++) {
        for (let j = 0; j < nvec; j++)
          fn.localGet(wk)
            .v128Load((ci * nr + j * 4) * 4, 4)
            .localSet(bVec[j]!);
        for (let i = 0; i < rows; i++) {
          fn.localGet(ap)
            .v128Load32Splat(pixelOffset(i) + ci * 4)
            .localSet(aSplat);
          for (let j = 0; j < nvec; j++) {
            const a = acc[i]![j]!;
            if (relaxed) fn.localGet(aSplat).localGet(bVec[j]!).localGet(a).f32x4RelaxedMadd().localSet(a);
            else fn.localGet(a).localGet(aSplat).localGet(bVec[j]!).f32x4Mul().f32x4Add().localSet(a);
          }
        }
      }
      fn.localGet(ap)
        .i32Const(dW * psIn)
        .i32Add()
        .localSet(ap);
      fn.localGet(wk)
        .i32Const(C * nr * 4)
        .i32Add()
        .localTee(wk)
        .localGet(wkEnd)
        .i32Ne()
        .brIf(kxTop);
      fn.end();
    }
    for (let kx = 0; kx < (pixelOffset ? 0 : kw); kx++) {
      const offs = Array.from({ length: rows }, (_, i) => offset(i, kx));
      if (offs.every((o) => o === undefined)) continue;
      for (let ci = 0; ci < C; ci++) {
        const wOff = (kx * C + ci) * nr * 4;
        for (let j = 0; j < nvec; j++)
          fn.localGet(wt)
            .v128Load(wOff + j * 16, 4)
            .localSet(bVec[j]!);
        for (let i = 0; i < rows; i++) {
          const o = offs[i];
          if (o === undefined) continue;
          fn.localGet(aBase)
            .v128Load32Splat(o + ci * 4)
            .localSet(aSplat);
          for (let j = 0; j < nvec; j++) {
            const a = acc[i]![j]!;
            if (relaxed) fn.localGet(aSplat).localGet(bVec[j]!).localGet(a).f32x4RelaxedMadd().localSet(a);
            else fn.localGet(a).localGet(aSplat).localGet(bVec[j]!).f32x4Mul().f32x4Add().localSet(a);
          }
        }
      }
    }
    fn.localGet(ky).i32Const(1).i32Add().localSet(ky);
    fn.localGet(wt).i32Const(kyBytes).i32Add().localSet(wt);
    fn.localGet(aBase)
      .i32Const(dH * inW * psIn)
      .i32Add()
      .localSet(aBase);
    fn.br(kyTop);
    fn.end().end();
    outPixel(psOut);
    fn.localGet(rowOut).i32Add().localGet(chOut).i32Add().localSet(cPtr);
    if (addr.residual) {
      outPixel(psRes);
      fn.localGet(rowRes).i32Add().localGet(chOut).i32Add().localSet(rPtr);
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

  // A border column ox (compile-time): loads relative to the input row start, valid taps only.
  const borderPixel = (ox: number, cols: number): void => {
    emitTile(
      1,
      cols,
      () => fn.localGet(rowIn).localSet(aBase),
      (_i, kx) => {
        const ix = ox * sW - padLeft + kx * dW;
        return ix >= 0 && ix < inW ? ix * psIn : undefined;
      },
      (stride) => fn.i32Const(ox * stride),
    );
  };
  // Interior tiles start at ox0 (runtime): loads relative to the tile's first input pixel.
  const interiorTile = (rows: number, cols: number): void => {
    emitTile(
      rows,
      cols,
      () =>
        fn
          .localGet(ox0)
          .i32Const(sW * psIn)
          .i32Mul()
          .localGet(rowIn)
          .i32Add()
          .i32Const(padLeft * psIn)
          .i32Sub()
          .localSet(aBase),
      (i, kx) => (i * sW + kx * dW) * psIn,
      (stride) => fn.localGet(ox0).i32Const(stride).i32Mul(),
      (i) => i * sW * psIn,
    );
  };

  const rowsOfPanel = (cols: number): void => {
    fn.forRange(
      r,
      (b) => b.localGet(start),
      (b) => b.localGet(end),
      1,
      () => {
        emitConvRowWindow(fn, spec, addr, { r, oy, iy0, kyS, nky, rowIn, rowOut, rowRes }, { clampNky: false });
        for (let ox = 0; ox < Math.min(oxL, outW); ox++) borderPixel(ox, cols);
        if (fullTiles > 0) {
          fn.forRange(
            tile,
            (b) => b.i32Const(0),
            (b) => b.i32Const(fullTiles),
            1,
            () => {
              fn.localGet(tile).i32Const(mr).i32Mul().i32Const(oxL).i32Add().localSet(ox0);
              interiorTile(mr, cols);
            },
          );
        }
        if (remTile > 0) {
          fn.i32Const(oxL + fullTiles * mr).localSet(ox0);
          interiorTile(remTile, cols);
        }
        for (let ox = Math.max(oxR, oxL); ox < outW; ox++) borderPixel(ox, cols);
      },
    );
  };

  if (fullPanels > 0) {
    fn.forRange(
      p,
      (b) => b.i32Const(0),
      (b) => b.i32Const(fullPanels),
      1,
      () => {
        fn.localGet(p)
          .i32Const(pf * 4)
          .i32Mul()
          .i32Const(addr.packedWeights)
          .i32Add()
          .localSet(panelW);
        fn.localGet(p)
          .i32Const(nr * 4)
          .i32Mul()
          .localSet(chOut);
        rowsOfPanel(nr);
      },
    );
  }
  if (colsLast > 0) {
    fn.i32Const(addr.packedWeights + (nPanels - 1) * pf * 4).localSet(panelW);
    fn.i32Const(fullPanels * nr * 4).localSet(chOut);
    rowsOfPanel(colsLast);
  }
}

/** The f32 stem convolution family (group 1, few input channels). */
export const stemConv: KernelFamily<ConvSpec, StemConvVariant, ConvAddresses, ConvWeights> = {
  family: 'stemconv',
  variants: STEM_CONV_VARIANTS,
  supports(spec) {
    return (
      spec.group === 1 &&
      spec.inC <= 4 &&
      spec.kernelW * spec.inC <= MAX_ROW_TAPS &&
      borderColumns(spec) <= MAX_BORDER_COLUMNS
    );
  },
  id(spec, vr) {
    const s = spec.strideH === spec.strideW ? `s${spec.strideH}` : `s${spec.strideH}x${spec.strideW}`;
    return kernelId('f32', 'stemconv', spec.epilogue, `${spec.kernelH}x${spec.kernelW}${s}-${vr.tile}`, vr.isa);
  },
  parallelExtent(spec) {
    return spec.batch * spec.outH;
  },
  pack: packStemConv,
  zeroBytes() {
    return 0;
  },
  emit: emitStemConv,
  macs(spec) {
    return spec.batch * spec.outH * spec.outW * spec.outC * spec.inC * spec.kernelH * spec.kernelW;
  },
};
