/**
 * The op table, keyed by `domain:opType`. The only hand-edited lists are NN_OPS, TENSOR_OPS, FUSED_OPS (the
 * optimizer's `edgecnn` operators; each op's record lives in its own module), CONTRIB_QUANT_OPS (onnxruntime's
 * `com.microsoft` quantized ops) and CLAIMED_OPS below, which a test checks against the table.
 */
import { CONTRIB_QUANT_OPS } from './contrib-quant-ops.js';
import { FUSED_OPS } from './fused-ops.js';
import { NN_OPS } from './nn-ops.js';
import { TENSOR_OPS } from './tensor-ops.js';
import { type OpDef, opKey } from './types.js';

const TABLE = new Map<string, OpDef>();
for (const def of [...NN_OPS, ...TENSOR_OPS, ...FUSED_OPS, ...CONTRIB_QUANT_OPS]) {
  const key = opKey(def.domain, def.opType);
  if (TABLE.has(key)) throw new Error(`op ${key} is registered twice`);
  TABLE.set(key, def);
}

/** The record for an operator, or undefined when edgecnn does not implement it. */
export function getOp(domain: string, opType: string): OpDef | undefined {
  return TABLE.get(opKey(domain, opType));
}

export function allOps(): OpDef[] {
  return [...TABLE.values()].sort((a, b) => opKey(a.domain, a.opType).localeCompare(opKey(b.domain, b.opType)));
}

/** ONNX operators (default domain) that edgecnn claims to implement faithfully, opsets 7 to 21. Sorted. */
export const CLAIMED_OPS = [
  'Abs',
  'Add',
  'ArgMax',
  'AveragePool',
  'BatchNormalization',
  'Cast',
  'Ceil',
  'Clip',
  'Concat',
  'Constant',
  'ConstantOfShape',
  'Conv',
  'ConvInteger',
  'ConvTranspose',
  'DepthToSpace',
  'DequantizeLinear',
  'Div',
  'Dropout',
  'Elu',
  'Equal',
  'Erf',
  'Exp',
  'Expand',
  'Flatten',
  'Floor',
  'Gather',
  'Gemm',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'HardSigmoid',
  'HardSwish',
  'Identity',
  'InstanceNormalization',
  'LRN',
  'LeakyRelu',
  'LogSoftmax',
  'MatMul',
  'MatMulInteger',
  'Max',
  'MaxPool',
  'Mean',
  'Min',
  'Mul',
  'Neg',
  'PRelu',
  'Pad',
  'Pow',
  'QLinearConv',
  'QLinearMatMul',
  'QuantizeLinear',
  'Range',
  'Reciprocal',
  'ReduceL2',
  'ReduceMax',
  'ReduceMean',
  'ReduceSum',
  'Relu',
  'Reshape',
  'Resize',
  'Selu',
  'Shape',
  'Sigmoid',
  'Slice',
  'Softmax',
  'Softplus',
  'SpaceToDepth',
  'Split',
  'Sqrt',
  'Squeeze',
  'Sub',
  'Sum',
  'Tanh',
  'Tile',
  'Transpose',
  'Unsqueeze',
  'Upsample',
  'Where',
] as const;
