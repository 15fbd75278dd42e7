import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder, attr } from '../ir/builder.js';
import { printGraph } from '../ir/print.js';
import { expandFusedNodesPass } from './expand-fused-nodes.js';
import { applyPasses, assertEquivalent } from './testing.js';

function fused(opset: number, activation: string, params: number[] = []) {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 2, 4, 3]);
  b.randomInit('w', [2, 2, 3, 3], 1);
  b.randomInit('bias', [2], 2);
  const attrs: Record<string, string | number[] | ReturnType<typeof attr.floats>> = {
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
    activation,
  };
  if (params.length > 0) attrs['activation_params'] = attr.floats(params);
  b.output(b.node('FusedConv', [x, 'w', 'bias', x], attrs, { domain: 'edgecnn', outputs: ['y'] }));
  return b.model(opset);
}

test('FusedConv expands to Conv + Add + activation, written for the model opset', () => {
  const a = applyPasses(fused(13, 'Clip', [0, 6]), [expandFusedNodesPass]).model;
  const text = printGraph(a.graph);
  assert.match(text, /= Conv\(%x, %w, %bias\) \{kernel_shape=\[3,3\], pads=\[1,1,1,1\]\}/);
  assert.match(text, /= Add\(%y_conv, %x\)/);
  assert.match(text, /%y = Clip\(%y_add, %FusedConv_\d+_min, %FusedConv_\d+_max\)/);
  const old = printGraph(applyPasses(fused(10, 'Clip', [0, 6]), [expandFusedNodesPass]).model.graph);
  assert.match(old, /%y = Clip\(%y_add\) \{max=6, min=0\}/);
  assert.match(
    printGraph(applyPasses(fused(13, 'HardSwish'), [expandFusedNodesPass]).model.graph),
    /HardSigmoid.*\n.*%y = Mul/,
  );
  assert.match(
    printGraph(applyPasses(fused(14, 'HardSwish'), [expandFusedNodesPass]).model.graph),
    /%y = HardSwish\(%y_add\)/,
  );
});

test('every activation expands to standard ops that compute the fused reference', () => {
  const cases: [string, number[]][] = [
    ['Relu', []],
    ['Clip', [-0.5, 0.5]],
    ['LeakyRelu', [0.2]],
    ['HardSigmoid', [0.3, 0.4]],
    ['HardSwish', []],
    ['Sigmoid', []],
    ['Silu', []],
  ];
  for (const [act, params] of cases) {
    const before = fused(13, act, params);
    const after = applyPasses(before, [expandFusedNodesPass]).model;
    assert.ok(
      after.graph.nodes.every((n) => n.domain === ''),
      act,
    );
    // The fused model runs through the FusedConv record (once registered) or its expansion; compare both ways.
    assertEquivalent(after, before, 1e-6);
  }
});
