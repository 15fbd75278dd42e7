import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder, attr, randomF32 } from '../ir/builder.js';
import { f32 } from '../ir/tensor.js';
import { decomposeBatchNormPass } from './decompose-batch-norm.js';
import { eliminateDeadNodesPass } from './eliminate-dead-nodes.js';
import { foldBatchNormPass } from './fold-batch-norm.js';
import { foldConvMulAddPass } from './fold-conv-mul-add.js';
import { applyPasses, assertEquivalent } from './testing.js';

function bnParams(b: GraphBuilder, c: number, seed: number): string[] {
  b.randomInit('gamma', [c], seed, 0.5, 1.5);
  b.randomInit('beta', [c], seed + 1);
  b.randomInit('mean', [c], seed + 2);
  b.randomInit('var', [c], seed + 3, 0.1, 2);
  return ['gamma', 'beta', 'mean', 'var'];
}

test('BatchNormalization folds into a grouped Conv with and without bias (5 channels, 7x6 input)', () => {
  for (const withBias of [true, false]) {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [1, 5, 7, 6]);
    b.randomInit('w', [5, 1, 3, 3], 1);
    if (withBias) b.randomInit('bias', [5], 2);
    const c = b.node('Conv', [x, 'w', ...(withBias ? ['bias'] : [])], {
      kernel_shape: [3, 3],
      pads: [1, 1, 1, 1],
      group: 5,
    });
    const y = b.node(
      'BatchNormalization',
      [c, ...bnParams(b, 5, 10)],
      { epsilon: attr.float(1e-3) },
      { outputs: ['y'] },
    );
    b.output(y);
    const before = b.model(13);
    const after = applyPasses(before, [foldBatchNormPass, eliminateDeadNodesPass]).model;
    assert.deepEqual(
      after.graph.nodes.map((n) => n.opType),
      ['Conv'],
    );
    assert.equal(after.graph.nodes[0]!.outputs[0], 'y');
    assertEquivalent(before, after);
  }
});

test('BatchNormalization folds into ConvTranspose with groups (W is [C, M/g, k, k])', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 4, 3, 5]);
  b.randomInit('w', [4, 3, 2, 2], 1);
  const c = b.node('ConvTranspose', [x, 'w'], { kernel_shape: [2, 2], strides: [2, 2], group: 2 });
  b.output(b.node('BatchNormalization', [c, ...bnParams(b, 6, 20)], {}, { outputs: ['y'] }));
  const before = b.model(13);
  const after = applyPasses(before, [foldBatchNormPass, eliminateDeadNodesPass]).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['ConvTranspose'],
  );
  assertEquivalent(before, after);
});

test('BatchNormalization folds into Gemm (transB, alpha, beta, bias C)', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [2, 7]);
  b.randomInit('B', [5, 7], 3);
  b.init('C', f32([5], [1, 2, 3, 4, 5]));
  const g = b.node('Gemm', [x, 'B', 'C'], { transB: 1, alpha: attr.float(0.5), beta: attr.float(2) });
  b.output(b.node('BatchNormalization', [g, ...bnParams(b, 5, 30)], {}, { outputs: ['y'] }));
  const before = b.model(13);
  const after = applyPasses(before, [foldBatchNormPass, eliminateDeadNodesPass]).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['Gemm'],
  );
  assertEquivalent(before, after);
});

test('a BN whose producer has another user is decomposed to Mul+Add instead, then nothing else folds', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 3, 4, 4]);
  b.randomInit('w', [3, 3, 1, 1], 1);
  const c = b.node('Conv', [x, 'w'], { kernel_shape: [1, 1] }, { outputs: ['c'] });
  const y = b.node('BatchNormalization', [c, ...bnParams(b, 3, 40)], {}, { outputs: ['y'] });
  b.output(y);
  b.output(c);
  const before = b.model(13);
  const r = applyPasses(before, [
    foldBatchNormPass,
    decomposeBatchNormPass,
    foldConvMulAddPass,
    eliminateDeadNodesPass,
  ]);
  assert.deepEqual(
    r.model.graph.nodes.map((n) => n.opType),
    ['Conv', 'Mul', 'Add'],
  );
  assert.deepEqual([...r.model.graph.initializers.get('y_scale')!.shape], [3, 1, 1]);
  assertEquivalent(before, r.model);
});

test('a lone BN after a non-conv op becomes a per-channel scale and shift', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [2, 3, 5]);
  const r = b.node('Relu', [x]);
  b.output(b.node('BatchNormalization', [r, ...bnParams(b, 3, 50)], {}, { outputs: ['y'] }));
  const before = b.model(13);
  const after = applyPasses(before, [foldBatchNormPass, decomposeBatchNormPass, eliminateDeadNodesPass]).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['Relu', 'Mul', 'Add'],
  );
  assertEquivalent(before, after);
});

test('non-constant BN statistics are left alone with a note', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 2, 3, 3]);
  const m = b.input('mean', 'float32', [2]);
  b.randomInit('w', [2, 2, 1, 1], 1);
  b.init('one', f32([2], [1, 1]));
  b.init('zero', f32([2], [0, 0]));
  const c = b.node('Conv', [x, 'w'], { kernel_shape: [1, 1] });
  b.output(b.node('BatchNormalization', [c, 'one', 'zero', m, 'one'], {}, { outputs: ['y'] }));
  const r = applyPasses(b.model(13), [foldBatchNormPass, decomposeBatchNormPass]);
  assert.deepEqual(
    r.model.graph.nodes.map((n) => n.opType),
    ['Conv', 'BatchNormalization'],
  );
  assert.match(r.notes.join('\n'), /not constant/);
  void randomF32;
});
