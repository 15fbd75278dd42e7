import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WINOGRAD_VARIANTS, winograd } from './winograd.js';
import { type ConvCase, checkConvCase, convSpecOf } from './conv-check.js';
import { IN_RELAXED_CHILD, relaxedTestMode } from './relaxed-child.js';

const relaxed = relaxedTestMode(import.meta.url);
const isas = IN_RELAXED_CHILD ? ['wasmrelaxed'] : relaxed.mode === 'here' ? ['wasmsimd', 'wasmrelaxed'] : ['wasmsimd'];

const c3 = (inC: number, outC: number, H: number, W: number, p: number, extra: Partial<ConvCase> = {}): ConvCase => ({
  inC,
  outC,
  inH: H,
  inW: W,
  kernel: [3, 3],
  pads: [p, p, p, p],
  ...extra,
});

for (const vr of WINOGRAD_VARIANTS.filter((x) => isas.includes(x.isa))) {
  test(`winograd ${vr.tile}-${vr.isa} matches the Conv reference on awkward shapes`, () => {
    const cases: ConvCase[] = [
      c3(4, 8, 6, 6, 1),
      c3(5, 7, 7, 9, 1), // odd output sizes: partial tiles on the right and bottom
      c3(3, 13, 5, 4, 0),
      c3(16, 17, 8, 11, 1, { batch: 2 }),
      c3(1, 1, 3, 3, 1),
      c3(9, 20, 4, 13, 2), // pads larger than 1
      c3(6, 5, 6, 7, 0, { pads: [0, 1, 1, 0] }),
      c3(33, 9, 9, 10, 1),
      // one or two tile-row groups: items split output channels too (64 -> 2 blocks, 128 -> 4)
      c3(9, 64, 6, 6, 1, { act: { kind: 'relu' }, residual: true }),
      c3(7, 128, 5, 7, 1, { batch: 2 }),
    ];
    for (const c of cases) checkConvCase(winograd, vr, c);
  });
  test(`winograd ${vr.tile}-${vr.isa} fused epilogues`, () => {
    checkConvCase(winograd, vr, c3(8, 12, 7, 6, 1, { act: { kind: 'relu' }, residual: true }));
    checkConvCase(winograd, vr, c3(5, 6, 5, 5, 1, { act: { kind: 'clip', min: 0, max: 6 }, bias: false }));
    checkConvCase(winograd, vr, c3(6, 9, 6, 7, 1, { act: { kind: 'silu' }, residual: true }));
  });
}

if (!IN_RELAXED_CHILD && relaxed.mode === 'child') {
  test('winograd relaxed-SIMD variants (child node with the relaxed flag)', (t) => {
    const r = relaxed.run();
    if (!r.available) {
      t.skip('this node has no relaxed-SIMD flag');
      return;
    }
    assert.ok(r.ok, r.output.slice(-4000));
  });
}

test('winograd splits late layers (few tile-row groups) by output-channel blocks', () => {
  for (const vr of WINOGRAD_VARIANTS) {
    // 14x14x256: one group of 7 tile rows; 56x56x64: 14 groups, no channel split needed
    assert.ok(winograd.parallelExtent(convSpecOf(c3(256, 256, 14, 14, 1)), vr) >= 8, vr.tile);
    assert.equal(winograd.parallelExtent(convSpecOf(c3(64, 64, 56, 56, 1)), vr), 14, vr.tile);
  }
});

test('winograd applies only to 3x3 stride-1 undilated ungrouped convolutions', () => {
  const vr = WINOGRAD_VARIANTS[0]!;
  assert.equal(winograd.supports(convSpecOf(c3(16, 16, 14, 14, 1)), vr), true);
  assert.equal(winograd.supports(convSpecOf(c3(16, 16, 7, 7, 1)), vr), false, 'too few tiles');
  assert.equal(winograd.supports(convSpecOf(c3(64, 64, 320, 320, 1)), vr), false, 'scratch too large');
  assert.equal(winograd.supports(convSpecOf(c3(64, 64, 56, 56, 1)), vr), true);
  assert.equal(winograd.supports(convSpecOf(c3(4, 16, 14, 14, 1)), vr), false, 'too few input channels');
  assert.equal(winograd.supports(convSpecOf(c3(16, 16, 28, 28, 1, { stride: [2, 2] })), vr), false);
  assert.equal(winograd.supports(convSpecOf(c3(16, 16, 14, 14, 1, { group: 2 })), vr), false);
  assert.equal(winograd.supports(convSpecOf(c3(16, 16, 18, 18, 2, { dilation: [2, 2] })), vr), false);
  assert.equal(winograd.supports(convSpecOf({ inC: 16, outC: 16, inH: 14, inW: 14, kernel: [5, 5] }), vr), false);
  assert.equal(
    winograd.id(convSpecOf(c3(4, 4, 5, 5, 1, { act: { kind: 'relu' } })), vr),
    'f32-winograd-relu-f2x2-4x8-wasmrelaxed',
  );
});
