import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Qs8ConvSpec,
  type Qs8GemmVariant,
  QS8_GEMM_VARIANTS,
  isPointwise,
  pickQs8GemmVariant,
  qs8Gemm,
} from './qs8-gemm.js';
import { qs8Conv } from './qs8-conv.js';
import { checkQs8Conv } from './qs8-testing.js';
import { convOutputSize } from './types.js';

interface Case {
  n?: number;
  c: number;
  m: number;
  h: number;
  w: number;
  k?: number;
  s?: number;
  p?: number;
  d?: number;
  zIn?: number;
  zOut?: number;
  clamp?: [number, number];
  strideExtra?: number;
  noBias?: boolean;
}

function specOf(c: Case): Qs8ConvSpec {
  const k = c.k ?? 1;
  const s = c.s ?? 1;
  const p = c.p ?? 0;
  const d = c.d ?? 1;
  return {
    batch: c.n ?? 1,
    inH: c.h,
    inW: c.w,
    inC: c.c,
    outH: convOutputSize(c.h, k, s, p, p, d),
    outW: convOutputSize(c.w, k, s, p, p, d),
    outC: c.m,
    kernelH: k,
    kernelW: k,
    strideH: s,
    strideW: s,
    padTop: p,
    padLeft: p,
    dilationH: d,
    dilationW: d,
    group: 1,
    outMin: c.clamp?.[0] ?? -128,
    outMax: c.clamp?.[1] ?? 127,
  };
}

/** Run one case through its family: int32 bias must match QLinearConv exactly, float bias to 1 LSB. */
function check(c: Case, seed: number, chunks: number, v: Qs8GemmVariant) {
  const s = specOf(c);
  const fam = isPointwise(s) ? qs8Gemm : qs8Conv;
  const bias = c.noBias ? 'none' : seed % 2 === 0 ? 'int' : 'float';
  const opts = { seed, chunks, zIn: c.zIn ?? 7, zOut: c.zOut ?? -5, extra: c.strideExtra ?? 0, bias } as const;
  const cmp = checkQs8Conv(fam, v, s, opts);
  if (bias !== 'float') assert.equal(cmp.maxDiff, 0, `${JSON.stringify(c)} (${bias} bias) is not exact`);
  return { cmp, id: fam.id(s, v) };
}

test('qs8 GEMM (1x1 conv) matches QLinearConv to 1 LSB on awkward shapes', () => {
  const cases: Case[] = [
    { c: 1, m: 1, h: 1, w: 1 },
    { c: 3, m: 5, h: 3, w: 5 },
    { c: 8, m: 8, h: 2, w: 2 },
    { c: 17, m: 13, h: 5, w: 7, zIn: -128, zOut: 127 },
    { c: 24, m: 9, h: 7, w: 3, strideExtra: 5 },
    { c: 64, m: 24, h: 3, w: 3, clamp: [-5, 100] },
    { c: 9, m: 16, h: 1, w: 9, n: 2, noBias: true },
    { c: 16, m: 40, h: 9, w: 9, zIn: 100 },
    { c: 200, m: 20, h: 8, w: 9, zOut: 30 },
    { c: 32, m: 31, h: 2, w: 7, clamp: [0, 127], strideExtra: 3 },
  ];
  let total = 0;
  let ones = 0;
  cases.forEach((c, i) => {
    for (const [chunks, v] of QS8_GEMM_VARIANTS.flatMap(
      (v) =>
        [
          [1, v],
          [3, v],
        ] as const,
    )) {
      const { cmp, id } = check(c, 10 + i, chunks, v);
      assert.ok(id.startsWith('qs8-gemm-'), id);
      assert.ok(cmp.maxDiff <= 1, `${JSON.stringify(c)}: max diff ${cmp.maxDiff}`);
      total += cmp.total;
      ones += cmp.offByOne;
    }
  });
  assert.ok(ones <= total * 0.01, `${ones} of ${total} outputs off by one`);
});

test('qs8 dense conv (3x3, strides, pads, dilation, first layer) matches QLinearConv to 1 LSB', () => {
  const cases: Case[] = [
    { c: 3, m: 16, h: 9, w: 11, k: 3, s: 2, p: 1 },
    { c: 5, m: 7, h: 6, w: 7, k: 3, s: 1, p: 1, zIn: -100 },
    { c: 16, m: 12, h: 5, w: 5, k: 3, s: 1, p: 0 },
    { c: 4, m: 9, h: 8, w: 9, k: 5, s: 2, p: 2, strideExtra: 3 },
    { c: 6, m: 8, h: 7, w: 7, k: 3, s: 1, p: 2, d: 2, n: 2, clamp: [0, 127] },
    { c: 2, m: 3, h: 4, w: 4, k: 1, s: 2, p: 0 },
    { c: 24, m: 40, h: 7, w: 9, k: 1, s: 2, p: 0, strideExtra: 3 },
    { c: 72, m: 17, h: 6, w: 5, k: 1, s: 2, p: 1, zIn: -90, n: 2 },
    { c: 136, m: 33, h: 5, w: 5, k: 1, s: 2, p: 0, clamp: [-20, 20] },
    { c: 136, m: 20, h: 7, w: 6, k: 3, s: 2, p: 1, zIn: 50 },
    { c: 24, m: 48, h: 14, w: 13, k: 3, s: 1, p: 1, strideExtra: 2 },
  ];
  let total = 0;
  let ones = 0;
  cases.forEach((c, i) => {
    for (const [chunks, v] of QS8_GEMM_VARIANTS.flatMap(
      (v) =>
        [
          [1, v],
          [4, v],
        ] as const,
    )) {
      const s = specOf(c);
      assert.ok((isPointwise(s) ? qs8Gemm : qs8Conv).supports(s, v), `${v.tile} rejects ${JSON.stringify(c)}`);
      const { cmp, id } = check(c, 40 + i, chunks, v);
      assert.ok(id.startsWith('qs8-conv-'), id);
      assert.ok(cmp.maxDiff <= 1, `${JSON.stringify(c)}: max diff ${cmp.maxDiff}`);
      total += cmp.total;
      ones += cmp.offByOne;
    }
  });
  assert.ok(ones <= total * 0.01, `${ones} of ${total} outputs off by one`);
});

test('qs8 GEMM packing rejects a float-only bias unless the spec says the epilogue adds it', () => {
  const s = specOf({ c: 8, m: 8, h: 2, w: 2 });
  const w = {
    weights: new Int8Array(64),
    bias: new Float32Array(8).fill(0.5),
    quant: { inScale: 0.1, inZero: 0, weightScales: Float32Array.of(0.01), outScale: 0.2, outZero: 0 },
  };
  assert.throws(() => qs8Gemm.pack(s, QS8_GEMM_VARIANTS[0]!, w), /floatBias/);
  assert.ok(qs8Gemm.pack({ ...s, floatBias: true }, QS8_GEMM_VARIANTS[0]!, w).length > 0);
});

test('widened tiles stay within their scratch cap: a large image keeps the in-place tiles', () => {
  const big = specOf({ c: 64, m: 64, h: 400, w: 400 });
  assert.ok(!pickQs8GemmVariant(big).widen, 'a 400x400x64 1x1 conv would need 20 MB of rows');
  assert.ok(
    !qs8Gemm.supports(
      big,
      QS8_GEMM_VARIANTS.find((v) => v.widen)!,
    ),
  );
  const small = specOf({ c: 64, m: 64, h: 28, w: 28 });
  assert.ok(pickQs8GemmVariant(small).widen);
  assert.equal(qs8Gemm.scratchBytes(small, pickQs8GemmVariant(small)), 28 * 28 * 128 + 16);
});
