/**
 * Cost models of kernel selection: which depthwise variant `pickVariant` takes with `dwconvCost` for the shapes
 * that decide it (MobileNet/EfficientNet layers, rows too narrow for a multi-pixel tile, stride 2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dwconv } from './kernels/dwconv.js';
import type { ConvSpec } from './kernels/types.js';
import { dwconvCost, pickVariant } from './select.js';

function dw(c: number, size: number, k: number, stride: number): ConvSpec {
  const pad = (k - 1) >> 1;
  const out = Math.floor((size + 2 * pad - k) / stride) + 1;
  return {
    batch: 1,
    inH: size,
    inW: size,
    inC: c,
    outH: out,
    outW: out,
    outC: c,
    kernelH: k,
    kernelW: k,
    strideH: stride,
    strideW: stride,
    padTop: pad,
    padLeft: pad,
    dilationH: 1,
    dilationW: 1,
    group: c,
    epilogue: { activation: { kind: 'none' }, residual: false },
  };
}

const pick = (s: ConvSpec, relaxed = false) => pickVariant(dwconv, s, relaxed, dwconvCost)!;

test('depthwise 3x3 and 5x5 stride 1 on wide rows take a multi-pixel tile', () => {
  for (const relaxed of [false, true]) {
    assert.ok(pick(dw(32, 112, 3, 1), relaxed).px > 1, 'mobilenet 3x3s1 112x112');
    assert.ok(pick(dw(960, 7, 3, 1), relaxed).px > 1, 'mobilenet 3x3s1 7x7');
    assert.ok(pick(dw(240, 14, 5, 1), relaxed).px > 1, 'efficientnet 5x5s1 14x14');
  }
});

test('depthwise 3x3 stride 2 and rows without a whole interior tile run one pixel at a time', () => {
  assert.equal(pick(dw(96, 112, 3, 2)).tile, '8c');
  // 5x5 over a 4-wide row: no output column has all five taps inside, so no multi-pixel tile is used.
  assert.equal(pick(dw(64, 4, 5, 1)).px, 1);
});

test('the cost of a multi-pixel variant falls below the 8-channel one only when the row has interior tiles', () => {
  const wide = dw(64, 56, 3, 1);
  const narrow = dw(64, 3, 3, 1);
  const v8c = dwconv.variants.find((v) => v.tile === '8c' && v.isa === 'wasmsimd')!;
  const v4x4 = dwconv.variants.find((v) => v.tile === '4x4c' && v.isa === 'wasmsimd')!;
  assert.ok(dwconvCost(wide, v4x4) < dwconvCost(wide, v8c));
  assert.ok(dwconvCost(narrow, v4x4) > dwconvCost(narrow, v8c));
});
