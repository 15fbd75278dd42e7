import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { f32 } from '../ir/tensor.js';
import { eliminateDeadNodesPass } from './eliminate-dead-nodes.js';
import { foldConvMulAddPass } from './fold-conv-mul-add.js';
import { applyPasses, assertEquivalent } from './testing.js';

test('Conv -> Mul([C,1,1]) -> Add(scalar) -> Sub -> Div folds into W and B (odd channel count 5)', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 3, 6, 7]);
  b.randomInit('w', [5, 3, 3, 3], 1);
  b.randomInit('s', [5, 1, 1], 2);
  b.init('t', f32([], [0.25]));
  b.randomInit('u', [1, 5, 1, 1], 3);
  b.init('d', f32([1], [4]));
  const c = b.node('Conv', [x, 'w'], { kernel_shape: [3, 3], strides: [2, 1] });
  const m = b.node('Mul', ['s', c]);
  const a = b.node('Add', [m, 't']);
  const s = b.node('Sub', [a, 'u']);
  b.output(b.node('Div', [s, 'd'], {}, { outputs: ['y'] }));
  const before = b.model(13);
  const after = applyPasses(before, [foldConvMulAddPass, eliminateDeadNodesPass]).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['Conv'],
  );
  assertEquivalent(before, after);
});

test('non-per-channel constants, c - Conv, c / Conv and shared Conv outputs stay', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 2, 4, 4]);
  b.randomInit('w', [2, 2, 1, 1], 1);
  b.randomInit('spatial', [1, 1, 4, 4], 2);
  b.init('k', f32([], [3]));
  const c1 = b.node('Conv', [x, 'w'], { kernel_shape: [1, 1] });
  const y1 = b.node('Mul', [c1, 'spatial']);
  const c2 = b.node('Conv', [y1, 'w'], { kernel_shape: [1, 1] });
  const y2 = b.node('Sub', ['k', c2]);
  const c3 = b.node('Conv', [y2, 'w'], { kernel_shape: [1, 1] });
  const y3 = b.node('Div', ['k', c3]);
  const c4 = b.node('Conv', [y3, 'w'], { kernel_shape: [1, 1] }, { outputs: ['c4'] });
  b.output(b.node('Mul', [c4, 'k'], {}, { outputs: ['y'] }));
  b.output('c4');
  const before = b.model(13);
  const after = applyPasses(before, [foldConvMulAddPass]).model;
  assert.equal(after.graph.nodes.length, 8);
  assertEquivalent(before, after, 0);
});

test('a learnable affine x * s + t before a grouped, unpadded Conv folds into its weights and bias', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 6, 5, 7]);
  b.randomInit('w', [4, 3, 1, 3], 1);
  b.randomInit('bias', [4], 2);
  b.randomInit('s', [6, 1, 1], 3);
  b.init('t', f32([], [0.3]));
  const m = b.node('Mul', [x, 's']);
  const a = b.node('Add', ['t', m]);
  b.output(b.node('Conv', [a, 'w', 'bias'], { kernel_shape: [1, 3], group: 2, strides: [1, 2] }, { outputs: ['y'] }));
  const before = b.model(13);
  const after = applyPasses(before, [foldConvMulAddPass, eliminateDeadNodesPass]).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['Conv'],
  );
  assert.equal(after.graph.nodes[0]!.inputs[0], 'x');
  assertEquivalent(before, after);
});

test('a shift before a padded Conv stays (padding would read the shift), a scale still folds', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 2, 4, 4]);
  b.randomInit('w', [3, 2, 3, 3], 1);
  b.init('s', f32([], [2]));
  b.init('t', f32([], [0.5]));
  const a = b.node('Add', [x, 't']);
  const m = b.node('Mul', [a, 's']);
  b.output(b.node('Conv', [m, 'w'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { outputs: ['y'] }));
  // A per-channel constant that broadcasts x to more channels is not an affine of x's channels.
  const x1 = b.input('x1', 'float32', [1, 1, 4, 4]);
  b.randomInit('s2', [1, 2, 1, 1], 4);
  const m2 = b.node('Mul', [x1, 's2']);
  b.output(b.node('Conv', [m2, 'w'], { kernel_shape: [3, 3] }, { outputs: ['y2'] }));
  const before = b.model(13);
  const after = applyPasses(before, [foldConvMulAddPass, eliminateDeadNodesPass]).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['Add', 'Conv', 'Mul', 'Conv'],
  );
  assertEquivalent(before, after);
});
