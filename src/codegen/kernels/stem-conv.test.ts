import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STEM_CONV_VARIANTS, interiorColumns, stemConv } from './stem-conv.js';
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

for (const vr of STEM_CONV_VARIANTS.filter((x) => isas.includes(x.isa))) {
  test(`stemconv ${vr.tile}-${vr.isa} matches the Conv reference on awkward shapes`, () => {
    const cases: ConvCase[] = [
      cv(3, 32, 11, 13, 3, 2, 1), // mobilenet-style first layer
      cv(3, 7, 13, 12, 7, 2, 3), // resnet-style stem, outC below one panel
      cv(3, 64, 23, 21, 7, 2, 3), // resnet stem: whole panels, interior tiles plus a remainder tile
      cv(3, 16, 9, 17, 3, 1, 1, { batch: 2 }),
      cv(1, 5, 6, 7, 3, 1, 1),
      cv(2, vr.nr + 3, vr.mr + 3, 2 * vr.mr + 5, 5, 1, 2),
      cv(4, 13, 8, 9, 3, 2, 0, { pads: [0, 1, 1, 0] }),
      cv(3, 9, 7, 8, 3, 1, 2, { dilation: [2, 2] }),
      cv(3, 6, 2, 3, 5, 1, 2), // kernel larger than the input: every column is a border column
      cv(3, 8, 5, 4, 2, 1, 0, { kernel: [2, 3] }),
      cv(3, 4, 4, 3, 1, 1, 3), // pixels whose whole window lies in the padding get bias + epilogue
      cv(3, 10, 9, 10, 3, 2, 1, { stride: [1, 2], pads: [1, 0, 1, 1] }),
    ];
    for (const c of cases) {
      assert.ok(stemConv.supports(convSpecOf(c), vr), JSON.stringify(c));
      checkConvCase(stemConv, vr, c);
    }
  });
  test(`stemconv ${vr.tile}-${vr.isa} fused epilogues`, () => {
    checkConvCase(stemConv, vr, cv(3, 10, 7, 6, 3, 2, 1, { act: { kind: 'clip', min: 0, max: 6 } }));
    checkConvCase(stemConv, vr, cv(3, 8, 5, 6, 3, 1, 1, { act: { kind: 'relu' }, residual: true }));
    checkConvCase(stemConv, vr, cv(3, 9, 5, 5, 3, 1, 1, { act: { kind: 'hardswish' }, bias: false }));
    checkConvCase(stemConv, vr, cv(3, 17, 6, 9, 3, 2, 1, { act: { kind: 'silu' }, residual: true }));
  });
}

test('stemconv takes only group-1 convolutions of at most 4 input channels with few border columns', () => {
  const vr = STEM_CONV_VARIANTS[0]!;
  assert.equal(stemConv.supports(convSpecOf(cv(5, 8, 8, 8, 3, 1, 1)), vr), false);
  assert.equal(stemConv.supports(convSpecOf(cv(4, 8, 8, 8, 3, 1, 1, { group: 2 })), vr), false);
  assert.equal(stemConv.supports(convSpecOf(cv(3, 8, 8, 40, 3, 1, 9)), vr), false);
  assert.deepEqual(interiorColumns(convSpecOf(cv(3, 64, 224, 224, 7, 2, 3))), { left: 2, right: 111 });
});

test('stemconv pack rejects weights of the wrong size', () => {
  const vr = STEM_CONV_VARIANTS[0]!;
  const spec = convSpecOf(cv(3, 8, 8, 8, 3, 1, 1));
  assert.throws(() => stemConv.pack(spec, vr, { weights: new Float32Array(10) }), /stemconv pack/);
  assert.throws(
    () => stemConv.pack(spec, vr, { weights: new Float32Array(8 * 27), bias: new Float32Array(3) }),
    /bias has 3/,
  );
});

if (!IN_RELAXED_CHILD && relaxed.mode === 'child') {
  test('stemconv relaxed-SIMD variants (child node with the relaxed flag)', (t) => {
    const r = relaxed.run();
    if (!r.available) {
      t.skip('this node has no relaxed-SIMD flag');
      return;
    }
    assert.ok(r.ok, r.output.slice(-4000));
  });
}
