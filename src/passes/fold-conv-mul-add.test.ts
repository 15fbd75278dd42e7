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
