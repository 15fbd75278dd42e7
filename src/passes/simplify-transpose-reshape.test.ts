import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { printGraph } from '../ir/print.js';
import { i64 } from '../ir/tensor.js';
import { eliminateDeadNodesPass } from './eliminate-dead-nodes.js';
import { simplifyGemmInputPass } from './simplify-gemm-input.js';
import { simplifyTransposeReshapePass } from './simplify-transpose-reshape.js';
import { applyPasses, assertEquivalent } from './testing.js';

test('inverse Transposes cancel; others compose into one', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [2, 3, 4, 5]);
  const t1 = b.node('Transpose', [x], { perm: [0, 2, 3, 1] });
  const t2 = b.node('Transpose', [t1], { perm: [0, 3, 1, 2] });
  const r = b.node('Relu', [t2], {}, { outputs: ['r'] });
  const t3 = b.node('Transpose', [r], { perm: [1, 0, 2, 3] });
  b.output(b.node('Transpose', [t3], { perm: [0, 1, 3, 2] }, { outputs: ['y'] }));
  const before = b.model(13);
  const after = applyPasses(before, [simplifyTransposeReshapePass, eliminateDeadNodesPass]).model;
  assert.equal(
    printGraph(after.graph),
    [
      'graph g {',
      '  input %x: float32[2,3,4,5]',
      '  %r = Relu(%x)',
      '  %y = Transpose(%r) {perm=[1,0,3,2]}',
      '  return %y: ?[*]',
      '}',
    ].join('\n'),
  );
  assertEquivalent(before, after, 0);
});

test('Reshape chains merge and no-op reshapes vanish; a Reshape with a 0 entry keeps its input', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [2, 3, 4]);
  b.init('s1', i64([2], [6, 4]));
  b.init('s2', i64([3], [4, 3, 2]));
  b.init('s3', i64([3], [2, 3, 4]));
  b.init('s4', i64([3], [0, 2, -1]));
  const r1 = b.node('Reshape', [x, 's1']);
  const r2 = b.node('Reshape', [r1, 's2']);
  const r3 = b.node('Reshape', [r2, 's3'], {}, { outputs: ['r3'] });
  const n = b.node('Neg', [r3]);
  const r5 = b.node('Reshape', [n, 's1']);
  b.output(b.node('Reshape', [r5, 's4'], {}, { outputs: ['y'] }));
  const before = b.model(13);
  const after = applyPasses(before, [simplifyTransposeReshapePass, eliminateDeadNodesPass]).model;
  // r1 -> r2 -> r3 collapse to a reshape of x to its own shape, which disappears; [0,2,-1] reads r5's dims.
  const [neg, first, second] = after.graph.nodes;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['Neg', 'Reshape', 'Reshape'],
  );
  assert.equal(neg!.inputs[0], 'x');
  assert.equal(first!.inputs[0], neg!.outputs[0]);
  assert.equal(second!.inputs[0], first!.outputs[0]);
  assertEquivalent(before, after, 0);
});

test('Reshape to [N, -1] before Gemm becomes Flatten; Flatten of a 2-D value vanishes', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [2, 3, 2, 2]);
  b.init('s', i64([2], [2, -1]));
  b.randomInit('B', [12, 5], 1);
  b.randomInit('B2', [5, 3], 2);
  const r = b.node('Reshape', [x, 's']);
  const g = b.node('Gemm', [r, 'B']);
  const f = b.node('Flatten', [g], { axis: 1 });
  b.output(b.node('Gemm', [f, 'B2'], {}, { outputs: ['y'] }));
  const before = b.model(13);
  const after = applyPasses(before, [simplifyGemmInputPass, eliminateDeadNodesPass]).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['Flatten', 'Gemm', 'Gemm'],
  );
  assertEquivalent(before, after, 0);
});
