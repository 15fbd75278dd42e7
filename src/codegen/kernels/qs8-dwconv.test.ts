import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Qs8ConvSpec } from './qs8-gemm.js';
import { QS8_DWCONV_VARIANTS, qs8Dwconv } from './qs8-dwconv.js';
import { checkQs8Conv, qs8DwSpecOf } from './qs8-testing.js';

const dw = qs8DwSpecOf;

test('qs8 dwconv (3x3/5x5, s1/s2, pads, dilation) matches QLinearConv to 1 LSB, every variant', () => {
  const cases: [Qs8ConvSpec, number, number][] = [
    [dw(5, 6, 7, 3, 1, 1), 3, -4],
    [dw(8, 5, 9, 3, 2, 1), -128, 127],
    [dw(19, 7, 6, 5, 1, 2), 0, 0],
    [dw(13, 9, 8, 5, 2, 2, 1, 2), 100, -20],
    [dw(3, 5, 7, 3, 1, 2, 2), 5, 5],
    [{ ...dw(24, 4, 4, 3, 1, 1), outMin: -10, outMax: 60 }, 1, -10],
    [dw(1, 1, 1, 3, 1, 1), 9, 0],
    [dw(9, 3, 3, 5, 1, 2), -7, 3], // windows larger than the input: no interior pixel
    [dw(17, 4, 1, 3, 1, 1), 2, 1], // one column
    [dw(16, 3, 2, 3, 2, 1), -3, 0],
    [dw(40, 6, 3, 3, 1, 1), 7, -2],
    [dw(33, 13, 11, 3, 2, 1), -1, 4], // odd width at stride 2: the odd tap's partner column leaves the row
    [{ ...dw(12, 8, 10, 3, 1, 0), kernelH: 2, kernelW: 3, outH: 7 }, 4, 4], // even kernel height
    [{ ...dw(7, 6, 9, 3, 1, 1), kernelH: 3, kernelW: 1, outW: 11, padLeft: 1 }, -5, 6], // 3x1
    [{ ...dw(11, 7, 7, 3, 1, 1), kernelH: 1, kernelW: 4, outH: 9, outW: 6, padTop: 1, padLeft: 1 }, 0, 3], // 1x4
  ];
  let total = 0;
  let ones = 0;
  for (const v of QS8_DWCONV_VARIANTS) {
    cases.forEach(([s, zIn, zOut], i) => {
      assert.ok(qs8Dwconv.supports(s, v));
      for (const [chunks, extra] of [
        [1, 0],
        [2, 3],
        [3, 5],
      ] as const) {
        const bias = (['int', 'float', 'none'] as const)[i % 3]!;
        const cmp = checkQs8Conv(qs8Dwconv, v, s, { seed: 70 + i, chunks, zIn, zOut, extra, bias });
        assert.ok(
          cmp.maxDiff <= (bias === 'float' ? 1 : 0),
          `${v.tile} case ${i} (${bias} bias): max diff ${cmp.maxDiff}`,
        );
        total += cmp.total;
        ones += cmp.offByOne;
      }
    });
  }
  assert.ok(ones <= total * 0.01, `${ones} of ${total} outputs off by one`);
});

test('qs8 dwconv row tiles are bit-identical to the per-pixel kernel, float bias included', () => {
  const base = QS8_DWCONV_VARIANTS.find((v) => v.px === 0)!;
  const shapes = [dw(32, 12, 12, 3, 1, 1), dw(24, 11, 13, 3, 2, 1), dw(21, 9, 10, 5, 1, 2), dw(16, 10, 9, 5, 2, 2)];
  for (const v of QS8_DWCONV_VARIANTS.filter((x) => x.px > 0))
    shapes.forEach((s, i) => {
      for (const bias of ['int', 'float'] as const) {
        const opts = { seed: 300 + i, chunks: 2, zIn: -9 + i, zOut: 3, extra: 0, bias };
        const want = checkQs8Conv(qs8Dwconv, base, s, opts).output;
        assert.deepEqual(checkQs8Conv(qs8Dwconv, v, s, opts).output, want, `${v.tile} shape ${i} ${bias} bias`);
      }
    });
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
