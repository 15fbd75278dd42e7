import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Qs8ConvSpec } from './qs8-gemm.js';
import { QS8_DWCONV_VARIANTS, qs8Dwconv } from './qs8-dwconv.js';
import { checkQs8Conv } from './qs8-testing.js';
import { convOutputSize } from './types.js';

const dw = (c: number, h: number, w: number, k: number, s: number, p: number, d = 1, n = 1): Qs8ConvSpec => ({
  batch: n,
  inH: h,
  inW: w,
  inC: c,
  outH: convOutputSize(h, k, s, p, p, d),
  outW: convOutputSize(w, k, s, p, p, d),
  outC: c,
  kernelH: k,
  kernelW: k,
  strideH: s,
  strideW: s,
  padTop: p,
  padLeft: p,
  dilationH: d,
  dilationW: d,
  group: c,
  outMin: -128,
  outMax: 127,
});

test('qs8 dwconv (3x3/5x5, s1/s2, pads, dilation) matches QLinearConv to 1 LSB', () => {
  const cases: [Qs8ConvSpec, number, number][] = [
    [dw(5, 6, 7, 3, 1, 1), 3, -4],
    [dw(8, 5, 9, 3, 2, 1), -128, 127],
    [dw(19, 7, 6, 5, 1, 2), 0, 0],
    [dw(13, 9, 8, 5, 2, 2, 1, 2), 100, -20],
    [dw(3, 5, 7, 3, 1, 2, 2), 5, 5],
    [{ ...dw(24, 4, 4, 3, 1, 1), outMin: -10, outMax: 60 }, 1, -10],
    [dw(1, 1, 1, 3, 1, 1), 9, 0],
    [dw(9, 3, 3, 5, 1, 2), -7, 3], // windows larger than the input: no interior pixel
  ];
  let total = 0;
  let ones = 0;
  const v = QS8_DWCONV_VARIANTS[0]!;
  cases.forEach(([s, zIn, zOut], i) => {
    assert.ok(qs8Dwconv.supports(s, v));
    for (const [chunks, extra] of [
      [1, 0],
      [3, 5],
    ] as const) {
      const bias = (['int', 'float', 'none'] as const)[i % 3]!;
      const cmp = checkQs8Conv(qs8Dwconv, v, s, { seed: 70 + i, chunks, zIn, zOut, extra, bias });
      assert.ok(cmp.maxDiff <= (bias === 'float' ? 1 : 0), `case ${i} (${bias} bias): max diff ${cmp.maxDiff}`);
      total += cmp.total;
      ones += cmp.offByOne;
    }
  });
  assert.ok(ones <= total * 0.01, `${ones} of ${total} outputs off by one`);
});

test('qs8 dwconv refuses grouped non-depthwise specs', () => {
  const s = { ...dw(8, 4, 4, 3, 1, 1), group: 4 };
  assert.equal(qs8Dwconv.supports(s, QS8_DWCONV_VARIANTS[0]!), false);
  assert.throws(
    () =>
      qs8Dwconv.pack(s, QS8_DWCONV_VARIANTS[0]!, {
        weights: new Int8Array(8 * 18),
        quant: { inScale: 1, inZero: 0, weightScales: new Float32Array([1]), outScale: 1, outZero: 0 },
      }),
    /depthwise/,
  );
});
