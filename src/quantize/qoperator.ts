/**
 * QOperator -> QDQ: rewrite QLinearConv, QLinearMatMul and onnxruntime's com.microsoft QLinearAdd / QLinearMul /
 * QLinearSigmoid / QLinearLeakyRelu / QLinearGlobalAveragePool / QLinearAveragePool / QLinearConcat / QGemm into
 * DequantizeLinear -> float op -> QuantizeLinear, the form the int8 lowering (codegen/compile/lower-int8.ts) compiles
 * to qs8 kernels. QLinearConv's int32 bias becomes DequantizeLinear(B, x_scale * w_scale) so the lowering adds it
 * exactly; uint8 (or non-zero zero point) weights are shifted to int8 when every w - w_zero_point fits, which keeps
 * the real values. Ops that move int8 data unchanged (MaxPool, Reshape, Transpose, ...) get DQ -> op -> Q with the
 * input's parameters, which is exact (Q(DQ(q)) = q, and they commute with a monotone quantizer). Other quantized
 * ops are left as they are (their references run as fallbacks) and listed in `unsupported`.
 */
import type { DType } from '../ir/dtype.js';
import {
  type Attribute,
  type Model,
  type Node,
  attrFloat,
  attrInt,
  isDefaultDomain,
  opsetVersion,
} from '../ir/graph.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';
import { MS_DOMAIN } from '../ops/contrib-quant-ops.js';
import { cloneGraph, constantOf, indexGraph, makeNamer } from '../passes/graph-utils.js';

/** Quantized ops this rewrite turns into QDQ form (domain '' or com.microsoft as named). */
export const QOPERATOR_REWRITTEN = [
  'QLinearConv',
  'QLinearMatMul',
  'com.microsoft:QGemm',
  'com.microsoft:QLinearAdd',
  'com.microsoft:QLinearAveragePool',
  'com.microsoft:QLinearConcat',
  'com.microsoft:QLinearConv',
  'com.microsoft:QLinearGlobalAveragePool',
  'com.microsoft:QLinearLeakyRelu',
  'com.microsoft:QLinearMul',
  'com.microsoft:QLinearSigmoid',
] as const;

/** Standard ops that only move or select int8 values: DQ -> op -> Q with the input's parameters is exact. */
const PASS_THROUGH = new Set([
  'MaxPool',
  'Reshape',
  'Flatten',
  'Transpose',
  'Squeeze',
  'Unsqueeze',
  'Slice',
  'Identity',
  'DepthToSpace',
  'SpaceToDepth',
  'GlobalMaxPool',
]);

export interface QOperatorRewrite {
  model: Model;
  /** QOperator nodes replaced by QDQ patterns. */
  rewritten: number;
  /** Quantized nodes left in place, as `'name' (domain:op): why`. */
  unsupported: string[];
  /** Rewritten nodes that cannot reach an int8 kernel, as `'name' (op): why` (they run in float). */
  notes: string[];
}

interface QParamNames {
  scale: string;
  /** '' when the zero point is omitted. */
  zero: string;
  dtype: DType;
}

function isQOperator(n: Node): boolean {
  const key = isDefaultDomain(n.domain) ? n.opType : `${n.domain}:${n.opType}`;
  return (QOPERATOR_REWRITTEN as readonly string[]).includes(key) || (n.domain === MS_DOMAIN && /^Q/.test(n.opType));
}

/** Rewrite a QOperator model into QDQ form; a model without QOperator nodes is returned as it is. */
export function qoperatorToQdq(model: Model): QOperatorRewrite {
  if (!model.graph.nodes.some(isQOperator)) return { model, rewritten: 0, unsupported: [], notes: [] };
  const g = cloneGraph(model.graph);
  const index = indexGraph(g);
  const fresh = makeNamer(g);
  const declared = opsetVersion(model, '') ?? 13;
  // Per-axis DequantizeLinear needs opset 13; QLinearConv has per-channel scales since 10. When every other op
  // means the same at 13, the rewritten model imports 13 instead.
  const opset = declared < 13 && g.nodes.every((n) => sameAt13(n, declared)) ? 13 : declared;
  const konst = (name: string | undefined): Tensor | undefined => (name ? constantOf(g, index, name) : undefined);
  const params = new Map<string, QParamNames>();
  const unsupported: string[] = [];
  const notes: string[] = [];
  const out: Node[] = [];
  let rewritten = 0;

  const dtypeOf = (v: string, zero: string): DType =>
    konst(zero)?.dtype ??
    params.get(v)?.dtype ??
    konst(v)?.dtype ??
    g.inputs.find((i) => i.name === v)?.dtype ??
    g.valueInfo.get(v)?.dtype ??
    'uint8';
  const addInit = (base: string, t: Tensor): string => {
    const name = fresh(base);
    g.initializers.set(name, t);
    return name;
  };
  // The float op takes the QOperator node's name (profiles and errors keep naming the model's node); the DQ/Q
  // around it get fresh names.
  let opName = '';
  const node = (opType: string, inputs: string[], outputs: string[], attrs = new Map<string, Attribute>()): void => {
    const isQdq = opType === 'QuantizeLinear' || opType === 'DequantizeLinear';
    const name =
      isQdq || !opName ? fresh(`${opName || outputs[0]!}_${opType === 'QuantizeLinear' ? 'Q' : 'DQ'}`) : opName;
    if (!isQdq) opName = '';
    out.push({ name, opType, domain: '', inputs, outputs, attributes: attrs });
  };
  const axisAttr = (axis: number | undefined): Map<string, Attribute> =>
    new Map(axis === undefined ? [] : [['axis', { kind: 'int', value: axis } as Attribute]]);
  const dq = (x: string, s: string, z: string, axis?: number): string => {
    const y = fresh(`${x}_dq`);
    node('DequantizeLinear', z ? [x, s, z] : [x, s], [y], axisAttr(axis));
    return y;
  };
  /** Quantize `yf` into `y`; an omitted zero point becomes an explicit 0 of `dtype` (QuantizeLinear's default is uint8). */
  const q = (yf: string, s: string, z: string, y: string, dtype: DType): void => {
    const zero =
      z || addInit(`${y}_zero`, makeTensor(dtype, [], dtype === 'int8' ? new Int8Array(1) : new Uint8Array(1)));
    node('QuantizeLinear', [yf, s, zero], [y]);
    params.set(y, { scale: s, zero, dtype });
  };
  const floatAttrs = (n: Node): Map<string, Attribute> => {
    const a = new Map(n.attributes);
    a.delete('channels_last');
    return a;
  };
  const leave = (n: Node, why: string): void => {
    unsupported.push(`'${n.name}' (${n.domain ? `${n.domain}:` : ''}${n.opType}): ${why}`);
    out.push(n);
  };
  const perAxis = (name: string): boolean => (konst(name)?.data.length ?? 1) > 1;

  for (const n of g.nodes) {
    const ms = n.domain === MS_DOMAIN;
    const std = isDefaultDomain(n.domain);
    const ins = n.inputs;
    const y = n.outputs[0]!;
    opName = n.name;
    if ((std || ms) && n.opType === 'QuantizeLinear') {
      params.set(y, { scale: ins[1]!, zero: ins[2] ?? '', dtype: ins[2] ? dtypeOf(y, ins[2]) : 'uint8' });
      out.push(n);
      continue;
    }
    if (!isQOperator(n)) {
      const src = params.get(ins[0] ?? '');
      const single = n.outputs.filter((o) => o !== '').length === 1;
      if (std && (n.opType === 'ConvInteger' || n.opType === 'MatMulInteger')) {
        leave(n, 'an int32 output with no scale to requantize with: runs on its reference implementation');
      } else if (std && PASS_THROUGH.has(n.opType) && src && single) {
        const yf = fresh(`${y}_f`);
        out.push({ ...n, inputs: [dq(ins[0]!, src.scale, src.zero), ...ins.slice(1)], outputs: [yf] });
        q(yf, src.scale, src.zero, y, src.dtype);
      } else {
        out.push(n);
      }
      continue;
    }
    if (attrInt(n, 'channels_last', 0) !== 0) {
      leave(n, 'channels_last = 1 (NHWC) is not supported');
      continue;
    }
    const outType = (zero: string, x: string): DType => (zero ? dtypeOf(y, zero) : dtypeOf(x, ''));
    switch (n.opType) {
      case 'QLinearConv': {
        const [x, xs, xz, w, ws, wz, ys, yz, b] = ins as (string | undefined)[];
        const xsT = konst(xs);
        const wT = konst(w);
        const wsT = konst(ws);
        if (perAxis(ws!) && opset < 13) {
          leave(n, `per-channel weights need opset 13 for DequantizeLinear (the model imports ${opset})`);
          continue;
        }
        if (b && (!xsT || !wsT)) {
          leave(n, 'a bias needs constant x_scale and w_scale');
          continue;
        }
        const xd = dq(x!, xs!, xz ?? '');
        const wAxis = perAxis(ws!) ? 0 : undefined;
        let wd: string;
        const s8 = wT && int8Shifted(wT, konst(wz));
        if (wT && s8 === wT) wd = dq(w!, ws!, '', wAxis);
        else if (s8) wd = dq(addInit(`${w}_s8`, s8), ws!, '', wAxis);
        else {
          wd = dq(w!, ws!, wz ?? '', wAxis);
          notes.push(
            `'${n.name}' (QLinearConv): weights minus their zero point leave [-128, 127], so it runs in float`,
          );
        }
        const convIns = [xd, wd];
        if (b) {
          // QLinearConv's bias is int32 at scale x_scale * w_scale; float32 products as a kernel computes them.
          const xsv = Number(xsT!.data[0]);
          const bs = Float32Array.from(wsT!.data as Float32Array, (v) => Math.fround(xsv * Number(v)));
          const bsName = addInit(`${b}_scale`, makeTensor('float32', bs.length > 1 ? [bs.length] : [], bs));
          convIns.push(dq(b, bsName, '', bs.length > 1 ? 0 : undefined));
        }
        const yf = fresh(`${y}_f`);
        node('Conv', convIns, [yf], floatAttrs(n));
        q(yf, ys!, yz ?? '', y, outType(yz ?? '', x!));
        break;
      }
      case 'QLinearMatMul': {
        const [a, as, az, b, bs, bz, ys, yz] = ins as (string | undefined)[];
        const bRank = konst(b)?.shape.length ?? g.valueInfo.get(b!)?.shape?.length;
        if (perAxis(as!) || (perAxis(bs!) && (bRank === undefined || opset < 13))) {
          leave(n, 'per-row a scales (or per-column b scales of unknown rank or before opset 13) are not rewritten');
          continue;
        }
        const yf = fresh(`${y}_f`);
        node('MatMul', [dq(a!, as!, az ?? ''), dq(b!, bs!, bz ?? '', perAxis(bs!) ? bRank! - 1 : undefined)], [yf]);
        q(yf, ys!, yz ?? '', y, outType(yz ?? '', a!));
        break;
      }
      case 'QGemm': {
        const [a, as, az, b, bs, bz, c, ys, yz] = ins as (string | undefined)[];
        const asT = konst(as);
        const bsT = konst(bs);
        const cT = konst(c);
        const transB = attrInt(n, 'transB', 0);
        if ((c && (!asT || !bsT || !cT)) || (perAxis(bs!) && opset < 13)) {
          leave(n, 'C needs constant C, a_scale and b_scale (and per-column b scales opset 13)');
          continue;
        }
        const alpha = attrFloat(n, 'alpha', 1);
        const gIns = [dq(a!, as!, az ?? ''), dq(b!, bs!, bz ?? '', perAxis(bs!) ? (transB ? 0 : 1) : undefined)];
        if (c) {
          const asv = Number(asT!.data[0]);
          const cs = Float32Array.from(bsT!.data as Float32Array, (v) => Math.fround(alpha * asv * Number(v)));
          const csName = addInit(`${c}_scale`, makeTensor('float32', cs.length > 1 ? [cs.length] : [], cs));
          gIns.push(dq(c, csName, '', cs.length > 1 ? cT!.shape.length - 1 : undefined));
        }
        const gemmAttrs = new Map<string, Attribute>([
          ['alpha', { kind: 'float', value: alpha }],
          ['transA', { kind: 'int', value: attrInt(n, 'transA', 0) }],
          ['transB', { kind: 'int', value: transB }],
        ]);
        if (!ys) {
          node('Gemm', gIns, [y], gemmAttrs);
        } else {
          const yf = fresh(`${y}_f`);
          node('Gemm', gIns, [yf], gemmAttrs);
          q(yf, ys, yz ?? '', y, outType(yz ?? '', a!));
        }
        break;
      }
      case 'QLinearAdd':
      case 'QLinearMul': {
        const [a, as, az, b, bs, bz, cs, cz] = ins as (string | undefined)[];
        const yf = fresh(`${y}_f`);
        node(n.opType === 'QLinearAdd' ? 'Add' : 'Mul', [dq(a!, as!, az ?? ''), dq(b!, bs!, bz ?? '')], [yf]);
        q(yf, cs!, cz ?? '', y, outType(cz ?? '', a!));
        break;
      }
      case 'QLinearSigmoid':
      case 'QLinearLeakyRelu':
      case 'QLinearGlobalAveragePool':
      case 'QLinearAveragePool': {
        const [x, xs, xz, ys, yz] = ins as (string | undefined)[];
        const yf = fresh(`${y}_f`);
        node(n.opType.slice('QLinear'.length), [dq(x!, xs!, xz ?? '')], [yf], floatAttrs(n));
        q(yf, ys!, yz ?? '', y, outType(yz ?? '', x!));
        break;
      }
      case 'QLinearConcat': {
        const [ys, yz] = ins as string[];
        if ((ins.length - 2) % 3 !== 0) {
          leave(n, `inputs after Y's parameters must be (tensor, scale, zero point) triples, got ${ins.length - 2}`);
          continue;
        }
        const parts: string[] = [];
        for (let i = 2; i < ins.length; i += 3) parts.push(dq(ins[i]!, ins[i + 1]!, ins[i + 2] ?? ''));
        const yf = fresh(`${y}_f`);
        node('Concat', parts, [yf], floatAttrs(n));
        q(yf, ys!, yz ?? '', y, outType(yz ?? '', ins[2]!));
        break;
      }
      default:
        leave(n, 'no QDQ rewrite (runs on its reference implementation if it has one)');
        continue;
    }
    rewritten++;
  }
  g.nodes = out;
  const opsetImports =
    opset === declared
      ? model.opsetImports
      : model.opsetImports.map((o) => (isDefaultDomain(o.domain) ? { ...o, version: opset } : o));
  return { model: { ...model, opsetImports, graph: g }, rewritten, unsupported, notes };
}

/** Standard ops whose semantics (as edgecnn implements them) do not change from opset 11 (10 for some) to 13. */
const SAME_SINCE_11 = new Set([
  'Add',
  'AveragePool',
  'Cast',
  'Clip',
  'Concat',
  'Constant',
  'Conv',
  'ConvInteger',
  'DequantizeLinear',
  'Div',
  'Flatten',
  'Gather',
  'Gemm',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'Identity',
  'LeakyRelu',
  'MatMul',
  'MatMulInteger',
  'MaxPool',
  'Mul',
  'Pad',
  'QLinearConv',
  'QLinearMatMul',
  'QuantizeLinear',
  'Relu',
  'Reshape',
  'Resize',
  'Shape',
  'Sigmoid',
  'Slice',
  'Sub',
  'Tanh',
  'Transpose',
]);
/** Clip, Pad and Resize changed at 11 (attributes became inputs, new modes). */
const CHANGED_AT_11 = new Set(['Clip', 'Pad', 'Resize']);

function sameAt13(n: Node, declared: number): boolean {
  if (!isDefaultDomain(n.domain)) return true;
  return SAME_SINCE_11.has(n.opType) && !(declared < 11 && CHANGED_AT_11.has(n.opType));
}

/**
 * The weights as int8 with a zero zero point holding the same real values (w itself when already so), or
 * undefined when some w - w_zero_point leaves [-128, 127]. Zero points are per tensor or per output channel.
 */
function int8Shifted(w: Tensor, zp: Tensor | undefined): Tensor | undefined {
  if (w.dtype !== 'int8' && w.dtype !== 'uint8') return undefined;
  const z = zp ? Array.from(zp.data as ArrayLike<number>, Number) : [0];
  if (w.dtype === 'int8' && z.every((v) => v === 0)) return w;
  const M = w.shape[0] ?? 1;
  const per = w.data.length / M;
  const out = new Int8Array(w.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Number(w.data[i]) - (z.length === 1 ? z[0]! : z[Math.floor(i / per)]!);
    if (v < -128 || v > 127) return undefined;
    out[i] = v;
  }
  return makeTensor('int8', w.shape, out);
}
