/**
 * onnxruntime's QOperator-format contrib ops (domain `com.microsoft`) as onnxruntime's quantizer writes them for
 * CNNs: QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearGlobalAveragePool, QLinearAveragePool,
 * QLinearConcat, QGemm and the com.microsoft QLinearConv. Each reference is its documented definition composed from
 * our own records, Q(op(DQ(inputs))) with real = scale * (q - zeroPoint), so the oracle is the float op itself.
 * onnxruntime's integer implementations may round a value the other way (1 LSB). NHWC (`channels_last = 1`) is
 * rejected with a named error. src/quantize/qoperator.ts rewrites the same ops into QDQ form for the compiler.
 */
import type { DType } from '../ir/dtype.js';
import { type Attribute, type Node, attrFloat, attrInt } from '../ir/graph.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';
import { ELEMENTWISE_OPS } from './elementwise.js';
import { Gemm } from './matmul.js';
import { numbersOf, requireInput, unsupported } from './nn-util.js';
import { AveragePool, GlobalAveragePool } from './pool.js';
import { DequantizeLinear, QLinearConv as OnnxQLinearConv, QuantizeLinear } from './quantize.js';
import { SHAPE_OPS } from './shape-ops.js';
import type { OpContext, OpDef, ValueType } from './types.js';

/** The domain of onnxruntime's contrib operators. */
export const MS_DOMAIN = 'com.microsoft';

function byName(list: readonly OpDef[], opType: string): OpDef {
  const d = list.find((o) => o.opType === opType && o.domain === '');
  if (!d) throw new Error(`contrib-quant-ops: no record for ${opType}`);
  return d;
}
const Add = byName(ELEMENTWISE_OPS, 'Add');
const Mul = byName(ELEMENTWISE_OPS, 'Mul');
const Sigmoid = byName(ELEMENTWISE_OPS, 'Sigmoid');
const LeakyRelu = byName(ELEMENTWISE_OPS, 'LeakyRelu');
const Concat = byName(SHAPE_OPS, 'Concat');

/** A context for a sub-computation: the contrib node's name (for errors), the given attributes, opset 13. */
function subCtx(ctx: OpContext, opType: string, attributes = new Map<string, Attribute>(), arity = 0): OpContext {
  // Input names matter to type inference's constant folding, which reads a value per named input.
  const inputs = Array.from({ length: arity }, (_, i) => `${ctx.node.name}:${i}`);
  const node: Node = { name: ctx.node.name, opType, domain: '', inputs, outputs: [], attributes };
  return { node, opset: 13 };
}

function rejectChannelsLast(ctx: OpContext): void {
  if (attrInt(ctx.node, 'channels_last', 0) !== 0)
    throw unsupported(ctx, 'channels_last = 1 (NHWC input) is not supported; only NCHW is');
}

/** The node's attributes without `channels_last` (the float op does not know it). */
function floatAttrs(ctx: OpContext): Map<string, Attribute> {
  const a = new Map(ctx.node.attributes);
  a.delete('channels_last');
  return a;
}

function dq(ctx: OpContext, x: Tensor, s: Tensor, z: Tensor | undefined, axis?: number): Tensor {
  const attrs = new Map<string, Attribute>(axis === undefined ? [] : [['axis', { kind: 'int', value: axis }]]);
  return DequantizeLinear.reference([x, s, z], subCtx(ctx, 'DequantizeLinear', attrs))[0]!;
}

/** Quantize to `dtype` (an omitted zero point is 0 of the input's type, not QuantizeLinear's uint8 default). */
function q(ctx: OpContext, y: Tensor, s: Tensor, z: Tensor | undefined, dtype: DType): Tensor {
  const zp = z ?? makeTensor(dtype, [], dtype === 'int8' ? new Int8Array(1) : new Uint8Array(1));
  return QuantizeLinear.reference([y, s, zp], subCtx(ctx, 'QuantizeLinear'))[0]!;
}

/** Output type of a quantized op: its output zero point's type, else input 0's. */
function qTypes(
  float: OpDef,
  floatInputs: (ins: readonly (ValueType | undefined)[]) => (ValueType | undefined)[],
  zp: number,
) {
  return (inputs: readonly (ValueType | undefined)[], ctx: OpContext): ValueType[] => {
    // Shapes only: a constant's integer value must not be folded as if it were real.
    const fIns = floatInputs(inputs).map((t): ValueType | undefined =>
      t?.shape ? { dtype: 'float32', shape: t.shape } : t && { dtype: 'float32' },
    );
    let shape: ValueType['shape'];
    try {
      shape = float.inferTypes(fIns, subCtx(ctx, float.opType, floatAttrs(ctx), fIns.length))[0]?.shape;
    } catch {
      shape = undefined;
    }
    const t: ValueType = {};
    const dtype = inputs[zp]?.dtype ?? inputs[0]?.dtype;
    if (dtype !== undefined) t.dtype = dtype;
    if (shape !== undefined) t.shape = shape;
    return [t];
  };
}

/** A unary QLinear op: (X, X_scale, X_zero_point?, Y_scale, Y_zero_point?) -> Q(op(DQ(X))). */
function unary(opType: string, float: OpDef): OpDef {
  return {
    opType,
    domain: MS_DOMAIN,
    sinceVersion: 1,
    reference(inputs, ctx) {
      rejectChannelsLast(ctx);
      const x = requireInput(inputs, 0, 'X', ctx);
      const xf = dq(ctx, x, requireInput(inputs, 1, 'X_scale', ctx), inputs[2]);
      const [y] = float.reference([xf], subCtx(ctx, float.opType, floatAttrs(ctx)));
      return [q(ctx, y!, requireInput(inputs, 3, 'Y_scale', ctx), inputs[4], inputs[4]?.dtype ?? x.dtype)];
    },
    inferTypes: qTypes(float, (ins) => [ins[0]], 4),
  };
}

/** A binary QLinear op: (A, A_scale, A_zp?, B, B_scale, B_zp?, C_scale, C_zp?) -> Q(op(DQ(A), DQ(B))). */
function binary(opType: string, float: OpDef): OpDef {
  return {
    opType,
    domain: MS_DOMAIN,
    sinceVersion: 1,
    reference(inputs, ctx) {
      const a = requireInput(inputs, 0, 'A', ctx);
      const b = requireInput(inputs, 3, 'B', ctx);
      const af = dq(ctx, a, requireInput(inputs, 1, 'A_scale', ctx), inputs[2]);
      const bf = dq(ctx, b, requireInput(inputs, 4, 'B_scale', ctx), inputs[5]);
      const [y] = float.reference([af, bf], subCtx(ctx, float.opType));
      return [q(ctx, y!, requireInput(inputs, 6, 'C_scale', ctx), inputs[7], inputs[7]?.dtype ?? a.dtype)];
    },
    inferTypes: qTypes(float, (ins) => [ins[0], ins[3]], 7),
  };
}

/** com.microsoft.QLinearConcat(Y_scale, Y_zero_point, (X_i, X_i_scale, X_i_zero_point)...), attribute axis. */
const QLinearConcat: OpDef = {
  opType: 'QLinearConcat',
  domain: MS_DOMAIN,
  sinceVersion: 1,
  reference(inputs, ctx) {
    const ys = requireInput(inputs, 0, 'Y_scale', ctx);
    const yz = requireInput(inputs, 1, 'Y_zero_point', ctx);
    if ((inputs.length - 2) % 3 !== 0 || inputs.length < 5)
      throw unsupported(
        ctx,
        `needs (tensor, scale, zero point) triples after Y's parameters, got ${inputs.length - 2} inputs`,
      );
    const parts: Tensor[] = [];
    for (let i = 2; i < inputs.length; i += 3) {
      const x = requireInput(inputs, i, `input ${(i - 2) / 3}`, ctx);
      parts.push(dq(ctx, x, requireInput(inputs, i + 1, `input ${(i - 2) / 3} scale`, ctx), inputs[i + 2]));
    }
    const [y] = Concat.reference(parts, subCtx(ctx, 'Concat', floatAttrs(ctx)));
    return [q(ctx, y!, ys, yz, yz.dtype)];
  },
  inferTypes: qTypes(Concat, (ins) => ins.filter((_, i) => i >= 2 && (i - 2) % 3 === 0), 1),
};

/**
 * com.microsoft.QGemm(A, a_scale, a_zp, B, b_scale, b_zp?, C?, y_scale?, y_zp?), attributes alpha, transA, transB:
 * C is int32 with scale alpha * a_scale * b_scale (per column of B when b_scale is 1-D); without y_scale the
 * output is float.
 */
const QGemm: OpDef = {
  opType: 'QGemm',
  domain: MS_DOMAIN,
  sinceVersion: 1,
  reference(inputs, ctx) {
    const a = requireInput(inputs, 0, 'A', ctx);
    const as = requireInput(inputs, 1, 'a_scale', ctx);
    const b = requireInput(inputs, 3, 'B', ctx);
    const bs = requireInput(inputs, 4, 'b_scale', ctx);
    const alpha = attrFloat(ctx.node, 'alpha', 1);
    const transB = attrInt(ctx.node, 'transB', 0);
    const af = dq(ctx, a, as, inputs[2]);
    const bf = dq(ctx, b, bs, inputs[5], transB ? 0 : 1);
    const c = inputs[6];
    let cf: Tensor | undefined;
    if (c !== undefined) {
      const asv = numbersOf(as)[0]!;
      const cScale = makeTensor(
        'float32',
        [bs.data.length],
        Float32Array.from(numbersOf(bs), (v) => alpha * asv * v),
      );
      cf = dq(ctx, c, cScale, undefined, bs.data.length > 1 ? c.shape.length - 1 : undefined);
    }
    const attrs = new Map<string, Attribute>([
      ['alpha', { kind: 'float', value: alpha }],
      ['transA', { kind: 'int', value: attrInt(ctx.node, 'transA', 0) }],
      ['transB', { kind: 'int', value: transB }],
    ]);
    const [y] = Gemm.reference([af, bf, cf], subCtx(ctx, 'Gemm', attrs));
    const ys = inputs[7];
    return ys === undefined ? [y!] : [q(ctx, y!, ys, inputs[8], inputs[8]?.dtype ?? a.dtype)];
  },
  inferTypes(inputs, ctx) {
    const [t] = qTypes(Gemm, (ins) => [ins[0], ins[3], ins[6]], 8)(inputs, ctx);
    if (inputs[7] === undefined) return [{ ...t, dtype: 'float32' }];
    return [t!];
  },
  macs(inputs, outputs, ctx) {
    const a = inputs[0]?.shape;
    const y = outputs[0]?.shape;
    const k = a?.[attrInt(ctx.node, 'transA', 0) ? 0 : 1];
    const m = y?.[0];
    const n = y?.[1];
    return typeof k === 'number' && typeof m === 'number' && typeof n === 'number' ? m * n * k : 0;
  },
};

/** com.microsoft.QLinearConv: ONNX QLinearConv's semantics (NCHW only). */
const MsQLinearConv: OpDef = {
  ...OnnxQLinearConv,
  domain: MS_DOMAIN,
  sinceVersion: 1,
  reference(inputs, ctx) {
    rejectChannelsLast(ctx);
    return OnnxQLinearConv.reference(inputs, ctx);
  },
};

/** The com.microsoft quantized ops edgecnn implements, sorted by opType. */
export const CONTRIB_QUANT_OPS: readonly OpDef[] = [
  QGemm,
  binary('QLinearAdd', Add),
  unary('QLinearAveragePool', AveragePool),
  QLinearConcat,
  MsQLinearConv,
  unary('QLinearGlobalAveragePool', GlobalAveragePool),
  unary('QLinearLeakyRelu', LeakyRelu),
  binary('QLinearMul', Mul),
  unary('QLinearSigmoid', Sigmoid),
];
