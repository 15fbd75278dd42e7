/**
 * Reading the quantization of an imported model (QDQ from another tool, or QOperator): for every
 * QuantizeLinear/DequantizeLinear with constant parameters, the tensor it quantizes or dequantizes and its
 * scale(s), zero point(s), type and axis; and which float ops sit between DequantizeLinear inputs and a
 * QuantizeLinear output, i.e. the ops an int8 runtime can run as integer kernels. QOperator nodes
 * (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, ...) are counted as already integer; qoperator.ts
 * rewrites them into QDQ form for the compiler.
 */
import type { DType } from '../ir/dtype.js';
import type { Model, Node } from '../ir/graph.js';
import { attrInt } from '../ir/graph.js';
import { constantOf, indexGraph } from '../passes/graph-utils.js';

export interface TensorQuantParams {
  /** The float tensor (Q input or DQ output). */
  tensor: string;
  /** The integer tensor (Q output or DQ input). */
  quantized: string;
  scales: number[];
  zeroPoints: number[];
  dtype: DType;
  /** Axis for per-axis parameters, undefined when per-tensor. */
  axis?: number;
  /** A weight (the DQ input is a constant). */
  constant: boolean;
}

export interface QdqSummary {
  params: TensorQuantParams[];
  /** Float ops whose float inputs all come from DequantizeLinear and whose outputs all go to QuantizeLinear. */
  integerOps: Node[];
  /** QOperator-format nodes. */
  qoperatorNodes: Node[];
}

export const QOPERATOR_OPS = [
  'QLinearConv',
  'QLinearMatMul',
  'ConvInteger',
  'MatMulInteger',
  'QGemm',
  'QLinearAdd',
  'QLinearMul',
  'QLinearConcat',
  'QLinearGlobalAveragePool',
  'QLinearAveragePool',
  'QLinearSigmoid',
  'QLinearLeakyRelu',
] as const;

/** The quantization parameters and integer-runnable ops of a QDQ or QOperator model. */
export function readQdqParams(model: Model): QdqSummary {
  const g = model.graph;
  const index = indexGraph(g);
  const params: TensorQuantParams[] = [];
  for (const n of g.nodes) {
    if (n.opType !== 'QuantizeLinear' && n.opType !== 'DequantizeLinear') continue;
    const scale = constantOf(g, index, n.inputs[1] ?? '');
    const zp = n.inputs[2] ? constantOf(g, index, n.inputs[2]) : undefined;
    if (!scale) continue;
    const isQ = n.opType === 'QuantizeLinear';
    const quantized = isQ ? n.outputs[0]! : n.inputs[0]!;
    const perAxis = scale.data.length > 1;
    const p: TensorQuantParams = {
      tensor: isQ ? n.inputs[0]! : n.outputs[0]!,
      quantized,
      scales: Array.from(scale.data as Float32Array, Number),
      zeroPoints: zp ? Array.from(zp.data as ArrayLike<number>, Number) : [0],
      dtype: zp?.dtype ?? (isQ ? 'uint8' : (constantOf(g, index, quantized)?.dtype ?? 'uint8')),
      constant: !isQ && constantOf(g, index, n.inputs[0]!) !== undefined,
    };
    if (perAxis) p.axis = attrInt(n, 'axis', 1);
    params.push(p);
  }
  const fromDq = (name: string): boolean =>
    index.producer.get(name)?.opType === 'DequantizeLinear' || constantOf(g, index, name) !== undefined;
  const integerOps = g.nodes.filter((n) => {
    if (n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear' || n.opType === 'Constant') return false;
    const ins = n.inputs.filter((i) => i !== '');
    if (
      ins.length === 0 ||
      !ins.every(fromDq) ||
      !ins.some((i) => index.producer.get(i)?.opType === 'DequantizeLinear')
    )
      return false;
    return n.outputs.every((o) => {
      const users = index.consumers.get(o) ?? [];
      return users.length > 0 && users.every((u) => u.opType === 'QuantizeLinear');
    });
  });
  const qoperatorNodes = g.nodes.filter((n) => (QOPERATOR_OPS as readonly string[]).includes(n.opType));
  return { params, integerOps, qoperatorNodes };
}
