import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from './builder.js';
import { f32 } from './tensor.js';
import { verifyErrors, verifyGraph } from './verify.js';

function kinds(g: Parameters<typeof verifyGraph>[0]): string[] {
  return verifyGraph(g).map((p) => p.kind);
}

test('a well-formed graph has no problems', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [1, 4]);
  const y = b.node('Relu', [x]);
  b.output(y);
  assert.deepEqual(verifyGraph(b.graph), []);
});

test('SSA: a value defined twice is named', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [1]);
  b.node('Relu', [x], {}, { outputs: ['y'] });
  b.node('Neg', [x], {}, { outputs: ['y'], name: 'second' });
  b.output('y');
  const errs = verifyErrors(b.graph);
  assert.equal(errs.length, 1);
  assert.equal(errs[0]!.kind, 'multiple-definition');
  assert.match(errs[0]!.message, /'y' is defined by node 'second'/);
});

test('use before definition and undefined inputs are told apart', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [1]);
  b.node('Relu', ['later'], {}, { outputs: ['a'], name: 'first' });
  b.node('Neg', [x], {}, { outputs: ['later'] });
  b.node('Add', ['a', 'nowhere'], {}, { outputs: ['z'] });
  b.output('z');
  assert.deepEqual(
    verifyErrors(b.graph).map((p) => p.kind),
    ['use-before-definition', 'undefined-input'],
  );
});

test('graph outputs must be defined; dead nodes and unused initializers are warnings', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [1]);
  b.init('w', f32([1], [2]));
  b.node('Relu', [x]);
  b.output('missing');
  assert.deepEqual(kinds(b.graph).sort(), ['dangling-output', 'undefined-graph-output', 'unused-initializer']);
  assert.deepEqual(
    verifyErrors(b.graph).map((p) => p.kind),
    ['undefined-graph-output'],
  );
});

test('initializer and value_info consistency', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2]);
  b.graph.initializers.set('w', { dtype: 'float32', shape: [3], data: new Float32Array(2) });
  const y = b.node('Add', [x, 'w']);
  b.output(y);
  b.graph.valueInfo.set('w', { name: 'w', dtype: 'int64' });
  b.graph.valueInfo.set('ghost', { name: 'ghost', dtype: 'float32' });
  assert.deepEqual(kinds(b.graph).sort(), ['initializer-mismatch', 'stale-value-info', 'value-info-mismatch']);
});
