import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder, attr } from '../ir/builder.js';
import { printGraph } from '../ir/print.js';
import { f32 } from '../ir/tensor.js';
import { eliminateCommonSubexpressionsPass } from './eliminate-common-subexpressions.js';
import { eliminateDeadNodesPass } from './eliminate-dead-nodes.js';
import { applyPasses, assertEquivalent } from './testing.js';

test('equal constants and equal nodes merge; differing attributes do not', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [2]);
  b.init('c1', f32([2], [1, 2]));
  b.init('c2', f32([2], [1, 2]));
  const a1 = b.node('Add', [x, 'c1'], {}, { outputs: ['a1'] });
  const a2 = b.node('Add', [x, 'c2'], {}, { outputs: ['a2'] });
  const l1 = b.node('LeakyRelu', [a1], { alpha: attr.float(0.1) }, { outputs: ['l1'] });
  const l2 = b.node('LeakyRelu', [a2], { alpha: attr.float(0.2) }, { outputs: ['l2'] });
  const y = b.node('Mul', [l1, l2], {}, { outputs: ['y'] });
  b.output(y);
  const before = b.model();
  const after = applyPasses(before, [eliminateCommonSubexpressionsPass, eliminateDeadNodesPass]).model;
  assert.equal(
    printGraph(after.graph),
    [
      'graph g {',
      '  input %x: float32[2]',
      '  init %c1: float32[2]{1,2}',
      '  %a1 = Add(%x, %c1)',
      '  %l1 = LeakyRelu(%a1) {alpha=0.1}',
      '  %l2 = LeakyRelu(%a1) {alpha=0.2}',
      '  %y = Mul(%l1, %l2)',
      '  return %y: ?[*]',
      '}',
    ].join('\n'),
  );
  assertEquivalent(before, after);
});

test('a duplicate whose output is a graph output stays', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [2]);
  b.output(b.node('Relu', [x], {}, { outputs: ['y1'] }));
  b.output(b.node('Relu', [x], {}, { outputs: ['y2'] }));
  assert.equal(applyPasses(b.model(), [eliminateCommonSubexpressionsPass]).model.graph.nodes.length, 2);
});
