import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { printGraph } from '../ir/print.js';
import { f32 } from '../ir/tensor.js';
import { eliminateDeadNodesPass } from './eliminate-dead-nodes.js';
import { applyPasses, assertEquivalent } from './testing.js';

test('removes nodes, initializers and value infos no output depends on', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [2]);
  b.init('w', f32([2], [1, 2]));
  b.init('unused', f32([1], [3]));
  const dead = b.node('Mul', [x, 'w'], {}, { outputs: ['dead'] });
  b.node('Neg', [dead], {}, { outputs: ['dead2'] });
  const y = b.node('Relu', [x], {}, { outputs: ['y'] });
  b.graph.valueInfo.set('dead', { name: 'dead', dtype: 'float32' });
  b.output(y);
  const before = b.model();
  const after = applyPasses(before, [eliminateDeadNodesPass]).model;
  assert.equal(
    printGraph(after.graph),
    ['graph g {', '  input %x: float32[2]', '  %y = Relu(%x)', '  return %y: ?[*]', '}'].join('\n'),
  );
  assert.equal(after.graph.valueInfo.size, 0);
  assertEquivalent(before, after);
  // The input model is untouched.
  assert.equal(before.graph.nodes.length, 3);
});

test('keeps a node when any of its outputs is used', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [4]);
  const [, second] = b.nodeOutputs('Split', [x], { axis: 0 }, { outputs: ['a', 'b'] });
  b.output(second!);
  const after = applyPasses(b.model(), [eliminateDeadNodesPass]).model;
  assert.equal(after.graph.nodes.length, 1);
});
