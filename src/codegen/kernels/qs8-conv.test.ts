import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QS8_GEMM_VARIANTS, type Qs8ConvSpec } from './qs8-gemm.js';
import { qs8Conv, qs8ConvIm2col } from './qs8-conv.js';
import { checkQs8Conv, qs8ConvSpecOf } from './qs8-testing.js';

// RGB stems (MobileNet 3x3s2, ResNet 7x7s2), 1 and 4 channels, odd sizes, a window larger than the image,
// dilation and wider pixel strides (the tap-by-tap gather), batch 2, extreme zero points.
const CASES: { s: Qs8ConvSpec; zIn: number; extra: number }[] = [
  { s: qs8ConvSpecOf(3, 32, 17, 15, 3, 2, 1), zIn: 7, extra: 0 },
  { s: qs8ConvSpecOf(3, 19, 23, 21, 7, 2, 3), zIn: -128, extra: 0 },
  { s: qs8ConvSpecOf(1, 8, 9, 10, 3, 1, 1), zIn: 127, extra: 0 },
  { s: qs8ConvSpecOf(4, 13, 11, 12, 5, 2, 2), zIn: -3, extra: 0 },
  { s: qs8ConvSpecOf(3, 16, 9, 11, 3, 1, 2, 2), zIn: 20, extra: 0 },
  { s: qs8ConvSpecOf(3, 9, 8, 9, 3, 2, 1), zIn: 5, extra: 2 },
  { s: { ...qs8ConvSpecOf(2, 8, 3, 4, 5, 1, 2), batch: 2 }, zIn: -60, extra: 0 },
];

test('qs8-conv im2col (few channels) equals QLinearConv with an int32 bias and qs8-conv with a float bias', () => {
  for (const [i, c] of CASES.entries()) {
    for (const v of QS8_GEMM_VARIANTS) {
      // Widened tiles are 1x1 only (they gather the strided pixels themselves).
      assert.equal(qs8ConvIm2col.supports(c.s, v), !v.widen);
      if (v.widen) continue;
      for (const chunks of [1, 3]) {
        const opts = { seed: 30 + i, chunks, zIn: c.zIn, zOut: -4, extra: c.extra } as const;
        const exact = checkQs8Conv(qs8ConvIm2col, v, c.s, { ...opts, bias: 'int' });
        assert.equal(exact.maxDiff, 0, `case ${i} ${v.tile} ${chunks} chunks`);
        const got = checkQs8Conv(qs8ConvIm2col, v, c.s, { ...opts, bias: 'float' });
        const direct = checkQs8Conv(qs8Conv, v, c.s, { ...opts, bias: 'float' });
        assert.deepEqual(got.output, direct.output, `case ${i} ${v.tile} (float bias)`);
      }
    }
  }
  assert.ok(!qs8ConvIm2col.supports(qs8ConvSpecOf(5, 8, 9, 9, 3, 1, 1), QS8_GEMM_VARIANTS[0]!), '5 channels');
  assert.ok(!qs8ConvIm2col.supports(qs8ConvSpecOf(3, 8, 9, 9, 1, 1, 0), QS8_GEMM_VARIANTS[0]!), '1x1');
});
