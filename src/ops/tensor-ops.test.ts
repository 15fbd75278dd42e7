import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLAIMED_OPS, getOp } from './registry.js';
import { TENSOR_OPS } from './tensor-ops.js';

/** The operators this module is responsible for (the tensor half of CLAIMED_OPS). */
const EXPECTED = [
  'Abs',
  'Add',
  'ArgMax',
  'Cast',
  'Ceil',
  'Clip',
  'Concat',
  'Constant',
  'ConstantOfShape',
  'DepthToSpace',
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
  'HardSigmoid',
  'HardSwish',
  'Identity',
  'LeakyRelu',
  'LogSoftmax',
  'Max',
  'Mean',
  'Min',
  'Mul',
  'Neg',
  'PRelu',
  'Pad',
  'Pow',
  'Range',
  'Reciprocal',
  'ReduceL2',
  'ReduceMax',
  'ReduceMean',
  'ReduceSum',
  'Relu',
  'Reshape',
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
  'Where',
];

test('TENSOR_OPS is sorted by opType, has no duplicates and is exactly the expected list', () => {
  const names = TENSOR_OPS.map((d) => d.opType);
  assert.deepEqual(names, [...names].sort());
  assert.deepEqual(names, EXPECTED);
});

test('every tensor op is claimed and registered in the default domain', () => {
  const claimed = new Set<string>(CLAIMED_OPS);
  for (const d of TENSOR_OPS) {
    assert.ok(claimed.has(d.opType), `${d.opType} is in CLAIMED_OPS`);
    assert.equal(d.domain, '');
    assert.equal(getOp('', d.opType), d);
    assert.ok(d.sinceVersion >= 1 && d.sinceVersion <= 14, `${d.opType} sinceVersion ${d.sinceVersion}`);
  }
});
