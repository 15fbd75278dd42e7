import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Attribute, Node } from '../../ir/graph.js';
import { makeTensor } from '../../ir/tensor.js';
import { GlobalAveragePool, MaxPool } from '../../ops/pool.js';
import { DequantizeLinear, QuantizeLinear } from '../../ops/quantize.js';
import type { PoolSpec } from './pool.js';
import { QS8_POOL_VARIANTS, type Qs8GlobalPoolSpec, qs8GlobalAvgPool, qs8MaxPool } from './qs8-pool.js';
import { nchwToNhwc, randomInt8, runBytes } from './qs8-testing.js';

const v = QS8_POOL_VARIANTS[0]!;
const ints = (value: number[]): Attribute => ({ kind: 'ints', value });
const node = (opType: string, attrs: [string, Attribute][] = []): Node => ({
  name: 'ref',
  opType,
  domain: '',
  inputs: ['x'],
  outputs: ['y'],
  attributes: new Map(attrs),
});
const scalar = (x: number) => makeTensor('float32', [], new Float32Array([x]));
const z8 = (x: number) => makeTensor('int8', [], new Int8Array([x]));

/** Gather an NHWC int8 buffer (pixel stride) into NCHW. */
function toNchw(buf: Int8Array, n: number, c: number, hw: number, stride: number): Int8Array {
  const out = new Int8Array(n * c * hw);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < hw; i++) out[(b * c + ch) * hw + i] = buf[(b * hw + i) * stride + ch]!;
  return out;
}

// [batch, C, H, W, kernel, stride, pads (t, l, b, r), dilation, extra channels of pixel stride]
const MAX_CASES: [number, number, number, number, number, number, number[], number, number][] = [
  [1, 5, 7, 9, 3, 2, [1, 1, 1, 1], 1, 0],
  [2, 16, 6, 6, 2, 2, [0, 0, 0, 0], 1, 3],
  [1, 17, 13, 5, 3, 1, [1, 0, 1, 2], 1, 0],
  [1, 70, 9, 9, 3, 2, [0, 0, 0, 0], 1, 2],
  [1, 33, 8, 7, 3, 1, [2, 2, 2, 2], 2, 1],
];

test('qs8 max pooling matches the MaxPool reference on the integers (pads, strides, dilation, views)', () => {
  for (const [N, C, H, W, k, st, pads, d, extra] of MAX_CASES) {
    const outH = Math.floor((H + pads[0]! + pads[2]! - (d * (k - 1) + 1)) / st) + 1;
    const outW = Math.floor((W + pads[1]! + pads[3]! - (d * (k - 1) + 1)) / st) + 1;
    const s: PoolSpec = {
      kind: 'max',
      batch: N,
      inH: H,
      inW: W,
      channels: C,
      outH,
      outW,
      kernelH: k,
      kernelW: k,
      strideH: st,
      strideW: st,
      padTop: pads[0]!,
      padLeft: pads[1]!,
      padBottom: pads[2]!,
      padRight: pads[3]!,
      dilationH: d,
      dilationW: d,
      countIncludePad: false,
    };
    const q = randomInt8(N * C * H * W, C * H + W);
    const stride = C + extra;
    const run = runBytes(
      {
        x: { bytes: N * H * W * stride, init: nchwToNhwc(q, N, C, H * W, stride) },
        y: { bytes: N * outH * outW * stride },
      },
      qs8MaxPool.parallelExtent(s),
      (fn, a) =>
        qs8MaxPool.emit(fn, s, v, {
          input: { addrBytes: a['x']!, pixelStride: stride },
          output: { addrBytes: a['y']!, pixelStride: stride },
        }),
      3,
    );
    assert.deepEqual(run.guardViolations, []);
    const ref = MaxPool.reference([makeTensor('float32', [N, C, H, W], Float32Array.from(q))], {
      node: node('MaxPool', [
        ['kernel_shape', ints([k, k])],
        ['strides', ints([st, st])],
        ['pads', ints(pads)],
        ['dilations', ints([d, d])],
      ]),
      opset: 13,
    })[0]!;
    assert.deepEqual(ref.shape, [N, C, outH, outW]);
    assert.deepEqual(
      Array.from(toNchw(run.buffers['y']!, N, C, outH * outW, stride)),
      Array.from(ref.data as Float32Array),
      `case ${[N, C, H, W, k, st].join('x')}`,
    );
  }
});

test('qs8 global average pooling is within one step of DequantizeLinear + GlobalAveragePool + QuantizeLinear', () => {
  for (const [N, C, H, W, extra] of [
    [1, 5, 3, 3, 0],
    [2, 16, 7, 7, 3],
    [1, 37, 14, 14, 0],
    [1, 96, 1, 1, 1],
  ] as const) {
    const s: Qs8GlobalPoolSpec = {
      batch: N,
      pixels: H * W,
      channels: C,
      inScale: 0.043,
      inZero: -17,
      outScale: 0.011,
      outZero: 5,
      outMin: -128,
      outMax: 127,
    };
    const q = randomInt8(N * C * H * W, 3 * C + H);
    const stride = C + extra;
    const run = runBytes(
      { x: { bytes: N * H * W * stride, init: nchwToNhwc(q, N, C, H * W, stride) }, y: { bytes: N * stride } },
      N,
      (fn, a) =>
        qs8GlobalAvgPool.emit(fn, s, v, {
          input: { addrBytes: a['x']!, pixelStride: stride },
          output: { addrBytes: a['y']!, pixelStride: stride },
        }),
      2,
    );
    assert.deepEqual(run.guardViolations, []);
    const ctx = (op: string) => ({ node: node(op), opset: 13 });
    const dq = DequantizeLinear.reference(
      [makeTensor('int8', [N, C, H, W], q), scalar(0.043), z8(-17)],
      ctx('DequantizeLinear'),
    )[0]!;
    const mean = GlobalAveragePool.reference([dq], ctx('GlobalAveragePool'))[0]!;
    const want = QuantizeLinear.reference([mean, scalar(0.011), z8(5)], ctx('QuantizeLinear'))[0]!.data as Int8Array;
    const got = toNchw(run.buffers['y']!, N, C, 1, stride);
    let off = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i]! - want[i]!);
      assert.ok(d <= 1, `channel ${i}: ${got[i]} vs ${want[i]}`);
      off += d;
    }
    // Float sums in another order may round a tie the other way; never more than a few channels.
    assert.ok(off <= Math.max(1, want.length / 20), `${off} channels off by one of ${want.length}`);
  }
});
