import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QS8_GEMM_VARIANTS, type Qs8ConvSpec } from './qs8-gemm.js';
import { qs8Conv } from './qs8-conv.js';
import { QS8_WINOGRAD_VARIANTS, packQs8Winograd, qs8Winograd, qs8WinogradExact } from './qs8-winograd.js';
import { checkQs8Conv, qs8ConvSpecOf } from './qs8-testing.js';

// Winograd takes only 3x3 stride-1 undilated convs.
function spec(c: number, m: number, h: number, w: number, p: number, n = 1, clamp?: [number, number]): Qs8ConvSpec {
  return qs8ConvSpecOf(c, m, h, w, 3, 1, p, 1, n, clamp);
}

// Odd and even output sizes (edge tiles), channels below/at/above 8 and not multiples of 8, unpadded, batch 2,
// extreme zero points (|d - zIn| = 255 reaches the i16 bound of V), a fused clamp; 16 and 32 padded channels
// (reduction unrolled by 2 and 4).
const CASES: { s: Qs8ConvSpec; zIn: number; zOut: number; extra: number }[] = [
  { s: spec(8, 8, 12, 12, 1), zIn: 7, zOut: -5, extra: 0 },
  { s: spec(13, 11, 13, 15, 1), zIn: -128, zOut: 3, extra: 3 },
  { s: spec(5, 19, 11, 9, 0), zIn: 127, zOut: 0, extra: 0 },
  { s: spec(24, 16, 7, 14, 1, 2, [0, 127]), zIn: -3, zOut: -128, extra: 5 },
  { s: spec(16, 8, 8, 8, 1), zIn: 0, zOut: 0, extra: 0 },
  { s: spec(70, 9, 9, 8, 1), zIn: 40, zOut: 10, extra: 0 },
  { s: spec(32, 12, 6, 7, 1), zIn: -77, zOut: 2, extra: 0 },
  // One or two tile-row groups: items split by output channels (2 and 4 chunks; ranges start mid-group).
  { s: spec(16, 64, 8, 8, 1, 2), zIn: 9, zOut: -9, extra: 0 },
  { s: spec(9, 128, 8, 9, 1), zIn: -20, zOut: 1, extra: 3 },
];

test('qs8 Winograd F(2x2,3x3) equals QLinearConv bit for bit with an int32 bias, in 1..3 chunks', () => {
  for (const [i, c] of CASES.entries()) {
    for (const v of QS8_WINOGRAD_VARIANTS) {
      for (const chunks of [1, 2, 3, 4]) {
        for (const bias of ['int', 'none'] as const) {
          const cmp = checkQs8Conv(qs8Winograd, v, c.s, {
            seed: 70 + i,
            chunks,
            zIn: c.zIn,
            zOut: c.zOut,
            extra: c.extra,
            bias,
          });
          assert.equal(cmp.maxDiff, 0, `case ${i} (${bias} bias, ${chunks} chunks): max diff ${cmp.maxDiff}`);
        }
      }
    }
  }
});

test('qs8 Winograd equals the direct qs8 conv bit for bit with a float bias (same i32 accumulator)', () => {
  for (const [i, c] of CASES.entries()) {
    const opts = { seed: 90 + i, chunks: 2, zIn: c.zIn, zOut: c.zOut, extra: c.extra, bias: 'float' } as const;
    const direct = checkQs8Conv(qs8Conv, QS8_GEMM_VARIANTS[0]!, c.s, opts);
    for (const v of QS8_WINOGRAD_VARIANTS) {
      const wino = checkQs8Conv(qs8Winograd, v, c.s, opts);
      assert.deepEqual(wino.output, direct.output, `case ${i}, ${v.tile}`);
    }
  }
});

test('qs8 Winograd splits late layers (one tile-row group) by output channels for threads', () => {
  const v = QS8_WINOGRAD_VARIANTS[0]!;
  assert.equal(qs8Winograd.parallelExtent(spec(256, 256, 14, 14, 1), v), 4);
  assert.equal(qs8Winograd.parallelExtent(spec(512, 512, 7, 7, 1), v), 4);
  assert.equal(qs8Winograd.parallelExtent(spec(64, 64, 56, 56, 1), v), 14);
  assert.equal(qs8Winograd.parallelExtent(spec(16, 12, 8, 8, 1), v), 1, 'outC not a multiple of 16');
});

test('qs8 Winograd supports only exact 3x3 stride-1 shapes and rejects the rest clearly', () => {
  const v = QS8_WINOGRAD_VARIANTS[0]!;
  assert.ok(qs8Winograd.supports(spec(64, 64, 56, 56, 1), v));
  assert.ok(!qs8Winograd.supports(spec(64, 64, 4, 4, 1), v), 'too few tiles');
  assert.ok(!qs8Winograd.supports({ ...spec(64, 64, 56, 56, 1), strideH: 2, strideW: 2, outH: 28, outW: 28 }, v));
  // 4 * 255 * 127 * 9 * inC must fit an i32: 1841 channels do, 1842 do not.
  assert.ok(qs8WinogradExact(spec(1841, 8, 12, 12, 1)));
  assert.ok(!qs8WinogradExact(spec(1842, 8, 12, 12, 1)));
  assert.ok(!qs8Winograd.supports(spec(1842, 8, 12, 12, 1), v));
  const quant = { inScale: 1, inZero: 0, weightScales: new Float32Array([1]), outScale: 1, outZero: 0 };
  assert.throws(
    () => packQs8Winograd(spec(8, 8, 12, 12, 1), { weights: new Int8Array(5), quant }),
    /qs8-winograd: 5 weights, expected 576/,
  );
  assert.throws(
    () => packQs8Winograd({ ...spec(8, 8, 12, 12, 1), dilationH: 2 }, { weights: new Int8Array(576), quant }),
    /qs8-winograd: needs a 3x3 stride-1/,
  );
});
