import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { f32, i64 } from '../ir/tensor.js';
import { foldPadPass } from './fold-pad.js';
import { applyPasses, assertEquivalent } from './testing.js';

function padded(
  next: 'Conv' | 'AveragePool' | 'MaxPool',
  opts: { value?: number; relu?: boolean; ownPads?: number[]; countIncludePad?: number } = {},
) {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 3, 5, 7]);
  const src = opts.relu ? b.node('Relu', [x]) : x;
  b.init('pads', i64([8], [0, 0, 1, 2, 0, 0, 2, 1]));
  const padInputs = [src, 'pads'];
  if (opts.value !== undefined) {
    b.init('v', f32([], [opts.value]));
    padInputs.push('v');
  }
  const p = b.node('Pad', padInputs, { mode: 'constant' });
  const attrs: Record<string, number | number[]> = { kernel_shape: [3, 3], pads: opts.ownPads ?? [0, 0, 0, 0] };
  if (opts.countIncludePad !== undefined) attrs['count_include_pad'] = opts.countIncludePad;
  const ins = [p];
  if (next === 'Conv') ins.push(b.randomInit('w', [4, 3, 3, 3], 1));
  b.output(b.node(next, ins, attrs, { outputs: ['y'] }));
  return b.model(13);
}

test('Pad folds into Conv pads (asymmetric)', () => {
  const before = padded('Conv', { ownPads: [1, 0, 0, 1] });
  const after = applyPasses(before, [foldPadPass]).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['Conv'],
  );
  const pads = after.graph.nodes[0]!.attributes.get('pads');
  assert.deepEqual(pads?.value, [2, 2, 2, 2]);
  assertEquivalent(before, after);
});

test('Pad folds into AveragePool with count_include_pad=1, and into MaxPool only after Relu', () => {
  const avg = padded('AveragePool');
  const avgAfter = applyPasses(avg, [foldPadPass]).model;
  assert.deepEqual(
    avgAfter.graph.nodes.map((n) => n.opType),
    ['AveragePool'],
  );
  assertEquivalent(avg, avgAfter);

  const maxRelu = padded('MaxPool', { relu: true });
  const maxAfter = applyPasses(maxRelu, [foldPadPass]).model;
  assert.deepEqual(
    maxAfter.graph.nodes.map((n) => n.opType),
    ['Relu', 'MaxPool'],
  );
  assertEquivalent(maxRelu, maxAfter);

  // Without the Relu, zero padding could win the max: no fold.
  assert.deepEqual(
    applyPasses(padded('MaxPool'), [foldPadPass]).model.graph.nodes.map((n) => n.opType),
    ['Pad', 'MaxPool'],
  );
});

test('non-zero pad value and AveragePool that excludes its own padding stay', () => {
  assert.equal(applyPasses(padded('Conv', { value: 1 }), [foldPadPass]).model.graph.nodes.length, 2);
  assert.equal(
    applyPasses(padded('AveragePool', { ownPads: [1, 1, 1, 1], countIncludePad: 0 }), [foldPadPass]).model.graph.nodes
      .length,
    2,
  );
});
