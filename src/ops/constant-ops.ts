/**
 * Operators that produce or pass values rather than move them: Constant, ConstantOfShape, Range, Cast, and the
 * inference-mode pass-throughs Identity and Dropout. Cast is the one place values change type: integers wrap
 * like a C cast (through BigInt for 64-bit), floats truncate toward zero, bool is `!= 0`, float16 is decoded
 * and re-encoded with round-to-nearest-even. Numbers become strings in plain notation with the shortest
 * round-tripping digits; strings parse as number literals (INF/NaN included) and anything else is a named error.
 */
import { type DType, allocData, dtypeFromOnnxCode, isIntegerDType } from '../ir/dtype.js';
import { type Dim, attrInt, attrTensor } from '../ir/graph.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';
import {
  checkedSize,
  fromNumbers,
  isBigIntDType,
  nodeError,
  readInts,
  numberToFloat16Bits,
  readNumbers,
  requireInput,
  toBigIntTrunc,
  typeOfTensor,
  withFolding,
} from './tensor-util.js';
import type { OpContext, OpDef, ValueType } from './types.js';

function sameType(x: ValueType | undefined): ValueType {
  return { dtype: x?.dtype, shape: x?.shape ? [...x.shape] : undefined };
}

// ---------------------------------------------------------------------------------------------------------

const IDENTITY: OpDef = withFolding({
  opType: 'Identity',
  domain: '',
  sinceVersion: 1,
  reference: (inputs, ctx) => [requireInput(inputs, 0, ctx)],
  inferTypes: (inputs) => [sameType(inputs[0])],
});

/** Inference-mode Dropout: output = input; the optional mask is all true (T-typed ones before opset 10). */
const DROPOUT: OpDef = withFolding({
  opType: 'Dropout',
  domain: '',
  sinceVersion: 7,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, ctx);
    const training = ctx.opset >= 12 && inputs[2] !== undefined && readNumbers(inputs[2])[0] !== 0;
    const ratio = ctx.opset >= 12 ? (inputs[1] ? readNumbers(inputs[1])[0]! : 0.5) : 0;
    if (training && ratio !== 0) {
      throw nodeError(
        ctx,
        'training_mode=true with a non-zero ratio is random; only inference is supported',
        'unsupported-operator',
      );
    }
    const outs = [x];
    if (ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '') {
      const maskType: DType = ctx.opset >= 10 ? 'bool' : x.dtype;
      outs.push(fromNumbers(maskType, x.shape, new Float64Array(x.data.length).fill(1)));
    }
    return outs;
  },
  inferTypes(inputs, ctx) {
    const x = inputs[0];
    const outs = [sameType(x)];
    if (ctx.node.outputs.length > 1)
      outs.push({ dtype: ctx.opset >= 10 ? 'bool' : x?.dtype, shape: sameType(x).shape });
    return outs;
  },
});

function constantValue(ctx: OpContext): Tensor {
  const n = ctx.node;
  const given = [...n.attributes.keys()];
  if (given.length !== 1) throw nodeError(ctx, `needs exactly one value attribute, got [${given.join(', ')}]`);
  const a = n.attributes.get(given[0]!)!;
  switch (given[0]) {
    case 'value':
      if (a.kind !== 'tensor') break;
      return a.value;
    case 'value_float':
      if (a.kind !== 'float') break;
      return fromNumbers('float32', [], [a.value]);
    case 'value_floats':
      if (a.kind !== 'floats') break;
      return fromNumbers('float32', [a.value.length], a.value);
    case 'value_int':
      if (a.kind !== 'int') break;
      return fromNumbers('int64', [], [a.value]);
    case 'value_ints':
      if (a.kind !== 'ints') break;
      return fromNumbers('int64', [a.value.length], a.value);
    default:
      throw nodeError(
        ctx,
        `attribute '${given[0]}' is not supported (sparse and string constants are not)`,
        'unsupported-operator',
      );
  }
  throw nodeError(ctx, `attribute '${given[0]}' has the wrong kind ${a.kind}`);
}

/** Constant's inferred value is its attribute tensor itself, whatever its size (no copy is made). */
const CONSTANT: OpDef = {
  opType: 'Constant',
  domain: '',
  sinceVersion: 1,
  reference: (_inputs, ctx) => [constantValue(ctx)],
  inferTypes: (_inputs, ctx) => [typeOfTensor(constantValue(ctx))],
};

function constantOfShapeFill(ctx: OpContext): Tensor {
  const v = attrTensor(ctx.node, 'value') ?? fromNumbers('float32', [1], [0]);
  if (v.data.length !== 1) throw nodeError(ctx, `attribute 'value' must have one element, got ${v.data.length}`);
  return v;
}

const CONSTANT_OF_SHAPE: OpDef = withFolding({
  opType: 'ConstantOfShape',
  domain: '',
  sinceVersion: 9,
  reference(inputs, ctx) {
    const shape = readInts(requireInput(inputs, 0, ctx), ctx, 'shape');
    const v = constantOfShapeFill(ctx);
    const data = allocData(v.dtype, checkedSize(shape, ctx)) as unknown as unknown[];
    data.fill((v.data as ArrayLike<unknown>)[0]);
    return [makeTensor(v.dtype, shape, data as unknown as Tensor['data'])];
  },
  inferTypes(inputs, ctx) {
    const dtype = constantOfShapeFill(ctx).dtype;
    const s = inputs[0]?.value;
    if (s !== undefined) return [{ dtype, shape: readInts(s, ctx, 'shape') }];
    const len = inputs[0]?.shape?.[0];
    return [{ dtype, shape: typeof len === 'number' ? new Array<Dim>(len).fill(null) : undefined }];
  },
});

function castTarget(ctx: OpContext): DType {
  const code = attrInt(ctx.node, 'to');
  if (code === undefined) throw nodeError(ctx, "attribute 'to' is required");
  const d = dtypeFromOnnxCode(code);
  if (d === undefined) throw nodeError(ctx, `target type code ${code} is not supported`, 'unsupported-operator');
  return d;
}

const INT_BITS: Partial<Record<DType, [number, boolean]>> = {
  int8: [8, true],
  uint8: [8, false],
  int16: [16, true],
  uint16: [16, false],
  int32: [32, true],
  uint32: [32, false],
  int64: [64, true],
  uint64: [64, false],
};

/** Cast one tensor: integers wrap like a C cast, floats truncate toward zero, bool is `!= 0`. */
export function castTensor(x: Tensor, to: DType, ctx: OpContext): Tensor {
  if (x.dtype === to) return x;
  if (x.dtype === 'string') return parseStrings(x, to, ctx);
  if (to === 'string') return makeTensor('string', x.shape, formatNumbers(x));
  const bits = INT_BITS[to];
  if (isBigIntDType(x.dtype) && bits !== undefined) {
    // Integer to integer through BigInt keeps int64 values exact.
    const src = x.data as BigInt64Array | BigUint64Array;
    const out = allocData(to, src.length) as unknown as (number | bigint)[];
    for (let i = 0; i < src.length; i++) {
      const w = bits[1] ? BigInt.asIntN(bits[0], src[i]!) : BigInt.asUintN(bits[0], src[i]!);
      out[i] = isBigIntDType(to) ? w : Number(w);
    }
    return makeTensor(to, x.shape, out as unknown as Tensor['data']);
  }
  if (isBigIntDType(x.dtype) && to === 'bool') {
    const src = x.data as BigInt64Array;
    return makeTensor(
      'bool',
      x.shape,
      Uint8Array.from(src, (v) => (v !== 0n ? 1 : 0)),
    );
  }
  if (isIntegerDType(x.dtype) && isBigIntDType(to)) {
    const src = x.data as Int32Array;
    const out = allocData(to, src.length) as BigInt64Array;
    for (let i = 0; i < src.length; i++) {
      out[i] = to === 'int64' ? BigInt(src[i]!) : BigInt.asUintN(64, BigInt(src[i]!));
    }
    return makeTensor(to, x.shape, out);
  }
  return fromNumbers(to, x.shape, readNumbers(x));
}

/**
 * Numbers to strings in plain notation (ONNX Cast-13): the shortest digits that read back to the same value in
 * the source precision (so float32 0.1 is "0.1", not "0.10000000149011612"), and INF, -INF, NaN.
 */
function formatNumbers(x: Tensor): string[] {
  if (isBigIntDType(x.dtype)) return Array.from(x.data as BigInt64Array, (v) => v.toString());
  const v = readNumbers(x);
  const same: (a: number, b: number) => boolean =
    x.dtype === 'float32'
      ? (a, b) => Math.fround(a) === b
      : x.dtype === 'float16'
        ? (a, b) => numberToFloat16Bits(a) === numberToFloat16Bits(b)
        : (a, b) => a === b;
  return Array.from(v, (n) => {
    if (Number.isNaN(n)) return 'NaN';
    if (!Number.isFinite(n)) return n > 0 ? 'INF' : '-INF';
    let p = 1;
    while (p < 17 && !same(Number(n.toPrecision(p)), n)) p++;
    return plainDecimal(Number(n.toPrecision(p)));
  });
}

/** A finite number written without an exponent (JS switches to e-notation below 1e-6 and from 1e21). */
function plainDecimal(n: number): string {
  const s = String(n);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (m === null) return s;
  const [, sign, lead, frac = '', expText] = m;
  const digits = lead! + frac;
  const exp = Number(expText);
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  return sign + digits + '0'.repeat(Math.max(0, exp - frac.length));
}

const SPECIAL_FLOATS: Record<string, number> = { INF: Infinity, '+INF': Infinity, '-INF': -Infinity, NAN: NaN };

/** Strings to numbers: plain or scientific literals, case-insensitive INF/+INF/-INF/NaN; anything else is an error. */
function parseStrings(x: Tensor, to: DType, ctx: OpContext): Tensor {
  const src = x.data as string[];
  const values = src.map((raw) => {
    const t = raw.trim();
    const special = SPECIAL_FLOATS[t.toUpperCase()];
    if (special !== undefined) return special;
    const v = t === '' ? NaN : Number(t);
    if (Number.isNaN(v)) throw nodeError(ctx, `cannot cast the string '${raw}' to ${to}: not a number literal`);
    return v;
  });
  if (isBigIntDType(to)) {
    // Integer literals go through BigInt so that int64 values beyond 2^53 stay exact.
    const out = allocData(to, src.length) as BigInt64Array;
    src.forEach((raw, i) => {
      const t = raw.trim();
      out[i] = /^[+-]?\d+$/.test(t) ? BigInt(t) : toBigIntTrunc(values[i]!, to as 'int64' | 'uint64');
    });
    return makeTensor(to, x.shape, out);
  }
  return fromNumbers(to, x.shape, values);
}

const CAST: OpDef = withFolding({
  opType: 'Cast',
  domain: '',
  sinceVersion: 6,
  reference: (inputs, ctx) => [castTensor(requireInput(inputs, 0, ctx), castTarget(ctx), ctx)],
  inferTypes: (inputs, ctx) => [{ dtype: castTarget(ctx), shape: sameType(inputs[0]).shape }],
});

function rangeCount(start: number, limit: number, delta: number, ctx: OpContext): number {
  if (delta === 0) throw nodeError(ctx, 'delta must not be zero');
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  if (!Number.isFinite(n)) throw nodeError(ctx, `start ${start}, limit ${limit}, delta ${delta} give no finite length`);
  checkedSize([n], ctx);
  return n;
}

const RANGE: OpDef = withFolding({
  opType: 'Range',
  domain: '',
  sinceVersion: 11,
  reference(inputs, ctx) {
    const ts = [0, 1, 2].map((i) => requireInput(inputs, i, ctx));
    const dtype = ts[0]!.dtype;
    for (const t of ts) {
      if (t.dtype !== dtype) throw nodeError(ctx, `start, limit and delta must share one dtype`);
      if (t.data.length !== 1) throw nodeError(ctx, `start, limit and delta must be scalars`);
    }
    const [start, limit, delta] = ts.map((t) => readNumbers(t)[0]!) as [number, number, number];
    const n = rangeCount(start, limit, delta, ctx);
    if (isBigIntDType(dtype)) {
      const s = (ts[0]!.data as BigInt64Array)[0]!;
      const d = (ts[2]!.data as BigInt64Array)[0]!;
      const out = allocData(dtype, n) as BigInt64Array;
      for (let i = 0; i < n; i++) out[i] = s + BigInt(i) * d;
      return [makeTensor(dtype, [n], out)];
    }
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = start + i * delta;
    return [fromNumbers(dtype, [n], v)];
  },
  inferTypes(inputs, ctx) {
    const dtype = inputs[0]?.dtype;
    const vals = [0, 1, 2].map((i) => inputs[i]?.value);
    if (vals.every((v) => v !== undefined)) {
      const [s, l, d] = vals.map((v) => readNumbers(v!)[0]!) as [number, number, number];
      return [{ dtype, shape: [rangeCount(s, l, d, ctx)] }];
    }
    return [{ dtype, shape: [null] }];
  },
});

/** Constant, ConstantOfShape, Range, Cast, Identity and Dropout records (unsorted; tensor-ops.ts sorts). */
export const CONSTANT_OPS: readonly OpDef[] = [CAST, CONSTANT, CONSTANT_OF_SHAPE, DROPOUT, IDENTITY, RANGE];
