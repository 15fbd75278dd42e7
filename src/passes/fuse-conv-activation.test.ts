import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder, attr } from '../ir/builder.js';
import { printGraph } from '../ir/print.js';
import { f32 } from '../ir/tensor.js';
import { eliminateDeadNodesPass } from './eliminate-dead-nodes.js';
import { fuseConvActivationPass } from './fuse-conv-activation.js';
import { fuseConvResidualPass } from './fuse-conv-residual.js';
import { fuseHardSwishPass } from './fuse-hard-swish.js';
import { fuseSiluPass } from './fuse-silu.js';
import { applyPasses, assertEquivalent } from './testing.js';

const FUSION = [fuseHardSwishPass, fuseSiluPass, fuseConvResidualPass, fuseConvActivationPass, eliminateDeadNodesPass];

function convThen(act: (b: GraphBuilder, c: string) => string, opset = 13) {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 3, 7, 5]);
  b.randomInit('w', [5, 3, 3, 3], 1);
  b.randomInit('bias', [5], 2);
  const c = b.node('Conv', [x, 'w', 'bias'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { outputs: ['c'] });
  b.output(act(b, c));
  return b.model(opset);
}

test('each activation fuses into Conv with its parameters (with the reference as oracle)', () => {
  const cases: [string, (b: GraphBuilder, c: string) => string, string][] = [
    ['Relu', (b, c) => b.node('Relu', [c], {}, { outputs: ['y'] }), 'activation="Relu"'],
    [
      'Clip',
      (b, c) => (
        b.init('lo', f32([], [0])),
        b.init('hi', f32([], [6])),
        b.node('Clip', [c, 'lo', 'hi'], {}, { outputs: ['y'] })
      ),
      'activation="Clip", activation_params=[0,6]',
    ],
    [
      'LeakyRelu',
      (b, c) => b.node('LeakyRelu', [c], { alpha: attr.float(0.1) }, { outputs: ['y'] }),
      'activation="LeakyRelu", activation_params=[0.1]',
    ],
    [
      'HardSigmoid',
      (b, c) => b.node('HardSigmoid', [c], { alpha: attr.float(0.25) }, { outputs: ['y'] }),
      'activation="HardSigmoid", activation_params=[0.25,0.5]',
    ],
    ['Sigmoid', (b, c) => b.node('Sigmoid', [c], {}, { outputs: ['y'] }), 'activation="Sigmoid"'],
    [
      'HardSwish (x*HardSigmoid(x))',
      (b, c) =>
        b.node(
          'Mul',
          [c, b.node('HardSigmoid', [c], { alpha: attr.float(1 / 6), beta: attr.float(0.5) })],
          {},
          { outputs: ['y'] },
        ),
      'activation="HardSwish"',
    ],
    [
      'HardSwish (x*Clip(x+3,0,6)/6, paddle2onnx)',
      (b, c) => {
        b.init('three', f32([], [3]));
        b.init('zero', f32([], [0]));
        b.init('six', f32([], [6]));
        const clip = b.node('Clip', [b.node('Add', ['three', c]), 'zero', 'six']);
        return b.node('Div', [b.node('Mul', [c, clip]), 'six'], {}, { outputs: ['y'] });
      },
      'activation="HardSwish"',
    ],
    [
      'Silu (x*Sigmoid(x))',
      (b, c) => b.node('Mul', [b.node('Sigmoid', [c]), c], {}, { outputs: ['y'] }),
      'activation="Silu"',
    ],
  ];
  for (const [name, act, want] of cases) {
    const before = convThen(act);
    const after = applyPasses(before, FUSION).model;
    const text = printGraph(after.graph);
    assert.equal(after.graph.nodes.length, 1, `${name}:\n${text}`);
    assert.ok(
      text.includes(`%y = edgecnn.FusedConv(%x, %w, %bias) {${want}, kernel_shape=[3,3], pads=[1,1,1,1]}`),
      `${name}:\n${text}`,
    );
    assertEquivalent(before, after);
  }
});

test('Clip before opset 11 reads min/max attributes; HardSwish at opset 14 is the ONNX op', () => {
  const old = convThen(
    (b, c) => b.node('Clip', [c], { min: attr.float(-1), max: attr.float(1) }, { outputs: ['y'] }),
    10,
  );
  assert.match(printGraph(applyPasses(old, FUSION).model.graph), /activation_params=\[-1,1\]/);
  const hs = convThen((b, c) => b.node('HardSwish', [c], {}, { outputs: ['y'] }), 14);
  const after = applyPasses(hs, FUSION).model;
  assert.match(printGraph(after.graph), /activation="HardSwish"/);
  assertEquivalent(hs, after);
});

test('residual Add then Relu becomes one FusedConv; the residual may come from either side', () => {
  for (const convFirst of [true, false]) {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [1, 4, 5, 5]);
    b.randomInit('w', [4, 4, 3, 3], 1);
    const r = b.node('Relu', [x], {}, { outputs: ['r'] });
    const c = b.node('Conv', [r, 'w'], { kernel_shape: [3, 3], auto_pad: 'SAME_UPPER' }, { outputs: ['c'] });
    const a = b.node('Add', convFirst ? [c, r] : [r, c], {}, { outputs: ['a'] });
    b.output(b.node('Relu', [a], {}, { outputs: ['y'] }));
    const before = b.model(13);
    const after = applyPasses(before, FUSION).model;
    assert.equal(
      printGraph(after.graph).split('\n')[4],
      '  %y = edgecnn.FusedConv(%r, %w, _, %r) {activation="Relu", kernel_shape=[3,3], pads=[1,1,1,1]}',
    );
    assertEquivalent(before, after);
  }
});

test('Gemm + Relu becomes FusedGemm; broadcast residuals, shared outputs and Relu-before-Add stay unfused', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 2, 3, 3]);
  b.randomInit('w', [2, 2, 1, 1], 1);
  b.randomInit('row', [1, 2, 1, 1], 2);
  const c1 = b.node('Conv', [x, 'w'], { kernel_shape: [1, 1] });
  const a1 = b.node('Add', [c1, 'row']); // broadcast: not a residual
  const c2 = b.node('Conv', [a1, 'w'], { kernel_shape: [1, 1] }, { outputs: ['c2'] });
  const r2 = b.node('Relu', [c2]); // c2 is also a graph output: no fusion
  const f = b.node('Flatten', [r2]);
  b.randomInit('B', [18, 4], 3);
  const g = b.node('Gemm', [f, 'B']);
  b.output(b.node('Relu', [g], {}, { outputs: ['y'] }));
  b.output('c2');
  const before = b.model(13);
  const after = applyPasses(before, FUSION).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['Conv', 'Add', 'Conv', 'Relu', 'Flatten', 'FusedGemm'],
  );
  assertEquivalent(before, after);
});

test('x * HardSigmoid(x) with other parameters is not HardSwish', () => {
  const before = convThen((b, c) => b.node('Mul', [c, b.node('HardSigmoid', [c])], {}, { outputs: ['y'] }));
  const after = applyPasses(before, [fuseHardSwishPass]).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['Conv', 'HardSigmoid', 'Mul'],
  );
});

test('a two-input Sum is a residual Add too', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 3, 4, 4]);
  b.randomInit('w', [3, 3, 1, 1], 1);
  const c = b.node('Conv', [x, 'w'], { kernel_shape: [1, 1] });
  b.output(b.node('Relu', [b.node('Sum', [x, c])], {}, { outputs: ['y'] }));
  const before = b.model(13);
  const after = applyPasses(before, FUSION).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => n.opType),
    ['FusedConv'],
  );
  assertEquivalent(before, after);
});

test('a residual with the same symbolic batch fuses; an unknown spatial size does not', () => {
  for (const [hw, fused] of [
    [[5, 5], true],
    [['H', 'W'], false],
  ] as const) {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['N', 2, ...hw]);
    b.randomInit('w', [2, 2, 3, 3], 1);
    const c = b.node('Conv', [x, 'w'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    b.output(b.node('Add', [c, x], {}, { outputs: ['y'] }));
    const r = applyPasses(b.model(13), FUSION);
    assert.equal(r.model.graph.nodes[0]!.opType === 'FusedConv', fused, JSON.stringify(hw));
    if (!fused) assert.match(r.notes.join('\n'), /try --input-shape/);
  }
});
