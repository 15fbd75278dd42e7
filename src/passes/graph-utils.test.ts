import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { f32 } from '../ir/tensor.js';
import {
  cloneGraph,
  constantOf,
  forwardValue,
  hasSingleUse,
  indexGraph,
  makeNamer,
  perChannel,
  replaceUses,
  scaleOutputChannels,
} from './graph-utils.js';

test('forwardValue: uses are rewired; a graph output renames its source; input-to-output copies refuse', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [2]);
  const a = b.node('Neg', [x], {}, { outputs: ['a'] });
  b.node('Identity', [a], {}, { outputs: ['y'] });
  b.node('Relu', [a], {}, { outputs: ['r'] });
  b.output('y');
  b.output('r');
  const g = b.graph;
  assert.equal(forwardValue(g, indexGraph(g), 'y', 'a'), true);
  assert.deepEqual(
    g.nodes.map((n) => `${n.opType}:${n.inputs.join(',')}->${n.outputs.join(',')}`),
    ['Neg:x->y', 'Identity:y->y', 'Relu:y->r'],
  );
  assert.equal(forwardValue(g, indexGraph(g), 'r', 'x'), false);
});

test('constants, single use, names, per-channel vectors and weight scaling', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 2, 2, 2]);
  b.init('c', f32([2, 1, 1], [2, 3]));
  b.init('over', f32([1], [1]));
  b.graph.inputs.push({ name: 'over', dtype: 'float32', shape: [1] });
  b.node('Constant', [], { value: f32([], [5]) }, { outputs: ['k'] });
  const m = b.node('Mul', [x, 'c'], {}, { outputs: ['m'] });
  b.output(b.node('Add', [m, m], {}, { outputs: ['y'] }));
  const g = b.graph;
  const ix = indexGraph(g);
  assert.deepEqual([...constantOf(g, ix, 'k')!.data], [5]);
  assert.equal(constantOf(g, ix, 'over'), undefined, 'an initializer that is also an input can be overridden');
  assert.equal(hasSingleUse(ix, 'm'), false, 'Add(m, m) reads m twice');
  const namer = makeNamer(g);
  assert.equal(namer('m'), 'm_1');
  assert.equal(namer('m'), 'm_2');
  assert.deepEqual([...perChannel(g.initializers.get('c')!, 2, 4)!], [2, 3]);
  assert.equal(perChannel(g.initializers.get('c')!, 3, 4), undefined);
  assert.deepEqual([...perChannel(f32([], [4]), 3, 4)!], [4, 4, 4]);
  // ConvTranspose W [C=2, M/g=1, 1, 1] with group 2: output channel of row a is a.
  const w = scaleOutputChannels(f32([2, 1, 1, 1], [1, 1]), Float64Array.of(5, 7), true, 2);
  assert.deepEqual([...w.data], [5, 7]);
  const c = cloneGraph(g);
  c.nodes[0]!.inputs[0] = 'changed';
  assert.notEqual(g.nodes[0]!.inputs[0], 'changed');
});

test('replaceUses reaches outer-scope reads in subgraphs unless a local value shadows the name', () => {
  const inner = new GraphBuilder('body');
  inner.node('Neg', ['a'], {}, { outputs: ['n'] });
  inner.output('a');
  const shadow = new GraphBuilder('shadow');
  shadow.node('Neg', ['x'], {}, { outputs: ['a'] });
  shadow.node('Relu', ['a'], {}, { outputs: ['r'] });
  shadow.output('r');
  const b = new GraphBuilder('g');
  const c = b.input('c', 'bool', []);
  b.node('Identity', ['x0'], {}, { outputs: ['a'] });
  b.node(
    'If',
    [c],
    { then_branch: { kind: 'graph', value: inner.graph }, else_branch: { kind: 'graph', value: shadow.graph } },
    { outputs: ['y'] },
  );
  replaceUses(b.graph, 'a', 'z');
  assert.deepEqual(inner.graph.nodes[0]!.inputs, ['z']);
  assert.equal(inner.graph.outputs[0]!.name, 'z');
  assert.deepEqual(shadow.graph.nodes[1]!.inputs, ['a']);
});
