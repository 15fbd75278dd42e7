import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONV_VARIANTS, conv } from './conv.js';
import { type ConvCase, checkConvCase, convSpecOf } from './conv-check.js';
import { IN_RELAXED_CHILD, relaxedTestMode } from './relaxed-child.js';

const relaxed = relaxedTestMode(import.meta.url);
const isas = IN_RELAXED_CHILD ? ['wasmrelaxed'] : relaxed.mode === 'here' ? ['wasmsimd', 'wasmrelaxed'] : ['wasmsimd'];

const cv = (
  inC: number,
  outC: number,
  H: number,
  W: number,
  k: number,
  s: number,
  p: number,
  extra: Partial<ConvCase> = {},
): ConvCase => ({
  inC,
  outC,
  inH: H,
  inW: W,
  kernel: [k, k],
  stride: [s, s],
  pads: [p, p, p, p],
  ...extra,
});

for (const vr of CONV_VARIANTS.filter((x) => isas.includes(x.isa))) {
  test(`conv ${vr.tile}-${vr.isa} matches the Conv reference on awkward shapes`, () => {
    const cases: ConvCase[] = [
      cv(3, 32, 11, 13, 3, 2, 1), // mobilenet-style first layer
      cv(3, 7, 13, 12, 7, 2, 3), // resnet-style stem
      cv(5, 13, 6, 7, 3, 1, 1),
      cv(vr.nr, vr.nr, vr.mr, vr.mr, 3, 1, 1),
      cv(vr.nr + 1, vr.nr - 1, vr.mr + 1, vr.mr + 2, 3, 1, 1, { batch: 2 }),
      cv(7, 5, 9, 9, 1, 2, 0), // strided 1x1 (resnet downsample)
      cv(4, 6, 7, 8, 3, 1, 2, { dilation: [2, 2] }),
      cv(6, 9, 8, 7, 3, 2, 0, { pads: [0, 1, 1, 0] }),
      cv(2, 3, 2, 3, 5, 1, 2), // kernel larger than the input
      cv(6, 4, 5, 6, 3, 1, 1, { group: 2 }),
      cv(9, 15, 5, 5, 3, 2, 1, { group: 3 }), // 3 input and 5 output channels per group
      cv(1, 1, 4, 3, 2, 1, 0, { kernel: [2, 3] }),
      cv(4, 8, 6, 5, 3, 2, 1, { group: 4 }), // depthwise with channel multiplier 2 (not the dwconv family)
      cv(6, 4 * vr.nr + 3, 5, 4, 3, 1, 1, { batch: 2 }), // few rows: panel blocks, partial panel in the last
    ];
    for (const c of cases) checkConvCase(conv, vr, c);
  });
  test(`conv ${vr.tile}-${vr.isa} fused epilogues`, () => {
    checkConvCase(conv, vr, cv(3, 10, 7, 6, 3, 2, 1, { act: { kind: 'clip', min: 0, max: 6 } }));
    checkConvCase(conv, vr, cv(8, 8, 5, 6, 3, 1, 1, { act: { kind: 'relu' }, residual: true }));
    checkConvCase(conv, vr, cv(4, 9, 5, 5, 3, 1, 1, { act: { kind: 'hardswish' }, bias: false }));
    checkConvCase(conv, vr, cv(5, 6, 4, 4, 3, 1, 1, { act: { kind: 'sigmoid' }, residual: true, group: 1 }));
  });
}

test('conv splits layers with few output rows into panel blocks', () => {
  for (const vr of CONV_VARIANTS) {
    // 7x7x512 (resnet18's last stage): 7 rows alone cannot feed 2 threads with 4 chunks each
    assert.ok(conv.parallelExtent(convSpecOf(cv(512, 512, 7, 7, 3, 1, 1)), vr) >= 16, vr.tile);
    assert.equal(conv.parallelExtent(convSpecOf(cv(3, 64, 224, 224, 7, 2, 3)), vr), 112, vr.tile);
    assert.equal(conv.parallelExtent(convSpecOf(cv(8, 8, 7, 7, 3, 1, 1, { group: 2 })), vr), 7, vr.tile);
  }
});

if (!IN_RELAXED_CHILD && relaxed.mode === 'child') {
  test('conv relaxed-SIMD variants (child node with the relaxed flag)', (t) => {
    const r = relaxed.run();
    if (!r.available) {
      t.skip('this node has no relaxed-SIMD flag');
      return;
    }
    assert.ok(r.ok, r.output.slice(-4000));
  });
}

test('conv rejects channel counts not divisible by group, and wrong weight sizes', () => {
  const vr = CONV_VARIANTS[0]!;
  assert.throws(
    () => conv.pack(convSpecOf(cv(5, 4, 3, 3, 3, 1, 1, { group: 2 })), vr, { weights: new Float32Array(1) }),
    /divisible/,
  );
  assert.throws(
    () => conv.pack(convSpecOf(cv(4, 4, 3, 3, 3, 1, 1)), vr, { weights: new Float32Array(10) }),
    /weights have 10/,
  );
});

test('conv rejects impossible specs with a clear error', () => {
  const vr = CONV_VARIANTS[0]!;
  const bad = { ...convSpecOf(cv(4, 4, 5, 5, 3, 1, 1)), strideH: 0 };
  assert.throws(() => conv.pack(bad, vr, { weights: new Float32Array(144) }), /strideH = 0/);
  const neg = { ...convSpecOf(cv(4, 4, 5, 5, 3, 1, 1)), padLeft: -1 };
  assert.throws(() => conv.pack(neg, vr, { weights: new Float32Array(144) }), /pads/);
});

test('conv output pixels whose window lies wholly in the padding get bias + epilogue', () => {
  // pads larger than the kernel: ONNX allows them; the border rows/columns see only padding
  for (const vr of CONV_VARIANTS.filter((x) => isas.includes(x.isa)).slice(0, 2)) {
    checkConvCase(conv, vr, cv(3, 5, 3, 4, 2, 1, 3, { act: { kind: 'relu' } }));
  }
});
