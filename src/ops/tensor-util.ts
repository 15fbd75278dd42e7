/**
 * Shared helpers for operator references and shape inference: ONNX multidirectional broadcasting (on concrete
 * shapes and on partially known `Dim` shapes), axis normalisation, row-major index maps, dtype-generic element
 * reads/writes (float16 decoded from raw bits, int64 kept as BigInt where exactness matters) and constant
 * folding of small all-constant inputs. Index maps are Int32Arrays of source offsets, one per output element;
 * -1 means "fill value" (Pad). They keep every data-movement op a plain gather, whatever the dtype.
 */
import { type DType, type TensorData, allocData, isFloatDType } from '../ir/dtype.js';
import { EdgecnnError, type ErrorCode } from '../ir/errors.js';
import type { Dim } from '../ir/graph.js';
import { type Tensor, makeTensor, sizeOf, stridesOf } from '../ir/tensor.js';
import type { OpContext, OpDef, ValueType } from './types.js';

/** An error naming the node and operator, for bad inputs or attributes met by a reference or inference. */
export function nodeError(ctx: OpContext, message: string, code: ErrorCode = 'bad-input'): EdgecnnError {
  const n = ctx.node;
  return new EdgecnnError(`node '${n.name}' (${n.opType}): ${message}`, code);
}

/** Input `i` of a reference call, or a named error when the (required) input is missing. */
export function requireInput(inputs: readonly (Tensor | undefined)[], i: number, ctx: OpContext): Tensor {
  const t = inputs[i];
  if (t === undefined) throw nodeError(ctx, `input ${i} is missing`);
  return t;
}

/** Map a possibly negative `axis` into [0, rank); throws a named error when out of range. */
export function normalizeAxis(axis: number, rank: number, ctx: OpContext, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw nodeError(ctx, `${what} ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalise a list of axes and reject duplicates. */
export function normalizeAxes(axes: readonly number[], rank: number, ctx: OpContext, what = 'axes'): number[] {
  const out = axes.map((a) => normalizeAxis(a, rank, ctx, what));
  if (new Set(out).size !== out.length) throw nodeError(ctx, `${what} [${axes.join(',')}] has duplicates`);
  return out;
}

/** Largest element count a reference output may have: index maps are Int32Arrays. */
export const MAX_TENSOR_ELEMS = 2 ** 31 - 1;

/**
 * Element count of an output shape, or a named error when a dimension is not a non-negative integer or the
 * tensor would be too large to allocate (a corrupt shape input must not end in a RangeError or an OOM).
 */
export function checkedSize(shape: readonly number[], ctx: OpContext, what = 'output'): number {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw nodeError(ctx, `${what} shape [${shape.join(',')}] has an invalid dimension ${d}`);
  }
  const n = sizeOf(shape);
  if (n > MAX_TENSOR_ELEMS)
    throw nodeError(ctx, `${what} shape [${shape.join(',')}] has ${n} elements, more than ${MAX_TENSOR_ELEMS}`);
  return n;
}

/** Multidirectional (numpy) broadcast of concrete shapes; throws a named error when incompatible. */
export function broadcastShapes(shapes: readonly (readonly number[])[], ctx: OpContext): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else {
        const list = shapes.map((x) => `[${x.join(',')}]`).join(' and ');
        throw nodeError(ctx, `shapes ${list} cannot be broadcast together (axis ${o})`);
      }
    }
  }
  checkedSize(out, ctx);
  return out;
}

/**
 * Broadcast of partially known shapes. Undefined when any rank is unknown. A dimension is known when all
 * non-1 candidates agree; a definite conflict between concrete sizes throws a named error.
 */
export function broadcastDims(shapes: readonly (readonly Dim[] | undefined)[], ctx: OpContext): Dim[] | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const ss = shapes as readonly (readonly Dim[])[];
  const rank = Math.max(0, ...ss.map((s) => s.length));
  const out: Dim[] = [];
  for (let o = 0; o < rank; o++) {
    const cands: Dim[] = [];
    for (const s of ss) {
      const i = o - (rank - s.length);
      if (i >= 0) cands.push(s[i]!);
    }
    const concrete = cands.filter((d): d is number => typeof d === 'number' && d !== 1);
    const distinct = [...new Set(concrete)];
    if (distinct.length > 1) {
      throw nodeError(ctx, `dimensions ${distinct.join(' and ')} cannot be broadcast together (axis ${o})`);
    }
    if (distinct.length === 1) out.push(distinct[0]!);
    else if (cands.every((d) => d === 1)) out.push(1);
    else {
      // Only 1s, symbols and unknowns: a single shared symbol (ignoring 1s) is the result.
      const rest = cands.filter((d) => d !== 1);
      const syms = new Set(rest);
      out.push(syms.size === 1 && typeof rest[0] === 'string' ? rest[0] : null);
    }
  }
  return out;
}

/**
 * For each element of `outShape` (row-major), the flat offset of the element of a tensor of `inShape` that
 * broadcasting maps to it. `inShape` must be broadcastable to `outShape`.
 */
export function broadcastOffsets(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  const rank = outShape.length;
  const inStrides = stridesOf(inShape);
  // Strides aligned to the output rank, 0 where the input dimension is broadcast.
  const st = new Array<number>(rank).fill(0);
  for (let i = 0; i < inShape.length; i++) {
    const o = rank - inShape.length + i;
    st[o] = inShape[i] === 1 ? 0 : inStrides[i]!;
  }
  return offsetsFromStrides(outShape, st, 0);
}

/** Offsets `base + sum(idx[i] * strides[i])` for every index of `shape` in row-major order. */
export function offsetsFromStrides(shape: readonly number[], strides: readonly number[], base: number): Int32Array {
  const n = sizeOf(shape);
  const out = new Int32Array(n);
  if (n === 0) return out;
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let off = base;
  for (let k = 0; k < n; k++) {
    out[k] = off;
    // Odometer increment: carry from the last axis, undoing the offset of the axes that wrap.
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]!++;
      off += strides[a]!;
      if (idx[a]! < shape[a]!) break;
      off -= strides[a]! * shape[a]!;
      idx[a] = 0;
    }
  }
  return out;
}

/**
 * Offsets for an output of `outShape` whose coordinate on axis a comes from `maps[a][outCoord]` in a tensor of
 * `inShape`; a -1 in any map marks the element as fill. Slice, Tile, Pad and Expand are each one such map.
 */
export function offsetsFromAxisMaps(
  outShape: readonly number[],
  inShape: readonly number[],
  maps: readonly Int32Array[],
): Int32Array {
  const st = stridesOf(inShape);
  const out = new Int32Array(sizeOf(outShape));
  forEachIndex(outShape, (idx, k) => {
    let off = 0;
    for (let a = 0; a < idx.length; a++) {
      const c = maps[a]![idx[a]!]!;
      if (c < 0) {
        off = -1;
        break;
      }
      off += c * st[a]!;
    }
    out[k] = off;
  });
  return out;
}

/** Call `fn` with every multi-index of `shape` in row-major order (the array is reused between calls). */
export function forEachIndex(shape: readonly number[], fn: (idx: readonly number[], flat: number) => void): void {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    fn(idx, k);
    for (let a = shape.length - 1; a >= 0; a--) {
      if (++idx[a]! < shape[a]!) break;
      idx[a] = 0;
    }
  }
}

/**
 * A tensor of `shape` whose element k is `t`'s element `offsets[k]`, or `fill` where the offset is -1.
 * Works for every dtype, so data movement never converts values.
 */
export function gatherByOffsets(
  t: Tensor,
  shape: readonly number[],
  offsets: Int32Array,
  fill?: number | bigint | string,
): Tensor {
  const out = allocData(t.dtype, offsets.length);
  if (t.data instanceof Float32Array && fill === undefined) {
    // The common case gets a monomorphic loop; the generic one below serves every dtype.
    const s32 = t.data;
    const d32 = out as Float32Array;
    for (let k = 0; k < offsets.length; k++) d32[k] = s32[offsets[k]!]!;
    return makeTensor(t.dtype, shape, out);
  }
  const src = t.data as ArrayLike<unknown>;
  const dst = out as unknown as unknown[];
  for (let k = 0; k < offsets.length; k++) {
    const o = offsets[k]!;
    dst[k] = o >= 0 ? src[o] : fill;
  }
  return makeTensor(t.dtype, shape, out);
}

/** Copy `n` elements between arrays of the same dtype. */
export function copyElems(dst: TensorData, dstOff: number, src: TensorData, srcOff: number, n: number): void {
  const d = dst as unknown as unknown[];
  const s = src as ArrayLike<unknown>;
  for (let i = 0; i < n; i++) d[dstOff + i] = s[srcOff + i];
}

/** True for dtypes held in BigInt arrays. */
export function isBigIntDType(d: DType): boolean {
  return d === 'int64' || d === 'uint64';
}

/** Numeric dtypes (everything but string and bool). */
export function isNumericDType(d: DType): boolean {
  return d !== 'string' && d !== 'bool';
}

/** Signed numeric dtypes (floats and signed integers). */
export function isSignedDType(d: DType): boolean {
  return isFloatDType(d) || d === 'int8' || d === 'int16' || d === 'int32' || d === 'int64';
}

/** Decode IEEE-754 binary16 bits. */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m !== 0 ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Round half to even, the rounding ONNX's quantization ops (and float16 encoding) use. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Encode a number as binary16 bits, rounding to nearest even (overflow gives infinity). */
export function numberToFloat16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // 65520 is the midpoint between 65504 (max) and 2^16: rounds to inf
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24); // subnormal; 1024 carries into the exponent
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

/** Element values as doubles: float16 decoded, bool 0/1, int64 via Number (exact below 2^53). */
export function readNumbers(t: Tensor): Float64Array {
  const n = t.data.length;
  const out = new Float64Array(n);
  if (t.dtype === 'string') throw new EdgecnnError('string tensors have no numeric value', 'bad-input');
  if (t.dtype === 'float16') {
    const d = t.data as Uint16Array;
    for (let i = 0; i < n; i++) out[i] = float16BitsToNumber(d[i]!);
  } else {
    const d = t.data as ArrayLike<number | bigint>;
    for (let i = 0; i < n; i++) out[i] = Number(d[i]!);
  }
  return out;
}

/** Convert a double to a BigInt the way a C cast would (truncate); NaN and infinities become 0. */
export function toBigIntTrunc(v: number, dtype: 'int64' | 'uint64'): bigint {
  if (!Number.isFinite(v)) return 0n;
  const b = BigInt(Math.trunc(v));
  return dtype === 'int64' ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b);
}

/**
 * A tensor of `dtype` from doubles: float16 encoded, bool as v != 0, integers truncated toward zero and
 * wrapped (typed-array store semantics, like a C cast for in-range values).
 */
export function fromNumbers(dtype: DType, shape: readonly number[], values: ArrayLike<number>): Tensor {
  const n = values.length;
  const out = allocData(dtype, n);
  switch (dtype) {
    case 'string':
      throw new EdgecnnError('cannot build a string tensor from numbers', 'bad-input');
    case 'float16': {
      const o = out as Uint16Array;
      for (let i = 0; i < n; i++) o[i] = numberToFloat16Bits(values[i]!);
      break;
    }
    case 'bool': {
      const o = out as Uint8Array;
      for (let i = 0; i < n; i++) o[i] = values[i]! !== 0 ? 1 : 0;
      break;
    }
    case 'int64':
    case 'uint64': {
      const o = out as BigInt64Array | BigUint64Array;
      for (let i = 0; i < n; i++) o[i] = toBigIntTrunc(values[i]!, dtype);
      break;
    }
    default: {
      const o = out as Exclude<TensorData, string[] | BigInt64Array | BigUint64Array>;
      for (let i = 0; i < n; i++) o[i] = values[i]!;
    }
  }
  return makeTensor(dtype, shape, out);
}

/** Integer list from a 1-D (or scalar) integer tensor, e.g. a shape, axes or pads input. */
export function readInts(t: Tensor, ctx: OpContext, what: string): number[] {
  if (t.dtype !== 'int64' && t.dtype !== 'int32') {
    throw nodeError(ctx, `${what} must be int64 or int32, got ${t.dtype}`);
  }
  if (t.shape.length > 1) throw nodeError(ctx, `${what} must be 1-D, got shape [${t.shape.join(',')}]`);
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** The single value of a scalar (or one-element) tensor as a double. */
export function readScalar(t: Tensor, ctx: OpContext, what: string): number {
  if (t.data.length !== 1) throw nodeError(ctx, `${what} must have one element, got shape [${t.shape.join(',')}]`);
  return readNumbers(t)[0]!;
}

/** Shape of a value when every dimension is a concrete number. */
export function knownShape(v: ValueType | undefined): number[] | undefined {
  const s = v?.shape;
  if (s === undefined || !s.every((d) => typeof d === 'number')) return undefined;
  return s as number[];
}

/** Product of dims, or null when any is not a concrete number. */
export function dimProduct(dims: readonly Dim[]): number | null {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return null;
    p *= d;
  }
  return p;
}

/** Constant folding happens only when every constant input and every output has at most this many elements. */
export const FOLD_LIMIT_ELEMS = 4096;

/**
 * Outputs of `reference` when every present input of the node has a known, small constant `value`, else
 * undefined. Omitted optional inputs are told by the node's input name being '' or missing, never by an
 * undefined ValueType (which may just mean "unknown").
 */
export function foldConstant(
  reference: (inputs: readonly (Tensor | undefined)[], ctx: OpContext) => Tensor[],
  inputs: readonly (ValueType | undefined)[],
  ctx: OpContext,
): Tensor[] | undefined {
  const names = ctx.node.inputs;
  const vals: (Tensor | undefined)[] = [];
  for (let i = 0; i < names.length; i++) {
    if (names[i] === '') {
      vals.push(undefined);
      continue;
    }
    const v = inputs[i]?.value;
    if (v === undefined || v.data.length > FOLD_LIMIT_ELEMS) return undefined;
    vals.push(v);
  }
  const outs = reference(vals, ctx);
  if (outs.some((t) => t.data.length > FOLD_LIMIT_ELEMS)) return undefined;
  return outs;
}

/** The ValueType of a known tensor. */
export function typeOfTensor(t: Tensor): ValueType {
  return { dtype: t.dtype, shape: [...t.shape], value: t };
}

/** True when the node input at `i` is present (named and not ''). */
export function hasInput(ctx: OpContext, i: number): boolean {
  const n = ctx.node.inputs[i];
  return n !== undefined && n !== '';
}

/**
 * An op record whose inferTypes first tries constant folding (see foldConstant) and otherwise falls back to
 * the shape-only inference given. Keeps each op's own inference free of folding logic.
 */
export function withFolding(def: OpDef): OpDef {
  const shapeOnly = def.inferTypes;
  return {
    ...def,
    inferTypes(inputs, ctx) {
      const types = shapeOnly(inputs, ctx);
      // Shapes first, so that a small constant never expands into a huge one only to be thrown away
      // (ConstantOfShape holding a weight, Expand, Tile, Range).
      const tooBig = types.some((t) => {
        const s = t.shape;
        return s !== undefined && s.every((d) => typeof d === 'number') && sizeOf(s as number[]) > FOLD_LIMIT_ELEMS;
      });
      if (tooBig) return types;
      const folded = foldConstant(def.reference, inputs, ctx);
      return folded !== undefined ? folded.map(typeOfTensor) : types;
    },
  };
}
