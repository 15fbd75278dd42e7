import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { printGraph } from '../ir/print.js';
import { f32, i64 } from '../ir/tensor.js';
import { eliminateDeadNodesPass } from './eliminate-dead-nodes.js';
import { foldConstantsPass } from './fold-constants.js';
import { applyPasses, assertEquivalent } from './testing.js';

/** ShuffleNet's channel-shuffle shape arithmetic: Shape -> Gather -> Div -> Unsqueeze -> Concat -> Reshape. */
function shuffleGraph(batch: number | string) {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [batch, 6, 5, 3]);
  b.init('zero', i64([], [0]));
  b.init('two', i64([], [2]));
  b.node('Constant', [], { value: i64([1], [2]) }, { outputs: ['groups'] });
  b.init('rest', i64([3], [-1, 5, 3]));
  const shape = b.node('Shape', [x], {}, { outputs: ['shape'] });
  const n = b.node('Gather', [shape, 'zero'], { axis: 0 }, { outputs: ['n'] });
  const half = b.node('Div', [n, 'two'], {}, { outputs: ['half'] });
  const u = b.node('Unsqueeze', [half, 'zero'], {}, { outputs: ['u'] });
  const target = b.node('Concat', [u, 'groups', 'rest'], { axis: 0 }, { outputs: ['target'] });
  const y = b.node('Reshape', [x, target], {}, { outputs: ['y'] });
  b.output(y);
  return b.model(13);
}

test('shape arithmetic folds to one constant for a concrete input shape', () => {
  const before = shuffleGraph(2);
  const after = applyPasses(before, [foldConstantsPass, eliminateDeadNodesPass]).model;
  assert.equal(
    printGraph(after.graph),
    [
      'graph g {',
      '  input %x: float32[2,6,5,3]',
      '  init %target: int64[5]{1,2,-1,5,3}',
      '  %y = Reshape(%x, %target)',
      '  return %y: ?[*]',
      '}',
    ].join('\n'),
  );
  assertEquivalent(before, after, 0);
});

test('a symbolic batch keeps Shape and what depends on it, but the user can fix the shape', () => {
  const before = shuffleGraph('N');
  const kept = applyPasses(before, [foldConstantsPass, eliminateDeadNodesPass]).model;
  assert.deepEqual(
    kept.graph.nodes.map((n) => n.opType),
    ['Shape', 'Gather', 'Div', 'Unsqueeze', 'Concat', 'Reshape'],
  );
  // The Constant node did become an initializer.
  assert.ok(kept.graph.initializers.has('groups'));
  const fixed = applyPasses(before, [foldConstantsPass, eliminateDeadNodesPass], { x: [4, 6, 5, 3] }).model;
  assert.deepEqual(
    fixed.graph.nodes.map((n) => n.opType),
    ['Reshape'],
  );
  assert.equal(printGraph(fixed.graph).includes('{2,2,-1,5,3}'), true);
});

test('constant float subgraphs fold; graph outputs and random ops stay', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [3]);
  b.init('a', f32([3], [1, 2, 3]));
  b.init('b', f32([3], [4, 5, 6]));
  const s = b.node('Add', ['a', 'b'], {}, { outputs: ['s'] });
  const e = b.node('Exp', [s], {}, { outputs: ['e'] });
  const r = b.node('RandomUniform', [], { shape: [3] }, { outputs: ['r'] });
  b.output(b.node('Mul', [x, e], {}, { outputs: ['y'] }));
  b.output(r);
  const c = b.node('Neg', ['a'], {}, { outputs: ['c'] });
  b.output(c);
  const after = applyPasses(b.model(13), [foldConstantsPass, eliminateDeadNodesPass]).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['RandomUniform', 'Mul', 'Neg'],
  );
  const ev = after.graph.initializers.get('e')!;
  assert.ok(Math.abs(Number(ev.data[2]) - Math.exp(9)) / Math.exp(9) < 1e-6);
});
