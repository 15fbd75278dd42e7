/**
 * Helpers shared by the neural-network reference ops: named errors, float element access (float16 held as raw
 * bits is widened to JS numbers and rounded back to nearest-even on store), and the spatial-window arithmetic
 * (strides, dilations, pads, auto_pad, ceil_mode) that Conv, ConvTranspose and the pools have in common.
 * Shape arithmetic works on `Dim` so that shape inference leaves an unknown dim null instead of throwing.
 */
import { type DType, type TensorData, allocData, isFloatDType } from '../ir/dtype.js';
import { EdgecnnError, type ErrorCode } from '../ir/errors.js';
import { type Dim, type Node, attrInts, attrString } from '../ir/graph.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';
import { float16BitsToNumber as halfToFloat } from './tensor-util.js';
import type { OpContext, ValueType } from './types.js';

// One float16 decoder and one round-half-even for the whole folder (tensor-util's); re-exported under the
// names the nn ops and their tests use.
export { float16BitsToNumber as halfToFloat, roundHalfEven } from './tensor-util.js';

/** An error naming the node and op, e.g. `Conv node 'conv1': X must have rank >= 3, got [1,2]`. */
export function nodeError(ctx: OpContext, message: string, code: ErrorCode = 'bad-input'): EdgecnnError {
  const n = ctx.node;
  return new EdgecnnError(`${n.opType} node '${n.name}' (opset ${ctx.opset}): ${message}`, code);
}

/** The error for an attribute value or op version edgecnn does not implement. */
export function unsupported(ctx: OpContext, message: string): EdgecnnError {
  return nodeError(ctx, message, 'unsupported-operator');
}

/** Input `i`, or a named error when the (required) input is omitted. */
export function requireInput(inputs: readonly (Tensor | undefined)[], i: number, what: string, ctx: OpContext): Tensor {
  const t = inputs[i];
  if (t === undefined) throw nodeError(ctx, `required input ${i} (${what}) is missing`);
  return t;
}

export function fmtShape(shape: readonly Dim[] | undefined): string {
  return shape === undefined ? '<unknown rank>' : `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

/** Throw unless `t` has a floating dtype (float32/float64/float16). */
export function requireFloat(t: Tensor, what: string, ctx: OpContext): void {
  if (!isFloatDType(t.dtype)) throw nodeError(ctx, `${what} must be float32/float64/float16, got ${t.dtype}`);
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** A number to IEEE half bits, round to nearest even (via float32, so ties of ties may round twice). */
export function floatToHalf(v: number): number {
  F32[0] = v;
  const x = U32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const q = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rem > mid || (rem === mid && (q & 1) === 1) ? q + 1 : q);
  }
  const r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | (rem > 0x1000 || (rem === 0x1000 && (r & 1) === 1) ? r + 1 : r);
}

/** Element values of a numeric tensor as doubles (float16 decoded, int64 converted). */
export function numbersOf(t: Tensor): Float64Array {
  const d = t.data;
  const out = new Float64Array(d.length);
  if (t.dtype === 'float16') {
    for (let i = 0; i < d.length; i++) out[i] = halfToFloat(d[i] as number);
  } else if (t.dtype === 'string') {
    throw new EdgecnnError('string tensor where a numeric one is needed', 'bad-input');
  } else {
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  }
  return out;
}

/** A tensor of `dtype` from double values: float16 encoded, integers truncated toward zero by the typed array. */
export function tensorFromNumbers(dtype: DType, shape: readonly number[], values: ArrayLike<number>): Tensor {
  const data: TensorData = allocData(dtype, values.length);
  if (dtype === 'float16') {
    for (let i = 0; i < values.length; i++) (data as Uint16Array)[i] = floatToHalf(values[i]!);
  } else if (dtype === 'int64' || dtype === 'uint64') {
    const a = data as BigInt64Array | BigUint64Array;
    for (let i = 0; i < values.length; i++) a[i] = BigInt(Math.trunc(values[i]!));
  } else if (dtype === 'string') {
    throw new EdgecnnError('cannot build a string tensor from numbers', 'internal');
  } else {
    const a = data as Exclude<TensorData, string[] | BigInt64Array | BigUint64Array>;
    for (let i = 0; i < values.length; i++) a[i] = values[i]!;
  }
  return makeTensor(dtype, shape, data);
}

/** Product of known dims, or null when any is unknown. */
export function knownSize(shape: readonly Dim[]): number | null {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return null;
    n *= d;
  }
  return n;
}

export const AUTO_PADS = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'] as const;
export type AutoPad = (typeof AUTO_PADS)[number];

/** The auto_pad attribute; '' (written by some old exporters) means NOTSET. */
export function readAutoPad(ctx: OpContext): AutoPad {
  const v = attrString(ctx.node, 'auto_pad', 'NOTSET');
  if (v === '') return 'NOTSET';
  if (!(AUTO_PADS as readonly string[]).includes(v))
    throw nodeError(ctx, `auto_pad '${v}' is not one of ${AUTO_PADS.join('/')}`);
  return v as AutoPad;
}

/** strides/dilations/pads attributes for `rank` spatial axes, validated. */
export interface WindowAttrs {
  autoPad: AutoPad;
  strides: number[];
  dilations: number[];
  /** Explicit pads [begin..., end...]; used only when autoPad is NOTSET. */
  pads: number[];
}

export function readWindowAttrs(ctx: OpContext, rank: number): WindowAttrs {
  const node: Node = ctx.node;
  const autoPad = readAutoPad(ctx);
  const strides = attrInts(node, 'strides', new Array<number>(rank).fill(1));
  const dilations = attrInts(node, 'dilations', new Array<number>(rank).fill(1));
  const pads = attrInts(node, 'pads', new Array<number>(2 * rank).fill(0));
  if (strides.length !== rank) throw nodeError(ctx, `strides has ${strides.length} values, expected ${rank}`);
  if (dilations.length !== rank) throw nodeError(ctx, `dilations has ${dilations.length} values, expected ${rank}`);
  if (pads.length !== 2 * rank) throw nodeError(ctx, `pads has ${pads.length} values, expected ${2 * rank}`);
  if (strides.some((s) => !(s >= 1))) throw nodeError(ctx, `strides must be >= 1, got [${strides.join(',')}]`);
  if (dilations.some((s) => !(s >= 1))) throw nodeError(ctx, `dilations must be >= 1, got [${dilations.join(',')}]`);
  if (pads.some((p) => !(p >= 0))) throw nodeError(ctx, `pads must be >= 0, got [${pads.join(',')}]`);
  return { autoPad, strides, dilations, pads };
}

/** One spatial axis of a sliding window: output length and the pad before/after it. */
export interface AxisWindow {
  out: number;
  padBegin: number;
  padEnd: number;
}

/**
 * Output length and pads of one axis for Conv and the pools. SAME_* gives ceil(in/stride) outputs and splits the
 * needed padding, the odd element at the end (UPPER) or the beginning (LOWER). With ceil_mode a last window
 * that would start inside the end padding is dropped (as onnxruntime and PyTorch do).
 */
export function windowAxis(
  inLen: number,
  kernel: number,
  stride: number,
  dilation: number,
  autoPad: AutoPad,
  padBegin: number,
  padEnd: number,
  ceilMode: boolean,
): AxisWindow {
  const span = (kernel - 1) * dilation + 1;
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const out = Math.ceil(inLen / stride);
    const total = Math.max(0, (out - 1) * stride + span - inLen);
    const small = Math.floor(total / 2);
    return autoPad === 'SAME_UPPER'
      ? { out, padBegin: small, padEnd: total - small }
      : { out, padBegin: total - small, padEnd: small };
  }
  if (autoPad === 'VALID') {
    padBegin = 0;
    padEnd = 0;
  }
  const room = inLen + padBegin + padEnd - span;
  let out = (ceilMode ? Math.ceil(room / stride) : Math.floor(room / stride)) + 1;
  if (ceilMode && out > 0 && (out - 1) * stride >= inLen + padBegin) out--;
  return { out: Math.max(out, 0), padBegin, padEnd };
}

/** The same as windowAxis over Dim: null when the input length is unknown. */
export function windowAxisDim(
  inLen: Dim,
  kernel: number,
  stride: number,
  dilation: number,
  autoPad: AutoPad,
  padBegin: number,
  padEnd: number,
  ceilMode: boolean,
): Dim {
  if (typeof inLen !== 'number') return null;
  return windowAxis(inLen, kernel, stride, dilation, autoPad, padBegin, padEnd, ceilMode).out;
}

/** `windowAxis` for spatial axis `i` (of `a.strides.length`) under the node's window attributes `a`. */
export function windowAxisOf(a: WindowAttrs, i: number, inLen: number, kernel: number, ceilMode: boolean): AxisWindow {
  const r = a.strides.length;
  return windowAxis(inLen, kernel, a.strides[i]!, a.dilations[i]!, a.autoPad, a.pads[i]!, a.pads[r + i]!, ceilMode);
}

/** `windowAxisDim` for spatial axis `i` under `a`: null when the input length is unknown. */
export function windowAxisDimOf(a: WindowAttrs, i: number, inLen: Dim, kernel: number, ceilMode: boolean): Dim {
  return typeof inLen === 'number' ? windowAxisOf(a, i, inLen, kernel, ceilMode).out : null;
}

export type Triple = [number, number, number];

/** Pad a 1..3-axis spatial list to exactly three with leading `fill`s (1 for sizes, 0 for pads). */
export function to3(values: readonly number[], fill: number): Triple {
  const v = [...new Array<number>(3 - values.length).fill(fill), ...values];
  return [v[0]!, v[1]!, v[2]!];
}

/**
 * The spatial part of a window op (Conv, ConvTranspose, the pools) with its axes padded to exactly three
 * (leading unit axes for 1-D/2-D), so one 3-D loop nest serves every rank.
 */
export interface Window3 {
  inSize: Triple;
  kernel: Triple;
  outSize: Triple;
  strides: Triple;
  dilations: Triple;
  /** Pads before each axis; pads after need no storage because out-of-range taps are skipped. */
  padBegin: Triple;
}

/** Build a Window3 from per-axis lists of the node's own rank. */
export function window3(
  inSpatial: readonly number[],
  kernel: readonly number[],
  outSpatial: readonly number[],
  a: WindowAttrs,
  padBegin: readonly number[],
): Window3 {
  return {
    inSize: to3(inSpatial, 1),
    kernel: to3(kernel, 1),
    outSize: to3(outSpatial, 1),
    strides: to3(a.strides, 1),
    dilations: to3(a.dilations, 1),
    padBegin: to3(padBegin, 0),
  };
}

/** The first input's dtype and a shape, as the single output type. */
export function sameDType(inputs: readonly (ValueType | undefined)[], shape: Dim[] | undefined): ValueType[] {
  return [valueType(inputs[0]?.dtype, shape)];
}

/** A ValueType carrying only what is known (absent fields, never `undefined` ones). */
export function valueType(dtype: DType | undefined, shape: Dim[] | undefined): ValueType {
  const t: ValueType = {};
  if (dtype !== undefined) t.dtype = dtype;
  if (shape !== undefined) t.shape = shape;
  return t;
}

/** Resolve a possibly negative axis against `rank`, with a named error when out of range. */
export function normalizeAxis(axis: number, rank: number, ctx: OpContext, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!(a >= 0 && a < rank)) throw nodeError(ctx, `${what} ${axis} is out of range for rank ${rank}`);
  return a;
}
