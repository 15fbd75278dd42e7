/**
 * Conv and ConvTranspose references. Layout is ONNX's NCHW: X [N, C, D1..Dr], Conv W [M, C/group, k1..kr],
 * ConvTranspose W [C, M/group, k1..kr]. 1-D and 2-D convolutions are computed as 3-D ones with leading unit
 * spatial axes (kernel 1, stride 1, no pads), so one set of plain loops covers r = 1..3. Products accumulate in
 * doubles and are rounded once when stored; the integer variants (quantize.ts) reuse `convAccumulate` on
 * zero-point-shifted values, which is exact because |sums| stay far below 2^53.
 */
import { type Dim, attrInt, attrInts } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import {
  type AutoPad,
  fmtShape,
  knownSize,
  nodeError,
  numbersOf,
  readWindowAttrs,
  requireFloat,
  requireInput,
  sameDType,
  tensorFromNumbers,
  unsupported,
  type Window3,
  window3,
  windowAxisDimOf,
  windowAxisOf,
} from './nn-util.js';
import type { OpContext, OpDef, ValueType } from './types.js';

/** A convolution with its spatial axes padded to exactly three (leading unit axes for 1-D/2-D). */
export interface ConvGeometry extends Window3 {
  batch: number;
  inChannels: number;
  outChannels: number;
  group: number;
  /** Spatial shape of the original rank, for building the output tensor. */
  outSpatial: number[];
}

function checkConvShapes(x: readonly number[], w: readonly number[], group: number, ctx: OpContext): void {
  if (x.length < 3 || x.length > 5) {
    const msg = `X must be [N, C, D1..Dr] with r = 1..3, got ${fmtShape(x as number[])}`;
    throw x.length < 3 ? nodeError(ctx, msg) : unsupported(ctx, msg);
  }
  if (w.length !== x.length) {
    throw nodeError(ctx, `W ${fmtShape(w as number[])} must have the rank of X ${fmtShape(x as number[])}`);
  }
  if (!(group >= 1)) throw nodeError(ctx, `group must be >= 1, got ${group}`);
  const ks = attrInts(ctx.node, 'kernel_shape');
  if (ks !== undefined && ks.join(',') !== w.slice(2).join(',')) {
    throw nodeError(ctx, `kernel_shape [${ks.join(',')}] does not match W ${fmtShape(w as number[])}`);
  }
}

/** Geometry of a Conv (or ConvInteger/QLinearConv) node from concrete X and W shapes; validates channels. */
export function convGeometry(xShape: readonly number[], wShape: readonly number[], ctx: OpContext): ConvGeometry {
  const group = attrInt(ctx.node, 'group', 1);
  checkConvShapes(xShape, wShape, group, ctx);
  const r = xShape.length - 2;
  const C = xShape[1]!;
  const M = wShape[0]!;
  if (C !== wShape[1]! * group) {
    throw nodeError(
      ctx,
      `X has ${C} channels but W ${fmtShape(wShape as number[])} with group ${group} expects ${wShape[1]! * group}`,
    );
  }
  if (M % group !== 0) throw nodeError(ctx, `W has ${M} output channels, not a multiple of group ${group}`);
  const a = readWindowAttrs(ctx, r);
  const kernel = wShape.slice(2);
  const outSpatial: number[] = [];
  const padBegin: number[] = [];
  for (let i = 0; i < r; i++) {
    const ax = windowAxisOf(a, i, xShape[2 + i]!, kernel[i]!, false);
    if (ax.out <= 0) {
      throw nodeError(
        ctx,
        `spatial axis ${i} of X ${fmtShape(xShape as number[])} is too small for kernel ${kernel[i]} (dilation ${a.dilations[i]}, pads ${ax.padBegin}+${ax.padEnd})`,
      );
    }
    outSpatial.push(ax.out);
    padBegin.push(ax.padBegin);
  }
  return {
    batch: xShape[0]!,
    inChannels: C,
    outChannels: M,
    group,
    outSpatial,
    ...window3(xShape.slice(2), kernel, outSpatial, a, padBegin),
  };
}

/**
 * Positions i in [0, count) with i*stride + tap inside [0, limit), as [begin, end). Conv walks output positions
 * whose tap (k*dilation - padBegin) lands in the input; ConvTranspose walks input positions whose scattered
 * output lands in the output.
 */
function strideRange(count: number, limit: number, stride: number, tap: number): [number, number] {
  const begin = Math.max(0, Math.ceil(-tap / stride));
  const end = Math.min(count, Math.floor((limit - 1 - tap) / stride) + 1);
  return [begin, Math.max(begin, end)];
}

/**
 * y[n, m, o] = sum over the channels c of m's group and the kernel taps k of x[n, c, o*s - pad + k*d] * w[m, c, k].
 * Taps that fall in the padding contribute nothing (x is taken as 0 there). Loops run weight-stationary: each
 * weight is added, times the input row it meets, into a whole output row, over the output range where that tap
 * is inside X, so no per-element bound checks remain. Returns N*M*prod(out) doubles.
 */
export function convAccumulate(x: ArrayLike<number>, w: ArrayLike<number>, g: ConvGeometry): Float64Array {
  const [D, H, W] = g.inSize;
  const [KD, KH, KW] = g.kernel;
  const [OD, OH, OW] = g.outSize;
  const [sd, sh, sw] = g.strides;
  const [dd, dh, dw] = g.dilations;
  const [pd, ph, pw] = g.padBegin;
  const Cg = g.inChannels / g.group;
  const Mg = g.outChannels / g.group;
  const inPlane = D * H * W;
  const kSize = KD * KH * KW;
  const outPlane = OD * OH * OW;
  const y = new Float64Array(g.batch * g.outChannels * outPlane);
  const dRange = Array.from({ length: KD }, (_, k) => strideRange(OD, D, sd, k * dd - pd));
  const hRange = Array.from({ length: KH }, (_, k) => strideRange(OH, H, sh, k * dh - ph));
  const wRange = Array.from({ length: KW }, (_, k) => strideRange(OW, W, sw, k * dw - pw));
  for (let n = 0; n < g.batch; n++) {
    for (let m = 0; m < g.outChannels; m++) {
      const c0 = Math.floor(m / Mg) * Cg;
      const yBase = (n * g.outChannels + m) * outPlane;
      for (let cc = 0; cc < Cg; cc++) {
        const xBase = (n * g.inChannels + c0 + cc) * inPlane;
        const wBase = (m * Cg + cc) * kSize;
        for (let kd = 0; kd < KD; kd++) {
          const [od0, od1] = dRange[kd]!;
          for (let kh = 0; kh < KH; kh++) {
            const [oh0, oh1] = hRange[kh]!;
            for (let kw = 0; kw < KW; kw++) {
              const [ow0, ow1] = wRange[kw]!;
              const wv = w[wBase + (kd * KH + kh) * KW + kw]!;
              for (let od = od0; od < od1; od++) {
                const id = od * sd - pd + kd * dd;
                for (let oh = oh0; oh < oh1; oh++) {
                  const xRow = xBase + (id * H + oh * sh - ph + kh * dh) * W - pw + kw * dw;
                  const yRow = yBase + (od * OH + oh) * OW;
                  for (let ow = ow0; ow < ow1; ow++) y[yRow + ow] += wv * x[xRow + ow * sw]!;
                }
              }
            }
          }
        }
      }
    }
  }
  return y;
}

/** Output spatial dims of a Conv-like node from possibly unknown shapes (null where unknown). */
export function convOutputShape(
  x: readonly Dim[] | undefined,
  w: readonly Dim[] | undefined,
  ctx: OpContext,
): Dim[] | undefined {
  const rank = x?.length ?? w?.length;
  if (rank === undefined || rank < 3) return undefined;
  const r = rank - 2;
  const kernel = attrInts(ctx.node, 'kernel_shape') ?? w?.slice(2);
  const out: Dim[] = [x?.[0] ?? null, w?.[0] ?? null];
  let a;
  try {
    a = readWindowAttrs(ctx, r);
  } catch {
    return undefined;
  }
  for (let i = 0; i < r; i++) {
    const k = kernel?.[i];
    out.push(typeof k === 'number' ? windowAxisDimOf(a, i, x?.[2 + i] ?? null, k, false) : null);
  }
  return out;
}

/** MACs of a Conv-like node: N * M * prod(out spatial) * (C / group) * prod(kernel). */
export function convMacs(
  inputs: readonly (ValueType | undefined)[],
  outputs: readonly ValueType[],
  wIndex: number,
): number {
  const y = outputs[0]?.shape;
  const w = inputs[wIndex]?.shape;
  if (y === undefined || w === undefined) return 0;
  const ySize = knownSize(y);
  const wPerOut = knownSize(w.slice(1));
  return ySize === null || wPerOut === null ? 0 : ySize * wPerOut;
}

function conv(inputs: readonly (Tensor | undefined)[], ctx: OpContext): Tensor[] {
  const x = requireInput(inputs, 0, 'X', ctx);
  const w = requireInput(inputs, 1, 'W', ctx);
  const b = inputs[2];
  requireFloat(x, 'X', ctx);
  if (w.dtype !== x.dtype) throw nodeError(ctx, `W is ${w.dtype} but X is ${x.dtype}`);
  const g = convGeometry(x.shape, w.shape, ctx);
  const y = convAccumulate(numbersOf(x), numbersOf(w), g);
  if (b !== undefined) addBias(y, b, g.batch, g.outChannels, ctx);
  return [tensorFromNumbers(x.dtype, [g.batch, g.outChannels, ...g.outSpatial], y)];
}

/** y[n, m, ...] += B[m]; B must be 1-D of length M. */
function addBias(y: Float64Array, b: Tensor, batch: number, channels: number, ctx: OpContext): void {
  if (b.shape.length !== 1 || b.shape[0] !== channels) {
    throw nodeError(ctx, `B must have shape [${channels}], got ${fmtShape(b.shape as number[])}`);
  }
  const bv = numbersOf(b);
  const plane = y.length / (batch * channels);
  for (let n = 0; n < batch; n++) {
    for (let m = 0; m < channels; m++) {
      const base = (n * channels + m) * plane;
      for (let i = 0; i < plane; i++) y[base + i] += bv[m]!;
    }
  }
}

/** ONNX Conv, opsets 1..21 (1-D, 2-D and 3-D; groups, dilations, strides, auto_pad, asymmetric pads, bias). */
export const Conv: OpDef = {
  opType: 'Conv',
  domain: '',
  sinceVersion: 1,
  reference: conv,
  inferTypes: (inputs, ctx) => sameDType(inputs, convOutputShape(inputs[0]?.shape, inputs[1]?.shape, ctx)),
  macs: (inputs, outputs) => convMacs(inputs, outputs, 1),
};

/** Output length and pad-before of one ConvTranspose axis (see the ONNX ConvTranspose spec). */
function transposeAxis(
  inLen: number,
  kernel: number,
  stride: number,
  dilation: number,
  outputPadding: number,
  autoPad: AutoPad,
  padBegin: number,
  padEnd: number,
  outputShape: number | undefined,
): { out: number; padBegin: number } {
  const full = stride * (inLen - 1) + outputPadding + (kernel - 1) * dilation + 1;
  let out = outputShape;
  if (out === undefined && (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER')) out = inLen * stride;
  if (out !== undefined) {
    // The spec's split: the odd element goes to the end for SAME_UPPER, to the beginning otherwise. A negative
    // total (output_shape larger than the full result) leaves extra outputs at the end that hold only the bias.
    const total = full - out;
    const half = Math.floor(total / 2);
    return { out, padBegin: autoPad === 'SAME_UPPER' ? half : total - half };
  }
  if (autoPad === 'VALID') return { out: full, padBegin: 0 };
  return { out: full - padBegin - padEnd, padBegin };
}

interface TransposeGeometry extends ConvGeometry {
  /** Output channels per group (W's second dim). */
  outPerGroup: number;
}

function transposeGeometry(xShape: readonly number[], wShape: readonly number[], ctx: OpContext): TransposeGeometry {
  const group = attrInt(ctx.node, 'group', 1);
  checkConvShapes(xShape, wShape, group, ctx);
  const r = xShape.length - 2;
  const C = xShape[1]!;
  if (wShape[0] !== C) throw nodeError(ctx, `W ${fmtShape(wShape as number[])} must start with X's ${C} channels`);
  if (C % group !== 0) throw nodeError(ctx, `X has ${C} channels, not a multiple of group ${group}`);
  const a = readWindowAttrs(ctx, r);
  const outputPadding = attrInts(ctx.node, 'output_padding', new Array<number>(r).fill(0));
  if (outputPadding.length !== r)
    throw nodeError(ctx, `output_padding has ${outputPadding.length} values, expected ${r}`);
  let outputShape = attrInts(ctx.node, 'output_shape');
  if (outputShape !== undefined && outputShape.length === r + 2) outputShape = outputShape.slice(2);
  if (outputShape !== undefined && outputShape.length !== r) {
    throw nodeError(ctx, `output_shape has ${outputShape.length} values, expected ${r}`);
  }
  const kernel = wShape.slice(2);
  const outSpatial: number[] = [];
  const padBegin: number[] = [];
  for (let i = 0; i < r; i++) {
    const ax = transposeAxis(
      xShape[2 + i]!,
      kernel[i]!,
      a.strides[i]!,
      a.dilations[i]!,
      outputPadding[i]!,
      a.autoPad,
      a.pads[i]!,
      a.pads[r + i]!,
      outputShape?.[i],
    );
    if (ax.out <= 0) throw nodeError(ctx, `output spatial axis ${i} would have length ${ax.out}`);
    outSpatial.push(ax.out);
    padBegin.push(ax.padBegin);
  }
  const Mg = wShape[1]!;
  return {
    batch: xShape[0]!,
    inChannels: C,
    outChannels: Mg * group,
    outPerGroup: Mg,
    group,
    outSpatial,
    ...window3(xShape.slice(2), kernel, outSpatial, a, padBegin),
  };
}

/**
 * Scatter form: every input element adds x * w[c, m, k] to output position i*s - pad + k*d. Loops run
 * weight-stationary like convAccumulate: one weight scatters a whole input row over the range that lands inside Y.
 */
function convTranspose(inputs: readonly (Tensor | undefined)[], ctx: OpContext): Tensor[] {
  const x = requireInput(inputs, 0, 'X', ctx);
  const wt = requireInput(inputs, 1, 'W', ctx);
  requireFloat(x, 'X', ctx);
  if (wt.dtype !== x.dtype) throw nodeError(ctx, `W is ${wt.dtype} but X is ${x.dtype}`);
  const g = transposeGeometry(x.shape, wt.shape, ctx);
  const xv = numbersOf(x);
  const wv = numbersOf(wt);
  const [D, H, W] = g.inSize;
  const [KD, KH, KW] = g.kernel;
  const [OD, OH, OW] = g.outSize;
  const [sd, sh, sw] = g.strides;
  const [dd, dh, dw] = g.dilations;
  const [pd, ph, pw] = g.padBegin;
  const Cg = g.inChannels / g.group;
  const Mg = g.outPerGroup;
  const kSize = KD * KH * KW;
  const inPlane = D * H * W;
  const outPlane = OD * OH * OW;
  const y = new Float64Array(g.batch * g.outChannels * outPlane);
  const dRange = Array.from({ length: KD }, (_, k) => strideRange(D, OD, sd, k * dd - pd));
  const hRange = Array.from({ length: KH }, (_, k) => strideRange(H, OH, sh, k * dh - ph));
  const wRange = Array.from({ length: KW }, (_, k) => strideRange(W, OW, sw, k * dw - pw));
  for (let n = 0; n < g.batch; n++) {
    for (let c = 0; c < g.inChannels; c++) {
      const grp = Math.floor(c / Cg);
      const xBase = (n * g.inChannels + c) * inPlane;
      for (let mm = 0; mm < Mg; mm++) {
        const wBase = (c * Mg + mm) * kSize;
        const yBase = (n * g.outChannels + grp * Mg + mm) * outPlane;
        for (let kd = 0; kd < KD; kd++) {
          const [id0, id1] = dRange[kd]!;
          for (let kh = 0; kh < KH; kh++) {
            const [ih0, ih1] = hRange[kh]!;
            for (let kw = 0; kw < KW; kw++) {
              const [iw0, iw1] = wRange[kw]!;
              const w = wv[wBase + (kd * KH + kh) * KW + kw]!;
              for (let id = id0; id < id1; id++) {
                const od = id * sd - pd + kd * dd;
                for (let ih = ih0; ih < ih1; ih++) {
                  const xRow = xBase + (id * H + ih) * W;
                  const yRow = yBase + (od * OH + ih * sh - ph + kh * dh) * OW - pw + kw * dw;
                  for (let iw = iw0; iw < iw1; iw++) y[yRow + iw * sw] += w * xv[xRow + iw]!;
                }
              }
            }
          }
        }
      }
    }
  }
  const b = inputs[2];
  if (b !== undefined) addBias(y, b, g.batch, g.outChannels, ctx);
  return [tensorFromNumbers(x.dtype, [g.batch, g.outChannels, ...g.outSpatial], y)];
}

/** ONNX ConvTranspose, opsets 1..21 (groups, dilations, output_padding, output_shape, auto_pad). */
export const ConvTranspose: OpDef = {
  opType: 'ConvTranspose',
  domain: '',
  sinceVersion: 1,
  reference: convTranspose,
  inferTypes(inputs, ctx) {
    const t: ValueType = {};
    const x = inputs[0];
    const w = inputs[1];
    if (x?.dtype !== undefined) t.dtype = x.dtype;
    const xs = x?.shape;
    const ws = w?.shape;
    if (xs !== undefined && xs.length >= 3) {
      const r = xs.length - 2;
      const group = attrInt(ctx.node, 'group', 1);
      const mg = ws?.[1];
      const shape: Dim[] = [xs[0] ?? null, typeof mg === 'number' ? mg * group : null];
      try {
        const a = readWindowAttrs(ctx, r);
        const op = attrInts(ctx.node, 'output_padding', new Array<number>(r).fill(0));
        let os = attrInts(ctx.node, 'output_shape');
        if (os !== undefined && os.length === r + 2) os = os.slice(2);
        const kernel = attrInts(ctx.node, 'kernel_shape') ?? ws?.slice(2);
        for (let i = 0; i < r; i++) {
          const inLen = xs[2 + i];
          const k = kernel?.[i];
          if (os?.[i] !== undefined) shape.push(os[i]!);
          else if (typeof inLen === 'number' && typeof k === 'number') {
            shape.push(
              transposeAxis(
                inLen,
                k,
                a.strides[i]!,
                a.dilations[i]!,
                op[i] ?? 0,
                a.autoPad,
                a.pads[i]!,
                a.pads[r + i]!,
                undefined,
              ).out,
            );
          } else shape.push(null);
        }
        t.shape = shape;
      } catch {
        // Malformed attributes are reported by the reference; inference just leaves the shape unknown.
      }
    }
    return [t];
  },
  macs(inputs) {
    // Every input element meets every weight of its group once: N * C * prod(in spatial) * (M/group) * prod(k).
    const x = inputs[0]?.shape;
    const w = inputs[1]?.shape;
    if (x === undefined || w === undefined) return 0;
    const xSize = knownSize(x);
    const wPerIn = knownSize(w.slice(1));
    return xSize === null || wPerIn === null ? 0 : xSize * wPerIn;
  },
};
