/**
 * Pooling references: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool over X [N, C, D1..Dr], r = 1..3,
 * computed as 3-D pools with leading unit axes. A window tap at position o*stride - padBegin + k*dilation is
 * real when it lies inside X; MaxPool ignores padded taps (as if -inf), AveragePool divides by the real taps
 * (count_include_pad=0) or by the taps inside the explicitly padded extent (count_include_pad=1), so that the
 * extra window of ceil_mode never counts beyond the end padding. MaxPool's Indices are flat offsets into X.
 */
import { type Dim, attrInt, attrInts } from '../ir/graph.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';
import {
  fmtShape,
  nodeError,
  numbersOf,
  readWindowAttrs,
  requireInput,
  sameDType,
  tensorFromNumbers,
  type Triple,
  to3,
  unsupported,
  type Window3,
  window3,
  windowAxisDimOf,
  windowAxisOf,
} from './nn-util.js';
import type { OpContext, OpDef, ValueType } from './types.js';

interface PoolGeometry extends Window3 {
  batch: number;
  channels: number;
  outSpatial: number[];
  /** inLen + padEnd per axis: taps at or past it are beyond even the explicit padding. */
  paddedEnd: Triple;
}

function readKernel(ctx: OpContext, r: number): number[] {
  const k = attrInts(ctx.node, 'kernel_shape');
  if (k === undefined) throw nodeError(ctx, 'kernel_shape attribute is required');
  if (k.length !== r) throw nodeError(ctx, `kernel_shape has ${k.length} values but X has ${r} spatial axes`);
  if (k.some((v) => !(v >= 1))) throw nodeError(ctx, `kernel_shape must be >= 1, got [${k.join(',')}]`);
  return k;
}

function poolGeometry(xShape: readonly number[], ctx: OpContext, allowDilations: boolean): PoolGeometry {
  if (xShape.length < 3 || xShape.length > 5) {
    const msg = `X must be [N, C, D1..Dr] with r = 1..3, got ${fmtShape(xShape as number[])}`;
    throw xShape.length < 3 ? nodeError(ctx, msg) : unsupported(ctx, msg);
  }
  const r = xShape.length - 2;
  const kernel = readKernel(ctx, r);
  const a = readWindowAttrs(ctx, r);
  if (!allowDilations && a.dilations.some((d) => d !== 1)) {
    throw unsupported(ctx, `dilations are only defined from opset 19 for AveragePool`);
  }
  const ceil = attrInt(ctx.node, 'ceil_mode', 0) !== 0;
  const outSpatial: number[] = [];
  const padBegin: number[] = [];
  const paddedEnd: number[] = [];
  for (let i = 0; i < r; i++) {
    const inLen = xShape[2 + i]!;
    const ax = windowAxisOf(a, i, inLen, kernel[i]!, ceil);
    if (ax.out <= 0)
      throw nodeError(ctx, `spatial axis ${i} of X ${fmtShape(xShape as number[])} is smaller than the window`);
    outSpatial.push(ax.out);
    padBegin.push(ax.padBegin);
    paddedEnd.push(inLen + ax.padEnd);
  }
  return {
    batch: xShape[0]!,
    channels: xShape[1]!,
    outSpatial,
    ...window3(xShape.slice(2), kernel, outSpatial, a, padBegin),
    paddedEnd: to3(paddedEnd, 1),
  };
}

function poolShape(inputs: readonly (ValueType | undefined)[], ctx: OpContext): Dim[] | undefined {
  const x = inputs[0]?.shape;
  if (x === undefined || x.length < 3) return undefined;
  const r = x.length - 2;
  try {
    const kernel = readKernel(ctx, r);
    const a = readWindowAttrs(ctx, r);
    const ceil = attrInt(ctx.node, 'ceil_mode', 0) !== 0;
    const out: Dim[] = [x[0] ?? null, x[1] ?? null];
    for (let i = 0; i < r; i++) {
      out.push(windowAxisDimOf(a, i, x[2 + i] ?? null, kernel[i]!, ceil));
    }
    return out;
  } catch {
    return undefined;
  }
}

/** Calls visit(outIndex, taps) for every output position; taps lists real X offsets within the (n, c) plane. */
function forEachWindow(
  g: PoolGeometry,
  visit: (plane: number, outOffset: number, taps: number[], tapsInPaddedExtent: number) => void,
): void {
  const [D, H, W] = g.inSize;
  const [KD, KH, KW] = g.kernel;
  const [OD, OH, OW] = g.outSize;
  const [sd, sh, sw] = g.strides;
  const [dd, dh, dw] = g.dilations;
  const [pd, ph, pw] = g.padBegin;
  const [ed, eh, ew] = g.paddedEnd;
  const taps: number[] = [];
  for (let plane = 0; plane < g.batch * g.channels; plane++) {
    for (let od = 0; od < OD; od++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          taps.length = 0;
          let inExtent = 0;
          for (let kd = 0; kd < KD; kd++) {
            const id = od * sd - pd + kd * dd;
            if (id >= ed) continue;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - ph + kh * dh;
              if (ih >= eh) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - pw + kw * dw;
                if (iw >= ew) continue;
                inExtent++;
                if (id >= 0 && id < D && ih >= 0 && ih < H && iw >= 0 && iw < W) taps.push((id * H + ih) * W + iw);
              }
            }
          }
          visit(plane, (od * OH + oh) * OW + ow, taps, inExtent);
        }
      }
    }
  }
}

/** ONNX AveragePool, opsets 7..21 (count_include_pad, ceil_mode, auto_pad; dilations from opset 19). */
export const AveragePool: OpDef = {
  opType: 'AveragePool',
  domain: '',
  sinceVersion: 7,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, 'X', ctx);
    if (x.dtype !== 'float32' && x.dtype !== 'float64' && x.dtype !== 'float16') {
      throw nodeError(ctx, `X must be a float tensor, got ${x.dtype}`);
    }
    const g = poolGeometry(x.shape, ctx, ctx.opset >= 19);
    const includePad = attrInt(ctx.node, 'count_include_pad', 0) !== 0;
    const xv = numbersOf(x);
    const inPlane = g.inSize[0] * g.inSize[1] * g.inSize[2];
    const outPlane = g.outSize[0] * g.outSize[1] * g.outSize[2];
    const y = new Float64Array(g.batch * g.channels * outPlane);
    forEachWindow(g, (plane, o, taps, inExtent) => {
      let sum = 0;
      for (const t of taps) sum += xv[plane * inPlane + t]!;
      const count = includePad ? inExtent : taps.length;
      y[plane * outPlane + o] = count > 0 ? sum / count : NaN;
    });
    return [tensorFromNumbers(x.dtype, [g.batch, g.channels, ...g.outSpatial], y)];
  },
  inferTypes: (inputs, ctx) => sameDType(inputs, poolShape(inputs, ctx)),
};

const MAXPOOL_DTYPES = ['float32', 'float64', 'float16', 'int8', 'uint8'];

/** A window lying wholly in the padding yields the type's lowest finite value, as onnxruntime does. */
const LOWEST: Record<string, number> = {
  float32: -3.4028234663852886e38,
  float64: -Number.MAX_VALUE,
  float16: -65504,
  int8: -128,
  uint8: 0,
};

/** ONNX MaxPool, opsets 8..21 (pads, strides, dilations, ceil_mode, auto_pad, storage_order, Indices). */
export const MaxPool: OpDef = {
  opType: 'MaxPool',
  domain: '',
  sinceVersion: 8,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, 'X', ctx);
    if (!MAXPOOL_DTYPES.includes(x.dtype))
      throw nodeError(ctx, `X must be one of ${MAXPOOL_DTYPES.join('/')}, got ${x.dtype}`);
    const g = poolGeometry(x.shape, ctx, true);
    const columnMajor = attrInt(ctx.node, 'storage_order', 0) === 1;
    const xv = numbersOf(x);
    const [D, H, W] = g.inSize;
    const inPlane = D * H * W;
    const outPlane = g.outSize[0] * g.outSize[1] * g.outSize[2];
    const y = new Float64Array(g.batch * g.channels * outPlane);
    const wantIndices = ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '';
    const idx = new BigInt64Array(wantIndices ? y.length : 0);
    forEachWindow(g, (plane, o, taps) => {
      let best = LOWEST[x.dtype]!;
      let bestTap = -1;
      for (const t of taps) {
        const v = xv[plane * inPlane + t]!;
        // Strictly greater keeps the first maximum, as onnxruntime does.
        if (v > best || bestTap < 0) {
          best = v;
          bestTap = t;
        }
      }
      y[plane * outPlane + o] = best;
      if (wantIndices) {
        let flat = bestTap;
        if (columnMajor && bestTap >= 0) {
          const iw = bestTap % W;
          const ih = Math.floor(bestTap / W) % H;
          const id = Math.floor(bestTap / (W * H));
          flat = id + ih * D + iw * D * H;
        }
        idx[plane * outPlane + o] = BigInt(plane * inPlane + flat);
      }
    });
    const shape = [g.batch, g.channels, ...g.outSpatial];
    const out = [tensorFromNumbers(x.dtype, shape, y)];
    if (wantIndices) out.push(makeTensor('int64', shape, idx));
    return out;
  },
  inferTypes(inputs, ctx) {
    const s = poolShape(inputs, ctx);
    const out = sameDType(inputs, s);
    if (ctx.node.outputs.length > 1) out.push(s === undefined ? { dtype: 'int64' } : { dtype: 'int64', shape: [...s] });
    return out;
  },
};

function globalPool(kind: 'avg' | 'max') {
  return (inputs: readonly (Tensor | undefined)[], ctx: OpContext): Tensor[] => {
    const x = requireInput(inputs, 0, 'X', ctx);
    if (x.dtype !== 'float32' && x.dtype !== 'float64' && x.dtype !== 'float16') {
      throw nodeError(ctx, `X must be a float tensor, got ${x.dtype}`);
    }
    if (x.shape.length < 3) throw nodeError(ctx, `X must be [N, C, D1..Dr], got ${fmtShape(x.shape as number[])}`);
    const planes = x.shape[0]! * x.shape[1]!;
    const plane = x.shape.slice(2).reduce((a, b) => a * b, 1);
    if (plane === 0) throw nodeError(ctx, `X ${fmtShape(x.shape as number[])} has an empty spatial extent`);
    const xv = numbersOf(x);
    const y = new Float64Array(planes);
    for (let p = 0; p < planes; p++) {
      let acc = kind === 'avg' ? 0 : -Infinity;
      for (let i = 0; i < plane; i++) {
        const v = xv[p * plane + i]!;
        acc = kind === 'avg' ? acc + v : Math.max(acc, v);
      }
      y[p] = kind === 'avg' ? acc / plane : acc;
    }
    return [tensorFromNumbers(x.dtype, [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)], y)];
  };
}

function globalPoolTypes(inputs: readonly (ValueType | undefined)[]): ValueType[] {
  const t: ValueType = {};
  const x = inputs[0];
  if (x?.dtype !== undefined) t.dtype = x.dtype;
  if (x?.shape !== undefined && x.shape.length >= 2)
    t.shape = [x.shape[0] ?? null, x.shape[1] ?? null, ...x.shape.slice(2).map(() => 1)];
  return [t];
}

/** ONNX GlobalAveragePool (opset 1..21): mean over all spatial axes, which are kept as 1. */
export const GlobalAveragePool: OpDef = {
  opType: 'GlobalAveragePool',
  domain: '',
  sinceVersion: 1,
  reference: globalPool('avg'),
  inferTypes: globalPoolTypes,
};

/** ONNX GlobalMaxPool (opset 1..21): max over all spatial axes, which are kept as 1. */
export const GlobalMaxPool: OpDef = {
  opType: 'GlobalMaxPool',
  domain: '',
  sinceVersion: 1,
  reference: globalPool('max'),
  inferTypes: globalPoolTypes,
};
