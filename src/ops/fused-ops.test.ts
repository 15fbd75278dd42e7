import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder, attr, randomF32 } from '../ir/builder.js';
import { EdgecnnError } from '../ir/errors.js';
import { runReference } from './reference-executor.js';
import { FUSED_OPS, FusedConv, FusedGemm, Silu } from './fused-ops.js';

test('FusedConv reference = activation(Conv + B + Residual) computed by the plain graph (5 channels, 7x6)', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 3, 7, 6]);
  const r = b.input('r', 'float32', [1, 5, 4, 3]);
  b.randomInit('w', [5, 3, 3, 3], 1);
  b.randomInit('bias', [5], 2);
  const c = b.node('Conv', [x, 'w', 'bias'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 0] });
  const a = b.node('Add', [c, r]);
  b.init('lo', randomF32([], 3, -0.5, -0.4));
  b.init('hi', randomF32([], 4, 0.4, 0.5));
  b.output(b.node('Clip', [a, 'lo', 'hi'], {}, { outputs: ['y'] }));
  const feeds = { x: randomF32([1, 3, 7, 6], 5), r: randomF32([1, 5, 4, 3], 6) };
  const want = runReference(b.model(13), feeds)['y']!;
  const node = {
    name: 'f',
    opType: 'FusedConv',
    domain: 'edgecnn',
    inputs: ['x', 'w', 'bias', 'r'],
    outputs: ['y'],
    attributes: new Map([
      ['kernel_shape', attr.ints([3, 3])],
      ['strides', attr.ints([2, 2])],
      ['pads', attr.ints([1, 1, 1, 0])],
      ['activation', { kind: 'string', value: 'Clip' } as const],
      [
        'activation_params',
        attr.floats([Number(b.graph.initializers.get('lo')!.data[0]), Number(b.graph.initializers.get('hi')!.data[0])]),
      ],
    ]),
  };
  const [got] = FusedConv.reference(
    [feeds.x, b.graph.initializers.get('w'), b.graph.initializers.get('bias'), feeds.r],
    { node, opset: 1 },
  );
  assert.deepEqual([...got!.shape], [1, 5, 4, 3]);
  assert.deepEqual([...got!.data], [...want.data]);
  const [t] = FusedConv.inferTypes(
    [
      { dtype: 'float32', shape: [1, 3, 7, 6] },
      { dtype: 'float32', shape: [5, 3, 3, 3] },
    ],
    { node, opset: 1 },
  );
  assert.deepEqual(t, { dtype: 'float32', shape: [1, 5, 4, 3] });
});

test('FusedGemm and Silu references; a wrong residual shape or unknown activation is a named error', () => {
  const a = randomF32([2, 3], 1);
  const bm = randomF32([3, 4], 2);
  const node = {
    name: 'g',
    opType: 'FusedGemm',
    domain: 'edgecnn',
    inputs: ['a', 'b'],
    outputs: ['y'],
    attributes: new Map([['activation', { kind: 'string', value: 'Relu' } as const]]),
  };
  const [y] = FusedGemm.reference([a, bm], { node, opset: 1 });
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 4; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += Number(a.data[i * 3 + k]) * Number(bm.data[k * 4 + j]);
      assert.ok(Math.abs(Number(y!.data[i * 4 + j]) - Math.max(0, s)) < 1e-6);
    }
  }
  const [s] = Silu.reference([randomF32([5], 3)], { node: { ...node, opType: 'Silu' }, opset: 1 });
  const x0 = Number(randomF32([5], 3).data[0]);
  assert.ok(Math.abs(Number(s!.data[0]) - x0 / (1 + Math.exp(-x0))) < 1e-6);

  const bad = { ...node, attributes: new Map([['activation', { kind: 'string', value: 'Gelu' } as const]]) };
  assert.throws(
    () => FusedGemm.reference([a, bm], { node: bad, opset: 1 }),
    (e: unknown) => e instanceof EdgecnnError && /unknown activation 'Gelu'/.test(e.message),
  );
  const conv = { ...node, opType: 'FusedConv', attributes: new Map([['kernel_shape', attr.ints([1, 1])]]) };
  assert.throws(
    () =>
      FusedConv.reference(
        [randomF32([1, 2, 3, 3], 1), randomF32([2, 2, 1, 1], 2), undefined, randomF32([1, 2, 3, 1], 3)],
        { node: conv, opset: 1 },
      ),
    (e: unknown) => e instanceof EdgecnnError && /Residual has shape \[1,2,3,1\]/.test(e.message),
  );
  assert.deepEqual(
    FUSED_OPS.map((d) => d.opType),
    ['FusedConv', 'FusedGemm', 'HardSwish', 'Silu'],
  );
});
