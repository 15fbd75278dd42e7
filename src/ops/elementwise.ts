/**
 * Elementwise operators as tables: UNARY_ROWS, BINARY_ROWS and VARIADIC_ROWS hold one row per op (its scalar
 * function, attributes and accepted dtypes); one generic reference and inference per table turn a row into an
 * OpDef. Values are computed in doubles (float16 decoded, stored back rounded); int64/uint64 use a BigInt
 * function when the row has one so results stay exact. Broadcasting is ONNX multidirectional (numpy) except
 * PRelu, whose slope broadcasts one way to X's shape. Where is the only ternary op and lives here too.
 */
import { type DType, allocData, isFloatDType, isIntegerDType } from '../ir/dtype.js';
import { attrFloat } from '../ir/graph.js';
import { type Tensor, makeTensor, sizeOf } from '../ir/tensor.js';
import {
  broadcastDims,
  broadcastOffsets,
  broadcastShapes,
  fromNumbers,
  gatherByOffsets,
  isBigIntDType,
  isNumericDType,
  isSignedDType,
  nodeError,
  readNumbers,
  readScalar,
  requireInput,
  withFolding,
} from './tensor-util.js';
import type { OpContext, OpDef } from './types.js';

/** Which element types an op accepts (ONNX type constraints, widest version in 7..21). */
export const TYPE_CLASSES = ['float', 'signed', 'numeric', 'numeric-or-bool', 'any'] as const;
/** One of TYPE_CLASSES. */
export type TypeClass = (typeof TYPE_CLASSES)[number];

function accepts(cls: TypeClass, d: DType): boolean {
  switch (cls) {
    case 'float':
      return isFloatDType(d);
    case 'signed':
      return isSignedDType(d);
    case 'numeric':
      return isNumericDType(d);
    case 'numeric-or-bool':
      return d !== 'string';
    case 'any':
      return true;
  }
}

function checkType(cls: TypeClass, t: Tensor, ctx: OpContext, what = 'input'): void {
  if (!accepts(cls, t.dtype)) throw nodeError(ctx, `${what} has dtype ${t.dtype}, which this op does not accept`);
}

/** Scalar functions built once per call from the node's attributes and extra scalar inputs. */
type Extra = readonly (Tensor | undefined)[];
type NumFn = (x: number) => number;
type BigFn = (x: bigint) => bigint;

/** A unary op: its scalar function, built once per call from attributes and extra scalar inputs (Clip). */
export interface UnaryRow {
  opType: string;
  sinceVersion: number;
  types: TypeClass;
  num(ctx: OpContext, extra: Extra): NumFn;
  /** Exact int64/uint64 version; without it int64 goes through doubles (exact below 2^53). */
  big?(ctx: OpContext, extra: Extra): BigFn;
}

const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;
const FLT_MAX = 3.4028234663852886e38;

/** erf in double precision: Maclaurin series below 2, Laplace continued fraction for erfc above. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  const s = x < 0 ? -1 : 1;
  if (a < 2) {
    let term = a;
    let sum = a;
    const x2 = a * a;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (s * 2 * sum) / Math.sqrt(Math.PI);
  }
  if (a > 6) return s;
  let t = a;
  for (let n = 60; n >= 1; n--) t = a + n / 2 / t;
  return s * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / t);
}

/** Clip bounds: attributes before opset 11, optional scalar inputs from 11 (absent means unbounded). */
function clipBounds(ctx: OpContext, extra: Extra): [number, number] {
  if (ctx.opset < 11) return [attrFloat(ctx.node, 'min', -FLT_MAX), attrFloat(ctx.node, 'max', FLT_MAX)];
  const lo = extra[0] === undefined ? -Infinity : readScalar(extra[0], ctx, 'min');
  const hi = extra[1] === undefined ? Infinity : readScalar(extra[1], ctx, 'max');
  return [lo, hi];
}

function clipBigBounds(ctx: OpContext, extra: Extra): [bigint | undefined, bigint | undefined] {
  const get = (t: Tensor | undefined, what: string): bigint | undefined => {
    if (t === undefined) return undefined;
    if (t.data.length !== 1) throw nodeError(ctx, `${what} must have one element`);
    return BigInt((t.data as BigInt64Array | BigUint64Array)[0]!);
  };
  return [get(extra[0], 'min'), get(extra[1], 'max')];
}

const unit = (f: NumFn) => (): NumFn => f;

/** One row per unary op; sorted by opType. */
export const UNARY_ROWS: readonly UnaryRow[] = [
  { opType: 'Abs', sinceVersion: 6, types: 'numeric', num: unit(Math.abs), big: () => (x) => (x < 0n ? -x : x) },
  { opType: 'Ceil', sinceVersion: 6, types: 'float', num: unit(Math.ceil) },
  {
    opType: 'Clip',
    sinceVersion: 6,
    types: 'numeric',
    num: (ctx, extra) => {
      const [lo, hi] = clipBounds(ctx, extra);
      return (x) => (Number.isNaN(x) ? x : Math.min(Math.max(x, lo), hi));
    },
    big: (ctx, extra) => {
      const [lo, hi] = clipBigBounds(ctx, extra);
      return (x) => {
        let y = lo !== undefined && x < lo ? lo : x;
        if (hi !== undefined && y > hi) y = hi;
        return y;
      };
    },
  },
  {
    opType: 'Elu',
    sinceVersion: 6,
    types: 'float',
    num: (ctx) => {
      const alpha = attrFloat(ctx.node, 'alpha', 1);
      return (x) => (x < 0 ? alpha * (Math.exp(x) - 1) : x);
    },
  },
  { opType: 'Erf', sinceVersion: 9, types: 'numeric', num: unit(erf) },
  { opType: 'Exp', sinceVersion: 6, types: 'float', num: unit(Math.exp) },
  { opType: 'Floor', sinceVersion: 6, types: 'float', num: unit(Math.floor) },
  {
    opType: 'HardSigmoid',
    sinceVersion: 6,
    types: 'float',
    num: (ctx) => {
      const alpha = attrFloat(ctx.node, 'alpha', 0.2);
      const beta = attrFloat(ctx.node, 'beta', 0.5);
      return (x) => Math.max(0, Math.min(1, alpha * x + beta));
    },
  },
  {
    opType: 'HardSwish',
    sinceVersion: 14,
    types: 'float',
    num: unit((x) => x * Math.max(0, Math.min(1, x / 6 + 0.5))),
  },
  {
    opType: 'LeakyRelu',
    sinceVersion: 6,
    types: 'float',
    num: (ctx) => {
      const alpha = attrFloat(ctx.node, 'alpha', 0.01);
      return (x) => (x < 0 ? alpha * x : x);
    },
  },
  { opType: 'Neg', sinceVersion: 6, types: 'signed', num: unit((x) => -x), big: () => (x) => -x },
  { opType: 'Reciprocal', sinceVersion: 6, types: 'float', num: unit((x) => 1 / x) },
  {
    opType: 'Relu',
    sinceVersion: 6,
    types: 'signed',
    num: unit((x) => (x < 0 ? 0 : x)),
    big: () => (x) => (x < 0n ? 0n : x),
  },
  {
    opType: 'Selu',
    sinceVersion: 6,
    types: 'float',
    num: (ctx) => {
      const alpha = attrFloat(ctx.node, 'alpha', SELU_ALPHA);
      const gamma = attrFloat(ctx.node, 'gamma', SELU_GAMMA);
      return (x) => (x > 0 ? gamma * x : gamma * (alpha * Math.exp(x) - alpha));
    },
  },
  { opType: 'Sigmoid', sinceVersion: 6, types: 'float', num: unit((x) => 1 / (1 + Math.exp(-x))) },
  {
    opType: 'Softplus',
    sinceVersion: 1,
    // log1p(exp(x)) overflows for large x where the answer is x itself.
    types: 'float',
    num: unit((x) => (x > 30 ? x : Math.log1p(Math.exp(x)))),
  },
  { opType: 'Sqrt', sinceVersion: 6, types: 'float', num: unit(Math.sqrt) },
  { opType: 'Tanh', sinceVersion: 6, types: 'float', num: unit(Math.tanh) },
];

/** Element values as numbers without a copy when the array already holds plain numbers. */
function numberView(t: Tensor): ArrayLike<number> {
  return t.dtype === 'float16' || isBigIntDType(t.dtype) ? readNumbers(t) : (t.data as ArrayLike<number>);
}

/** Where results go: the output array itself for plain-number dtypes, else doubles converted at the end. */
function numberSink(dtype: DType, n: number): Float64Array | Float32Array {
  const direct = dtype !== 'float16' && dtype !== 'bool' && !isBigIntDType(dtype);
  return direct ? (allocData(dtype, n) as Float32Array) : new Float64Array(n);
}

function finishSink(dtype: DType, shape: readonly number[], r: Float64Array | Float32Array): Tensor {
  return r instanceof Float64Array && dtype !== 'float64' ? fromNumbers(dtype, shape, r) : makeTensor(dtype, shape, r);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Apply `f` to each element, writing `dtype` (float16/int64/bool go through fromNumbers). */
function mapNumbers(x: Tensor, f: NumFn, dtype: DType = x.dtype): Tensor {
  const n = x.data.length;
  if (
    x.dtype === 'float16' ||
    isBigIntDType(x.dtype) ||
    dtype === 'float16' ||
    isBigIntDType(dtype) ||
    dtype === 'bool'
  ) {
    const v = readNumbers(x);
    for (let i = 0; i < n; i++) v[i] = f(v[i]!);
    return fromNumbers(dtype, x.shape, v);
  }
  const src = x.data as Float32Array;
  const out = allocData(dtype, n) as Float32Array;
  for (let i = 0; i < n; i++) out[i] = f(src[i]!);
  return makeTensor(dtype, x.shape, out);
}

function unaryOp(row: UnaryRow): OpDef {
  return withFolding({
    opType: row.opType,
    domain: '',
    sinceVersion: row.sinceVersion,
    reference(inputs, ctx) {
      const x = requireInput(inputs, 0, ctx);
      checkType(row.types, x, ctx);
      const extra = inputs.slice(1);
      for (const e of extra)
        if (e !== undefined && e.dtype !== x.dtype) {
          throw nodeError(ctx, `extra inputs must have the input's dtype ${x.dtype}, got ${e.dtype}`);
        }
      if (isBigIntDType(x.dtype) && row.big !== undefined) {
        const f = row.big(ctx, extra);
        const src = x.data as BigInt64Array;
        const out = allocData(x.dtype, src.length) as BigInt64Array;
        for (let i = 0; i < src.length; i++) out[i] = f(src[i]!);
        return [makeTensor(x.dtype, x.shape, out)];
      }
      return [mapNumbers(x, row.num(ctx, extra))];
    },
    inferTypes(inputs) {
      const x = inputs[0];
      return [{ dtype: x?.dtype, shape: x?.shape ? [...x.shape] : undefined }];
    },
  });
}

/** A binary op: its scalar function plus the dtype and broadcasting rules that differ between ops. */
export interface BinaryRow {
  opType: string;
  sinceVersion: number;
  types: TypeClass;
  num(a: number, b: number): number;
  big?(a: bigint, b: bigint): bigint;
  /** Replaces `num` for integer dtypes (truncating division, 32-bit wrapping multiply). */
  int?(a: number, b: number): number;
  /** String version (Equal from opset 19); rows without it reject string inputs. */
  str?(a: string, b: string): number;
  /** Output is bool (comparison); `num`/`big` return 1 or 0. */
  boolOut?: true;
  /** B may have another numeric dtype than A (Pow's exponent). */
  mixed?: true;
  /** B broadcasts to A's shape one way only (PRelu's slope). */
  unidirectional?: true;
  /** Rewrites B before broadcasting, for semantics of old opsets (PRelu-6 slope per channel). */
  adaptB?(a: Tensor, b: Tensor, ctx: OpContext): Tensor;
  /** Rejects B values the op cannot take (integer division by zero), with a named error. */
  checkB?(b: Tensor, ctx: OpContext): void;
}

/** One row per binary op; sorted by opType. */
export const BINARY_ROWS: readonly BinaryRow[] = [
  { opType: 'Add', sinceVersion: 7, types: 'numeric', num: (a, b) => a + b, big: (a, b) => a + b },
  {
    opType: 'Div',
    sinceVersion: 7,
    types: 'numeric',
    num: (a, b) => a / b,
    int: (a, b) => Math.trunc(a / b),
    big: (a, b) => a / b,
    checkB: (b, ctx) => {
      if (isIntegerDType(b.dtype) && readNumbers(b).includes(0)) {
        throw nodeError(ctx, 'integer division by zero (divisor B holds a 0)', 'numerical');
      }
    },
  },
  {
    opType: 'Equal',
    sinceVersion: 7,
    types: 'any',
    boolOut: true,
    str: (a, b) => (a === b ? 1 : 0),
    num: (a, b) => (a === b ? 1 : 0),
    big: (a, b) => (a === b ? 1n : 0n),
  },
  {
    opType: 'Mul',
    sinceVersion: 7,
    types: 'numeric',
    num: (a, b) => a * b,
    int: (a, b) => (Number.isSafeInteger(a * b) ? a * b : Math.imul(a, b)),
    big: (a, b) => a * b,
  },
  {
    opType: 'PRelu',
    sinceVersion: 7,
    types: 'signed',
    unidirectional: true,
    // Before opset 7 a 1-D slope of length C applied along axis 1 (the channel axis), not the last axis.
    adaptB: (x, s, ctx) =>
      ctx.opset < 7 && s.shape.length === 1 && x.shape.length > 2 && s.shape[0] === x.shape[1] && s.shape[0] !== 1
        ? makeTensor(s.dtype, [s.shape[0]!, ...new Array<number>(x.shape.length - 2).fill(1)], s.data)
        : s,
    num: (x, s) => (x < 0 ? s * x : x),
    big: (x, s) => (x < 0n ? s * x : x),
  },
  {
    opType: 'Pow',
    sinceVersion: 7,
    types: 'numeric',
    mixed: true,
    num: (a, b) => Math.pow(a, b),
    big: (a, b) => (b < 0n ? (a === 1n ? 1n : a === -1n ? (b % 2n === 0n ? 1n : -1n) : 0n) : a ** b),
  },
  { opType: 'Sub', sinceVersion: 7, types: 'numeric', num: (a, b) => a - b, big: (a, b) => a - b },
];

function binaryOp(row: BinaryRow): OpDef {
  return withFolding({
    opType: row.opType,
    domain: '',
    sinceVersion: row.sinceVersion,
    reference(inputs, ctx) {
      const a = requireInput(inputs, 0, ctx);
      const b0 = requireInput(inputs, 1, ctx);
      const b = row.adaptB ? row.adaptB(a, b0, ctx) : b0;
      row.checkB?.(b, ctx);
      checkType(row.types, a, ctx, 'input A');
      checkType(row.mixed ? 'numeric' : row.types, b, ctx, 'input B');
      if (!row.mixed && a.dtype !== b.dtype) {
        throw nodeError(ctx, `inputs have different dtypes ${a.dtype} and ${b.dtype}`);
      }
      const shape = broadcastShapes([a.shape, b.shape], ctx);
      if (row.unidirectional && shape.join(',') !== a.shape.join(',')) {
        throw nodeError(ctx, `slope [${b.shape.join(',')}] does not broadcast to X [${a.shape.join(',')}]`);
      }
      // Offsets only where broadcasting happens; same-shape operands index directly.
      const ia = sameShape(a.shape, shape) ? undefined : broadcastOffsets(a.shape, shape);
      const ib = sameShape(b.shape, shape) ? undefined : broadcastOffsets(b.shape, shape);
      const n = sizeOf(shape);
      const outDtype: DType = row.boolOut ? 'bool' : a.dtype;
      if (isBigIntDType(a.dtype) && isBigIntDType(b.dtype) && row.big !== undefined) {
        const da = a.data as BigInt64Array;
        const db = b.data as BigInt64Array;
        if (row.boolOut) {
          const out = new Uint8Array(n);
          for (let k = 0; k < n; k++) out[k] = row.big(da[ia ? ia[k]! : k]!, db[ib ? ib[k]! : k]!) !== 0n ? 1 : 0;
          return [makeTensor('bool', shape, out)];
        }
        const out = allocData(outDtype, n) as BigInt64Array;
        for (let k = 0; k < n; k++) out[k] = row.big(da[ia ? ia[k]! : k]!, db[ib ? ib[k]! : k]!);
        return [makeTensor(outDtype, shape, out)];
      }
      if (a.dtype === 'string' || b.dtype === 'string') {
        const str = row.str;
        if (str === undefined) throw nodeError(ctx, 'string inputs are not accepted');
        const da = a.data as string[];
        const db = b.data as string[];
        const r = new Float64Array(n);
        for (let k = 0; k < n; k++) r[k] = str(da[ia ? ia[k]! : k]!, db[ib ? ib[k]! : k]!);
        return [fromNumbers(outDtype, shape, r)];
      }
      const va = numberView(a);
      const vb = numberView(b);
      const f = row.int !== undefined && isIntegerDType(a.dtype) ? row.int : row.num;
      const r = numberSink(outDtype, n);
      if (ia === undefined && ib === undefined) {
        for (let k = 0; k < n; k++) r[k] = f(va[k]!, vb[k]!);
      } else if (ia === undefined && b.data.length === 1) {
        const y = vb[0]!;
        for (let k = 0; k < n; k++) r[k] = f(va[k]!, y);
      } else {
        for (let k = 0; k < n; k++) r[k] = f(va[ia ? ia[k]! : k]!, vb[ib ? ib[k]! : k]!);
      }
      return [finishSink(outDtype, shape, r)];
    },
    inferTypes(inputs, ctx) {
      const a = inputs[0];
      const b = inputs[1];
      const dtype: DType | undefined = row.boolOut ? 'bool' : row.mixed ? a?.dtype : (a?.dtype ?? b?.dtype);
      const shape = row.unidirectional ? a?.shape && [...a.shape] : broadcastDims([a?.shape, b?.shape], ctx);
      return [{ dtype, shape }];
    },
  });
}

/** A variadic op: a left fold of `num` over the broadcast inputs, then `finish`. */
export interface VariadicRow {
  opType: string;
  sinceVersion: number;
  types: TypeClass;
  num(acc: number, x: number): number;
  big?(acc: bigint, x: bigint): bigint;
  /** Final step from the accumulated value and the input count (Mean divides). */
  finish?(acc: number, count: number): number;
}

/** One row per variadic op (any number of inputs, broadcast together); sorted by opType. */
export const VARIADIC_ROWS: readonly VariadicRow[] = [
  {
    opType: 'Max',
    sinceVersion: 8,
    types: 'numeric',
    num: (a, x) => (Number.isNaN(a) || Number.isNaN(x) ? NaN : Math.max(a, x)),
    big: (a, x) => (x > a ? x : a),
  },
  { opType: 'Mean', sinceVersion: 8, types: 'float', num: (a, x) => a + x, finish: (a, c) => a / c },
  {
    opType: 'Min',
    sinceVersion: 8,
    types: 'numeric',
    num: (a, x) => (Number.isNaN(a) || Number.isNaN(x) ? NaN : Math.min(a, x)),
    big: (a, x) => (x < a ? x : a),
  },
  { opType: 'Sum', sinceVersion: 8, types: 'float', num: (a, x) => a + x },
];

function variadicOp(row: VariadicRow): OpDef {
  return withFolding({
    opType: row.opType,
    domain: '',
    sinceVersion: row.sinceVersion,
    reference(inputs, ctx) {
      const xs = inputs.filter((t): t is Tensor => t !== undefined);
      if (xs.length === 0) throw nodeError(ctx, 'needs at least one input');
      const dtype = xs[0]!.dtype;
      for (const x of xs) {
        checkType(row.types, x, ctx);
        if (x.dtype !== dtype) throw nodeError(ctx, `inputs mix dtypes ${dtype} and ${x.dtype}`);
      }
      const shape = broadcastShapes(
        xs.map((x) => x.shape),
        ctx,
      );
      const offs = xs.map((x) => broadcastOffsets(x.shape, shape));
      const n = offs[0]!.length;
      if (isBigIntDType(dtype) && row.big !== undefined && row.finish === undefined) {
        const out = allocData(dtype, n) as BigInt64Array;
        for (let k = 0; k < n; k++) {
          let acc = (xs[0]!.data as BigInt64Array)[offs[0]![k]!]!;
          for (let j = 1; j < xs.length; j++) acc = row.big(acc, (xs[j]!.data as BigInt64Array)[offs[j]![k]!]!);
          out[k] = acc;
        }
        return [makeTensor(dtype, shape, out)];
      }
      const vals = xs.map(readNumbers);
      const r = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        let acc = vals[0]![offs[0]![k]!]!;
        for (let j = 1; j < xs.length; j++) acc = row.num(acc, vals[j]![offs[j]![k]!]!);
        r[k] = row.finish ? row.finish(acc, xs.length) : acc;
      }
      return [fromNumbers(dtype, shape, r)];
    },
    inferTypes(inputs, ctx) {
      const present = inputs.filter((_, i) => ctx.node.inputs[i] !== '');
      const dtype = present.find((t) => t?.dtype !== undefined)?.dtype;
      return [
        {
          dtype,
          shape: broadcastDims(
            present.map((t) => t?.shape),
            ctx,
          ),
        },
      ];
    },
  });
}

/** Where(condition, X, Y): X where condition is true, else Y, all three broadcast together. */
const WHERE: OpDef = withFolding({
  opType: 'Where',
  domain: '',
  sinceVersion: 9,
  reference(inputs, ctx) {
    const c = requireInput(inputs, 0, ctx);
    const x = requireInput(inputs, 1, ctx);
    const y = requireInput(inputs, 2, ctx);
    if (c.dtype !== 'bool') throw nodeError(ctx, `condition must be bool, got ${c.dtype}`);
    if (x.dtype !== y.dtype) throw nodeError(ctx, `X and Y have different dtypes ${x.dtype} and ${y.dtype}`);
    const shape = broadcastShapes([c.shape, x.shape, y.shape], ctx);
    const ic = broadcastOffsets(c.shape, shape);
    const ix = broadcastOffsets(x.shape, shape);
    const iy = broadcastOffsets(y.shape, shape);
    // Gather from the concatenation [X, Y]: Y's offsets are shifted by X's length.
    const both = makeTensor(x.dtype, [x.data.length + y.data.length], concatData(x, y));
    const offs = new Int32Array(ic.length);
    const cd = c.data as Uint8Array;
    for (let k = 0; k < offs.length; k++) offs[k] = cd[ic[k]!] ? ix[k]! : x.data.length + iy[k]!;
    return [gatherByOffsets(both, shape, offs)];
  },
  inferTypes(inputs, ctx) {
    const dtype = inputs[1]?.dtype ?? inputs[2]?.dtype;
    return [{ dtype, shape: broadcastDims([inputs[0]?.shape, inputs[1]?.shape, inputs[2]?.shape], ctx) }];
  },
});

function concatData(x: Tensor, y: Tensor): Tensor['data'] {
  const out = allocData(x.dtype, x.data.length + y.data.length) as unknown as unknown[];
  const xd = x.data as ArrayLike<unknown>;
  const yd = y.data as ArrayLike<unknown>;
  for (let i = 0; i < xd.length; i++) out[i] = xd[i];
  for (let i = 0; i < yd.length; i++) out[xd.length + i] = yd[i];
  return out as unknown as Tensor['data'];
}

/** Every elementwise OpDef (unsorted; tensor-ops.ts sorts the full list). */
export const ELEMENTWISE_OPS: readonly OpDef[] = [
  ...UNARY_ROWS.map(unaryOp),
  ...BINARY_ROWS.map(binaryOp),
  ...VARIADIC_ROWS.map(variadicOp),
  WHERE,
];
