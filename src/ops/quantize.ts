/**
 * Linear quantization references, with real = scale * (q - zeroPoint). QuantizeLinear computes
 * q = saturate(roundHalfEven(x / scale) + zeroPoint) with the division in float32 as onnxruntime does;
 * DequantizeLinear the inverse. Parameters are per-tensor (scalar or one element) or per-axis (1-D along `axis`).
 * The integer products (ConvInteger, MatMulInteger, QLinearConv, QLinearMatMul) shift inputs by their zero points
 * and reuse the float accumulators of conv.ts/matmul.ts, which are exact for these integer ranges; QLinear* then
 * requantize with the float32 multiplier x_scale * w_scale / y_scale. Blocked quantization (opset 21) is rejected.
 */
import type { DType } from '../ir/dtype.js';
import { attrInt } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { convAccumulate, convGeometry, convMacs, convOutputShape } from './conv.js';
import { matmulAccumulate, matmulMacs, matmulPlan, matmulShape } from './matmul.js';
import {
  fmtShape,
  nodeError,
  normalizeAxis,
  numbersOf,
  requireInput,
  roundHalfEven,
  tensorFromNumbers,
  unsupported,
  valueType,
} from './nn-util.js';
import type { OpContext, OpDef, ValueType } from './types.js';

/** Integer ranges of the quantized types edgecnn handles. */
const QRANGE: Partial<Record<DType, [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
};

/** ONNX TensorProto codes accepted by QuantizeLinear-21's output_dtype. */
const OUTPUT_DTYPE_CODES: Record<number, DType> = { 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16' };

function requireQType(t: Tensor, what: string, allowed: readonly DType[], ctx: OpContext): void {
  if (!allowed.includes(t.dtype)) throw nodeError(ctx, `${what} must be ${allowed.join('/')}, got ${t.dtype}`);
}

/**
 * Expand a per-tensor or per-axis parameter to one value per index of `axisLen` (axis -1 = per-tensor only).
 * Missing parameters take `dflt`.
 */
function paramValues(t: Tensor | undefined, axisLen: number, dflt: number, what: string, ctx: OpContext): Float64Array {
  const out = new Float64Array(axisLen).fill(dflt);
  if (t === undefined) return out;
  const v = numbersOf(t);
  if (v.length === 1 && t.shape.length <= 1) return out.fill(v[0]!);
  if (t.shape.length === 1 && v.length === axisLen) return v;
  throw nodeError(ctx, `${what} ${fmtShape(t.shape as number[])} must be a scalar or 1-D of length ${axisLen}`);
}

/** Quantization axis and its length for x, or per-tensor (length 1) when scale has one element. */
function quantAxis(x: Tensor, scale: Tensor, ctx: OpContext): { axis: number; len: number; inner: number } {
  if (ctx.opset >= 21 && attrInt(ctx.node, 'block_size', 0) !== 0) {
    throw unsupported(ctx, 'blocked quantization (block_size > 0) is not supported');
  }
  if (scale.shape.length > 1)
    throw unsupported(
      ctx,
      `scale ${fmtShape(scale.shape as number[])} of rank > 1 (blocked quantization) is not supported`,
    );
  if (scale.data.length === 1) return { axis: -1, len: 1, inner: 1 };
  if (ctx.opset < 13) throw nodeError(ctx, 'per-axis scales need opset 13 or later');
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', 1), x.shape.length, ctx);
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  return { axis, len: x.shape[axis]!, inner };
}

function quantizeOutputDType(inputs: readonly (ValueType | Tensor | undefined)[], ctx: OpContext): DType {
  const zp = inputs[2];
  if (zp?.dtype !== undefined) return zp.dtype;
  const code = ctx.opset >= 21 ? attrInt(ctx.node, 'output_dtype', 0) : 0;
  if (code === 0) return 'uint8';
  const d = OUTPUT_DTYPE_CODES[code];
  if (d === undefined) throw unsupported(ctx, `output_dtype ${code} is not supported (uint8/int8/uint16/int16 are)`);
  return d;
}

function quantizeLinear(inputs: readonly (Tensor | undefined)[], ctx: OpContext): Tensor[] {
  const x = requireInput(inputs, 0, 'x', ctx);
  const scale = requireInput(inputs, 1, 'y_scale', ctx);
  const zp = inputs[2];
  requireQType(x, 'x', ['float32', 'float16', 'float64', 'int32'], ctx);
  const outType = quantizeOutputDType(inputs, ctx);
  const range = QRANGE[outType];
  if (range === undefined || outType === 'int32') throw unsupported(ctx, `quantizing to ${outType} is not supported`);
  const { len, inner } = quantAxis(x, scale, ctx);
  const s = paramValues(scale, len, 1, 'y_scale', ctx);
  const z = paramValues(zp, len, 0, 'y_zero_point', ctx);
  const xv = numbersOf(x);
  const q = new Float64Array(xv.length);
  for (let i = 0; i < xv.length; i++) {
    const a = Math.floor(i / inner) % len;
    // float32 division first: rounding ties must be decided on the float32 quotient, as onnxruntime does.
    const v = roundHalfEven(Math.fround(xv[i]! / s[a]!)) + z[a]!;
    q[i] = Math.min(range[1], Math.max(range[0], v));
  }
  return [tensorFromNumbers(outType, x.shape, q)];
}

/** ONNX QuantizeLinear, opsets 10..21 (per-tensor, per-axis from 13; uint8/int8, 16-bit in 21; no blocks). */
export const QuantizeLinear: OpDef = {
  opType: 'QuantizeLinear',
  domain: '',
  sinceVersion: 10,
  reference: quantizeLinear,
  inferTypes(inputs, ctx) {
    const t: ValueType = {};
    try {
      t.dtype = quantizeOutputDType(inputs, ctx);
    } catch {
      // left unknown; the reference reports the unsupported output_dtype
    }
    if (inputs[0]?.shape !== undefined) t.shape = [...inputs[0].shape];
    return [t];
  },
};

function dequantizeLinear(inputs: readonly (Tensor | undefined)[], ctx: OpContext): Tensor[] {
  const x = requireInput(inputs, 0, 'x', ctx);
  const scale = requireInput(inputs, 1, 'x_scale', ctx);
  const zp = inputs[2];
  requireQType(x, 'x', ['uint8', 'int8', 'uint16', 'int16', 'int32'], ctx);
  requireQType(scale, 'x_scale', ['float32', 'float16', 'float64'], ctx);
  if (zp !== undefined && zp.dtype !== x.dtype) throw nodeError(ctx, `x_zero_point is ${zp.dtype} but x is ${x.dtype}`);
  const { len, inner } = quantAxis(x, scale, ctx);
  const s = paramValues(scale, len, 1, 'x_scale', ctx);
  const z = paramValues(zp, len, 0, 'x_zero_point', ctx);
  if (x.dtype === 'int32' && z.some((v) => v !== 0)) throw nodeError(ctx, 'x_zero_point must be 0 for int32 x');
  const xv = numbersOf(x);
  const y = new Float64Array(xv.length);
  for (let i = 0; i < xv.length; i++) {
    const a = Math.floor(i / inner) % len;
    y[i] = (xv[i]! - z[a]!) * s[a]!;
  }
  return [tensorFromNumbers(scale.dtype, x.shape, y)];
}

/** ONNX DequantizeLinear, opsets 10..21 (per-tensor, per-axis from 13; no blocks). Output has the scale's dtype. */
export const DequantizeLinear: OpDef = {
  opType: 'DequantizeLinear',
  domain: '',
  sinceVersion: 10,
  reference: dequantizeLinear,
  inferTypes(inputs) {
    const t: ValueType = { dtype: inputs[1]?.dtype ?? 'float32' };
    if (inputs[0]?.shape !== undefined) t.shape = [...inputs[0].shape];
    return [t];
  },
};

const Q8: readonly DType[] = ['uint8', 'int8'];

/** x - zp for a per-tensor zero point. */
function shifted(t: Tensor, zp: Tensor | undefined, what: string, ctx: OpContext): Float64Array {
  const z = paramValues(zp, 1, 0, what, ctx)[0]!;
  if (zp !== undefined && zp.dtype !== t.dtype)
    throw nodeError(ctx, `${what} is ${zp.dtype} but its tensor is ${t.dtype}`);
  const v = numbersOf(t);
  for (let i = 0; i < v.length; i++) v[i] -= z;
  return v;
}

/** Conv weights minus a per-tensor or per-output-channel zero point. */
function shiftedWeights(w: Tensor, zp: Tensor | undefined, what: string, ctx: OpContext): Float64Array {
  const M = w.shape[0]!;
  if (zp !== undefined && zp.dtype !== w.dtype) throw nodeError(ctx, `${what} is ${zp.dtype} but w is ${w.dtype}`);
  const z = paramValues(zp, M, 0, what, ctx);
  const v = numbersOf(w);
  const per = v.length / M;
  for (let i = 0; i < v.length; i++) v[i] -= z[Math.floor(i / per)]!;
  return v;
}

function convIntegerTypes(
  inputs: readonly (ValueType | undefined)[],
  ctx: OpContext,
  dtype: DType | undefined,
): ValueType[] {
  return [
    valueType(dtype, convOutputShape(inputs[0]?.shape, inputs[ctx.node.opType === 'QLinearConv' ? 3 : 1]?.shape, ctx)),
  ];
}

/** ONNX ConvInteger, opsets 10..21: int32 sums of (x - x_zero_point) * (w - w_zero_point). */
export const ConvInteger: OpDef = {
  opType: 'ConvInteger',
  domain: '',
  sinceVersion: 10,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, 'x', ctx);
    const w = requireInput(inputs, 1, 'w', ctx);
    requireQType(x, 'x', Q8, ctx);
    requireQType(w, 'w', Q8, ctx);
    const g = convGeometry(x.shape, w.shape, ctx);
    const y = convAccumulate(
      shifted(x, inputs[2], 'x_zero_point', ctx),
      shiftedWeights(w, inputs[3], 'w_zero_point', ctx),
      g,
    );
    return [tensorFromNumbers('int32', [g.batch, g.outChannels, ...g.outSpatial], y)];
  },
  inferTypes: (inputs, ctx) => convIntegerTypes(inputs, ctx, 'int32'),
  macs: (inputs, outputs) => convMacs(inputs, outputs, 1),
};

/** Saturating requantization of int32 sums: q = clamp(roundHalfEven(acc * multiplier) + zp). */
function requantize(
  acc: Float64Array,
  multiplier: (i: number) => number,
  zp: number,
  dtype: DType,
  ctx: OpContext,
): Float64Array {
  const range = QRANGE[dtype];
  if (range === undefined) throw nodeError(ctx, `output type ${dtype} is not a quantized type`);
  const q = new Float64Array(acc.length);
  for (let i = 0; i < acc.length; i++) {
    const v = roundHalfEven(Math.fround(acc[i]! * multiplier(i))) + zp;
    q[i] = Math.min(range[1], Math.max(range[0], v));
  }
  return q;
}

/** The float32 multiplier x_scale * w_scale / y_scale, rounded as a float32 kernel computes it. */
function multiplierOf(xs: number, ws: number, ys: number): number {
  return Math.fround(Math.fround(xs * ws) / ys);
}

function qlinearConv(inputs: readonly (Tensor | undefined)[], ctx: OpContext): Tensor[] {
  const x = requireInput(inputs, 0, 'x', ctx);
  const xScale = requireInput(inputs, 1, 'x_scale', ctx);
  const w = requireInput(inputs, 3, 'w', ctx);
  const wScale = requireInput(inputs, 4, 'w_scale', ctx);
  const yScale = requireInput(inputs, 6, 'y_scale', ctx);
  const yZp = inputs[7];
  const bias = inputs[8];
  requireQType(x, 'x', Q8, ctx);
  requireQType(w, 'w', Q8, ctx);
  const outType = yZp?.dtype ?? x.dtype;
  if (!Q8.includes(outType)) throw nodeError(ctx, `y_zero_point must be uint8/int8, got ${outType}`);
  const g = convGeometry(x.shape, w.shape, ctx);
  const acc = convAccumulate(
    shifted(x, inputs[2], 'x_zero_point', ctx),
    shiftedWeights(w, inputs[5], 'w_zero_point', ctx),
    g,
  );
  const M = g.outChannels;
  const plane = acc.length / (g.batch * M);
  if (bias !== undefined) {
    if (bias.dtype !== 'int32') throw nodeError(ctx, `B must be int32, got ${bias.dtype}`);
    const bv = paramValues(bias, M, 0, 'B', ctx);
    for (let i = 0; i < acc.length; i++) acc[i] += bv[Math.floor(i / plane) % M]!;
  }
  const xs = paramValues(xScale, 1, 1, 'x_scale', ctx)[0]!;
  const ws = paramValues(wScale, M, 1, 'w_scale', ctx);
  const ys = paramValues(yScale, 1, 1, 'y_scale', ctx)[0]!;
  const yz = paramValues(yZp, 1, 0, 'y_zero_point', ctx)[0]!;
  const mult = Array.from(ws, (s) => multiplierOf(xs, s, ys));
  const q = requantize(acc, (i) => mult[Math.floor(i / plane) % M]!, yz, outType, ctx);
  return [tensorFromNumbers(outType, [g.batch, M, ...g.outSpatial], q)];
}

/** ONNX QLinearConv, opsets 10..21 (per-tensor or per-output-channel weight scale/zero point, int32 bias). */
export const QLinearConv: OpDef = {
  opType: 'QLinearConv',
  domain: '',
  sinceVersion: 10,
  reference: qlinearConv,
  inferTypes: (inputs, ctx) => convIntegerTypes(inputs, ctx, inputs[7]?.dtype ?? inputs[0]?.dtype),
  macs: (inputs, outputs) => convMacs(inputs, outputs, 3),
};

/** A minus a per-tensor or per-row zero point (rows are A's second-to-last axis). */
function shiftedRows(a: Tensor, zp: Tensor | undefined, what: string, ctx: OpContext): Float64Array {
  if (zp !== undefined && zp.dtype !== a.dtype) throw nodeError(ctx, `${what} is ${zp.dtype} but A is ${a.dtype}`);
  const K = a.shape[a.shape.length - 1]!;
  const M = a.shape.length >= 2 ? a.shape[a.shape.length - 2]! : 1;
  const z = paramValues(zp, M, 0, what, ctx);
  const v = numbersOf(a);
  for (let i = 0; i < v.length; i++) v[i] -= z[Math.floor(i / K) % M]!;
  return v;
}

/** B minus a per-tensor or per-column zero point (columns are B's last axis). */
function shiftedCols(b: Tensor, zp: Tensor | undefined, what: string, ctx: OpContext): Float64Array {
  if (zp !== undefined && zp.dtype !== b.dtype) throw nodeError(ctx, `${what} is ${zp.dtype} but B is ${b.dtype}`);
  const N = b.shape.length >= 2 ? b.shape[b.shape.length - 1]! : 1;
  const z = paramValues(zp, N, 0, what, ctx);
  const v = numbersOf(b);
  for (let i = 0; i < v.length; i++) v[i] -= z[i % N]!;
  return v;
}

function matmulTypes(
  inputs: readonly (ValueType | undefined)[],
  a: number,
  b: number,
  dtype: DType | undefined,
): ValueType[] {
  return [valueType(dtype, matmulShape(inputs[a]?.shape, inputs[b]?.shape))];
}

/** ONNX MatMulInteger, opsets 10..21: int32 numpy.matmul of (A - a_zero_point) and (B - b_zero_point). */
export const MatMulInteger: OpDef = {
  opType: 'MatMulInteger',
  domain: '',
  sinceVersion: 10,
  reference(inputs, ctx) {
    const a = requireInput(inputs, 0, 'A', ctx);
    const b = requireInput(inputs, 1, 'B', ctx);
    requireQType(a, 'A', Q8, ctx);
    requireQType(b, 'B', Q8, ctx);
    const plan = matmulPlan(a.shape, b.shape, ctx);
    const y = matmulAccumulate(
      shiftedRows(a, inputs[2], 'a_zero_point', ctx),
      shiftedCols(b, inputs[3], 'b_zero_point', ctx),
      plan,
    );
    return [tensorFromNumbers('int32', plan.outShape, y)];
  },
  inferTypes: (inputs) => matmulTypes(inputs, 0, 1, 'int32'),
  macs: matmulMacs,
};

/** ONNX QLinearMatMul, opsets 10..21 (per-tensor; per-row a and per-column b parameters also accepted). */
export const QLinearMatMul: OpDef = {
  opType: 'QLinearMatMul',
  domain: '',
  sinceVersion: 10,
  reference(inputs, ctx) {
    const a = requireInput(inputs, 0, 'a', ctx);
    const aScale = requireInput(inputs, 1, 'a_scale', ctx);
    const b = requireInput(inputs, 3, 'b', ctx);
    const bScale = requireInput(inputs, 4, 'b_scale', ctx);
    const yScale = requireInput(inputs, 6, 'y_scale', ctx);
    const yZp = inputs[7];
    requireQType(a, 'a', Q8, ctx);
    requireQType(b, 'b', Q8, ctx);
    const outType = yZp?.dtype ?? a.dtype;
    const plan = matmulPlan(a.shape, b.shape, ctx);
    const acc = matmulAccumulate(
      shiftedRows(a, inputs[2], 'a_zero_point', ctx),
      shiftedCols(b, inputs[5], 'b_zero_point', ctx),
      plan,
    );
    const as = paramValues(aScale, plan.M, 1, 'a_scale', ctx);
    const bs = paramValues(bScale, plan.N, 1, 'b_scale', ctx);
    const ys = paramValues(yScale, 1, 1, 'y_scale', ctx)[0]!;
    const yz = paramValues(yZp, 1, 0, 'y_zero_point', ctx)[0]!;
    const { M, N } = plan;
    const q = requantize(acc, (i) => multiplierOf(as[Math.floor(i / N) % M]!, bs[i % N]!, ys), yz, outType, ctx);
    return [tensorFromNumbers(outType, plan.outShape, q)];
  },
  inferTypes: (inputs) => matmulTypes(inputs, 0, 3, inputs[7]?.dtype ?? inputs[0]?.dtype),
  macs(inputs, outputs) {
    return matmulMacs([inputs[0], inputs[3]], outputs);
  },
};
