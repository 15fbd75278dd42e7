import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DWCONV_MIN_ITEMS, DWCONV_VARIANTS, dwconv, dwconvChannelGroups } from './dwconv.js';
import { type ConvCase, checkConvCase, convSpecOf } from './conv-check.js';
import { IN_RELAXED_CHILD, relaxedTestMode } from './relaxed-child.js';

const relaxed = relaxedTestMode(import.meta.url);
const isas = IN_RELAXED_CHILD ? ['wasmrelaxed'] : relaxed.mode === 'here' ? ['wasmsimd', 'wasmrelaxed'] : ['wasmsimd'];

const dw = (
  C: number,
  H: number,
  W: number,
  k: number,
  s: number,
  p: number,
  extra: Partial<ConvCase> = {},
): ConvCase => ({
  inC: C,
  outC: C,
  group: C,
  inH: H,
  inW: W,
  kernel: [k, k],
  stride: [s, s],
  pads: [p, p, p, p],
  ...extra,
});

for (const vr of DWCONV_VARIANTS.filter((x) => isas.includes(x.isa))) {
  test(`dwconv ${vr.tile}-${vr.isa} matches the Conv reference on awkward shapes`, () => {
    const wide = 3 * vr.px + 2; // several multi-pixel tiles plus leftovers in a row
    const cases: ConvCase[] = [
      dw(5, 6, wide, 3, 1, 1),
      dw(9, 5, 2 * wide, 3, 2, 1),
      dw(4, 4, wide + 4, 5, 1, 2),
      dw(6, 5, 2 * wide + 5, 5, 2, 2),
      dw(3, 5, wide + 4, 3, 1, 2, { dilation: [2, 2] }),
      dw(3, 5, 7, 3, 1, 1),
      dw(5, 7, 5, 3, 2, 1),
      dw(13, 6, 6, 3, 1, 1, { batch: 2 }),
      dw(4 * vr.vecs, 8, 9, 3, 2, 1),
      dw(4 * vr.vecs + 1, 9, 8, 5, 1, 2),
      dw(4 * vr.vecs - 1 || 2, 11, 10, 5, 2, 2),
      dw(7, 4, 4, 3, 1, 0),
      dw(2, 3, 3, 5, 1, 2), // kernel wider than the input: every column is a border column
      dw(6, 9, 7, 3, 1, 2, { dilation: [2, 2] }),
      dw(5, 10, 9, 3, 2, 0, { pads: [0, 1, 1, 0] }), // asymmetric (TF SAME-style) pads
      dw(3, 6, 8, 3, 1, 1, { kernel: [1, 3], pads: [0, 1, 0, 1] }),
      dw(9, 1, 1, 3, 1, 1), // 1x1 input with padding
    ];
    // Multi-pixel variants refuse specs whose tile would spill; check what they accept.
    let checked = 0;
    for (const c of cases) {
      if (!dwconv.supports(convSpecOf(c), vr)) continue;
      checkConvCase(dwconv, vr, c);
      checked++;
    }
    assert.ok(checked >= 6, `only ${checked} cases fit ${vr.tile}`);
  });
  test(`dwconv ${vr.tile}-${vr.isa} fused epilogues`, () => {
    const cases = [
      dw(11, 6, 9, 3, 1, 1, { act: { kind: 'clip', min: 0, max: 6 } }),
      dw(9, 7, 13, 3, 2, 1, { act: { kind: 'hardswish' }, residual: false }),
      dw(6, 5, 11, 5, 1, 2, { act: { kind: 'relu' }, residual: true, bias: false }),
      dw(10, 4, 10, 3, 1, 1, { act: { kind: 'silu' }, residual: true }),
    ];
    for (const c of cases) if (dwconv.supports(convSpecOf(c), vr)) checkConvCase(dwconv, vr, c);
  });
}

for (const vr of DWCONV_VARIANTS.filter((x) => isas.includes(x.isa))) {
  test(`dwconv ${vr.tile}-${vr.isa} split into channel groups x rows matches in any chunking`, () => {
    const wide = 2 * vr.px + 3;
    const cases: ConvCase[] = [
      dw(37, 3, wide, 3, 1, 1), // one block per group, partial last block
      dw(8 * vr.vecs * 4 + 3, 7, wide, 3, 1, 1, { act: { kind: 'clip', min: 0, max: 6 }, residual: true }),
      dw(4 * vr.vecs * 9, 2, wide + 4, 5, 2, 2), // no partial block; groups of several blocks
      dw(4 * vr.vecs * 5 + 1, 4, wide, 3, 1, 1, { batch: 2 }),
      dw(4 * vr.vecs * 3 - 2, 1, wide, 3, 1, 1), // the last group holds only the partial block's neighbours
    ];
    let checked = 0;
    for (const c of cases) {
      const spec = convSpecOf(c);
      if (!dwconv.supports(spec, vr)) continue;
      const extent = dwconv.parallelExtent(spec, vr);
      assert.ok(dwconvChannelGroups(spec, vr).groups > 1, `${JSON.stringify(c)} is not split by channels`);
      for (const chunks of [1, 2, 3, 7, extent]) checkConvCase(dwconv, vr, c, 3, Math.min(chunks, extent));
      checked++;
    }
    assert.ok(checked >= 3, `only ${checked} cases fit ${vr.tile}`);
  });
}

test('dwconv channel groups: whole blocks, every block in one group, enough items for the threads', () => {
  for (const vr of DWCONV_VARIANTS) {
    for (const [C, rows] of [
      [960, 7],
      [576, 14],
      [144, 56],
      [32, 112],
      [5, 3],
      [13, 1],
      [4 * vr.vecs, 2],
    ] as const) {
      const spec = convSpecOf(dw(C, rows, 9, 3, 1, 1));
      const { groups, groupBlocks } = dwconvChannelGroups(spec, vr);
      const blocks = Math.ceil(C / (4 * vr.vecs));
      const what = `C=${C} rows=${rows} ${vr.tile}`;
      assert.ok(groups * groupBlocks >= blocks && (groups - 1) * groupBlocks < blocks, what);
      assert.ok(rows * groups >= Math.min(DWCONV_MIN_ITEMS, rows * blocks), what);
      if (rows >= DWCONV_MIN_ITEMS) assert.equal(groups, 1, what);
      assert.equal(dwconv.parallelExtent(spec, vr), rows * groups, what);
    }
  }
});

if (!IN_RELAXED_CHILD && relaxed.mode === 'child') {
  test('dwconv relaxed-SIMD variants (child node with the relaxed flag)', (t) => {
    const r = relaxed.run();
    if (!r.available) {
      t.skip('this node has no relaxed-SIMD flag');
      return;
    }
    assert.ok(r.ok, r.output.slice(-4000));
  });
}

test('dwconv supports only depthwise specs and names its tile', () => {
  const vr = DWCONV_VARIANTS.find((x) => x.vecs === 2 && x.isa === 'wasmsimd')!;
  assert.equal(dwconv.supports(convSpecOf(dw(8, 5, 5, 3, 2, 1)), vr), true);
  assert.equal(dwconv.supports(convSpecOf({ inC: 8, outC: 8, inH: 5, inW: 5, kernel: [3, 3] }), vr), false);
  assert.equal(
    dwconv.id(convSpecOf(dw(8, 5, 5, 3, 2, 1, { act: { kind: 'clip', min: 0, max: 6 } })), vr),
    'f32-dwconv-relu6-3x3s2-8c-wasmsimd',
  );
});

test('the checker rejects a kernel with wrong weights (the oracle can fail)', () => {
  const vr = DWCONV_VARIANTS.find((x) => x.isa === 'wasmsimd')!;
  const broken = {
    ...dwconv,
    pack: (s: Parameters<typeof dwconv.pack>[0], v: typeof vr, w: Parameters<typeof dwconv.pack>[2]) => {
      const p = dwconv.pack(s, v, w);
      p[p.length - 1] += 0.5;
      return p;
    },
  };
  assert.throws(() => checkConvCase(broken, vr, dw(4, 5, 5, 3, 1, 1)), /want/);
});

test('dwconv handles windows wholly in the padding (pads larger than the kernel)', () => {
  for (const vr of DWCONV_VARIANTS.filter((x) => isas.includes(x.isa))) {
    const c = dw(5, 3, 4, 2, 1, 3, { act: { kind: 'clip', min: -0.5, max: 0.5 } });
    if (dwconv.supports(convSpecOf(c), vr)) checkConvCase(dwconv, vr, c);
  }
});
