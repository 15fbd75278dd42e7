import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Attribute, Node } from '../../ir/graph.js';
import { f32, i64 } from '../../ir/tensor.js';
import { getOp } from '../../ops/registry.js';
import {
  firstWriteOutsideSlice,
  fromNhwc,
  maxToleranceRatio,
  randomFloats,
  runKernel,
  toNhwc,
} from './kernel-harness.js';
import { type ChannelPoolSpec, type PoolSpec, channelPool, globalPool, interiorRange, pool } from './pool.js';

function node(opType: string, attrs: Record<string, number | number[]>): Node {
  const attributes = new Map<string, Attribute>();
  for (const [k, v] of Object.entries(attrs)) {
    attributes.set(k, Array.isArray(v) ? { kind: 'ints', value: v } : { kind: 'int', value: v });
  }
  return { name: `test_${opType}`, opType, domain: '', inputs: ['x'], outputs: ['y'], attributes };
}

interface Case {
  kind: 'max' | 'avg';
  shape: [number, number, number, number];
  k: [number, number];
  s?: [number, number];
  pads?: [number, number, number, number];
  d?: [number, number];
  ceil?: boolean;
  includePad?: boolean;
}

const CASES: Case[] = [
  { kind: 'max', shape: [1, 13, 9, 11], k: [3, 3], s: [2, 2], pads: [1, 1, 1, 1] },
  { kind: 'max', shape: [1, 7, 10, 10], k: [3, 3], s: [2, 2], ceil: true },
  { kind: 'max', shape: [2, 5, 8, 7], k: [2, 2], s: [2, 2] },
  { kind: 'max', shape: [1, 33, 9, 9], k: [3, 3], d: [2, 2], pads: [2, 1, 0, 2] },
  { kind: 'max', shape: [1, 1, 2, 2], k: [3, 3], pads: [1, 1, 1, 1] },
  { kind: 'max', shape: [1, 64, 6, 5], k: [1, 1], s: [2, 2] },
  { kind: 'avg', shape: [1, 3, 5, 6], k: [3, 3], pads: [1, 1, 1, 1] },
  { kind: 'avg', shape: [1, 3, 5, 6], k: [3, 3], pads: [1, 1, 1, 1], includePad: true },
  { kind: 'avg', shape: [1, 17, 7, 9], k: [2, 3], s: [2, 1], pads: [1, 0, 0, 2], ceil: true, includePad: true },
  { kind: 'avg', shape: [2, 16, 7, 7], k: [3, 3], s: [2, 2], ceil: true },
  { kind: 'avg', shape: [1, 64, 8, 8], k: [2, 2], s: [2, 2] },
  { kind: 'avg', shape: [1, 7, 4, 4], k: [5, 5], pads: [2, 2, 2, 2], includePad: true },
];

function outLen(inLen: number, k: number, s: number, d: number, p0: number, p1: number, ceil: boolean): number {
  const room = inLen + p0 + p1 - ((k - 1) * d + 1);
  let out = (ceil ? Math.ceil(room / s) : Math.floor(room / s)) + 1;
  if (ceil && (out - 1) * s >= inLen + p0) out--;
  return out;
}

for (const c of CASES) {
  const [N, C, H, W] = c.shape;
  const s = c.s ?? [1, 1];
  const d = c.d ?? [1, 1];
  const p = c.pads ?? [0, 0, 0, 0];
  const name = `${c.kind}pool ${c.shape.join('x')} k${c.k} s${s} p${p} d${d}${c.ceil ? ' ceil' : ''}${c.includePad ? ' incl' : ''}`;
  test(`${name} matches the reference for every variant, in views, in 1 and 3 chunks`, () => {
    const x = randomFloats(N * C * H * W, 7 + C);
    const attrs: Record<string, number | number[]> = {
      kernel_shape: c.k,
      strides: s,
      pads: p,
      ceil_mode: c.ceil ? 1 : 0,
    };
    if (c.kind === 'max') attrs['dilations'] = d;
    else attrs['count_include_pad'] = c.includePad ? 1 : 0;
    const op = getOp('', c.kind === 'max' ? 'MaxPool' : 'AveragePool')!;
    const want = op.reference([f32(c.shape, x)], { node: node(op.opType, attrs), opset: 19 })[0]!;
    const outH = outLen(H, c.k[0], s[0], d[0], p[0], p[2], !!c.ceil);
    const outW = outLen(W, c.k[1], s[1], d[1], p[1], p[3], !!c.ceil);
    assert.deepEqual(want.shape, [N, C, outH, outW]);
    const spec: PoolSpec = {
      kind: c.kind,
      batch: N,
      inH: H,
      inW: W,
      channels: C,
      outH,
      outW,
      kernelH: c.k[0],
      kernelW: c.k[1],
      strideH: s[0],
      strideW: s[1],
      padTop: p[0],
      padLeft: p[1],
      padBottom: p[2],
      padRight: p[3],
      dilationH: d[0],
      dilationW: d[1],
      countIncludePad: !!c.includePad,
    };
    for (const v of pool.variants) {
      assert.ok(pool.supports(spec, v));
      for (const chunks of [1, 3]) {
        const inStride = C + 3;
        const outStride = C + 2;
        const run = runKernel(
          {
            x: { floats: N * H * W * inStride, init: toNhwc(x, c.shape, inStride, 2) },
            y: { floats: N * outH * outW * outStride },
          },
          pool.parallelExtent(spec, v),
          (fn, a) =>
            pool.emit(fn, spec, v, {
              input: { addrBytes: a['x']! + 8, pixelStride: inStride },
              output: { addrBytes: a['y']! + 4, pixelStride: outStride },
            }),
          chunks,
        );
        const id = pool.id(spec, v);
        assert.deepEqual(run.guardViolations, [], `${id} wrote outside its buffers`);
        const y = run.buffers['y']!;
        assert.equal(firstWriteOutsideSlice(y, N * outH * outW, outStride, 1, C), -1, `${id} wrote outside its slice`);
        const got = fromNhwc(y, [N, C, outH, outW], outStride, 1);
        const r = maxToleranceRatio(got, want.data as Float32Array, 1e-6, 1e-6);
        assert.ok(r <= 1, `${id} (chunks ${chunks}): error ratio ${r}`);
      }
    }
  });
}

test('interior ranges cover exactly the windows that need no clipping', () => {
  for (const [outLen_, inLen, k, st, pad, d] of [
    [5, 9, 3, 2, 1, 1],
    [4, 4, 3, 1, 1, 1],
    [3, 2, 3, 1, 1, 1],
    [7, 9, 3, 1, 2, 2],
    [2, 7, 3, 2, 0, 1],
  ] as const) {
    const [lo, hi] = interiorRange(outLen_, inLen, k, st, pad, d);
    for (let o = 0; o < outLen_; o++) {
      const first = o * st - pad;
      const inside = first >= 0 && first + (k - 1) * d < inLen;
      assert.equal(o >= lo && o < hi, inside, `o=${o} of ${outLen_} in=${inLen} k=${k} s=${st} p=${pad} d=${d}`);
    }
  }
});

for (const kind of ['avg', 'max'] as const) {
  for (const [N, C, H, W] of [
    [1, 1, 1, 1],
    [1, 5, 7, 7],
    [2, 13, 3, 5],
    [1, 64, 7, 7],
    [1, 37, 2, 3],
  ] as const) {
    test(`global ${kind} pool ${N}x${C}x${H}x${W} matches the reference for every variant`, () => {
      const x = randomFloats(N * C * H * W, 3 + C);
      const op = getOp('', kind === 'avg' ? 'GlobalAveragePool' : 'GlobalMaxPool')!;
      const want = op.reference([f32([N, C, H, W], x)], { node: node(op.opType, {}), opset: 13 })[0]!;
      const spec = { kind, batch: N, pixels: H * W, channels: C };
      for (const v of globalPool.variants) {
        for (const chunks of [1, 2]) {
          const inStride = C + 1;
          const outStride = C + 3;
          const run = runKernel(
            {
              x: { floats: N * H * W * inStride, init: toNhwc(x, [N, C, H, W], inStride, 1) },
              y: { floats: N * outStride },
            },
            globalPool.parallelExtent(spec, v),
            (fn, a) =>
              globalPool.emit(fn, spec, v, {
                input: { addrBytes: a['x']! + 4, pixelStride: inStride },
                output: { addrBytes: a['y']!, pixelStride: outStride },
              }),
            chunks,
          );
          const id = globalPool.id(spec, v);
          assert.deepEqual(run.guardViolations, [], id);
          const y = run.buffers['y']!;
          assert.equal(firstWriteOutsideSlice(y, N, outStride, 0, C), -1, `${id} wrote outside its slice`);
          const got = fromNhwc(y, [N, C, 1, 1], outStride, 0);
          const r = maxToleranceRatio(got, want.data as Float32Array, 1e-6, 1e-5);
          assert.ok(r <= 1, `${id}: error ratio ${r}`);
        }
      }
    });
  }
}

for (const kind of ['avg', 'max', 'sum'] as const) {
  test(`channel ${kind} pool (Reduce over C, keepdims) matches the reference on awkward channel counts`, () => {
    const opType = { avg: 'ReduceMean', max: 'ReduceMax', sum: 'ReduceSum' }[kind];
    for (const C of [1, 3, 5, 13, 16, 17, 40, 100]) {
      const shape: [number, number, number, number] = [2, C, 3, 4];
      const x = randomFloats(24 * C, C + 31);
      const n = node(opType, { axes: [1], keepdims: 1 });
      const inputs = opType === 'ReduceSum' ? [f32(shape, x), i64([1], [1])] : [f32(shape, x)];
      if (opType === 'ReduceSum') {
        n.attributes.delete('axes');
        n.inputs = ['x', 'axes'];
      }
      const want = getOp('', opType)!.reference(inputs, { node: n, opset: 13 })[0]!;
      assert.deepEqual(want.shape, [2, 1, 3, 4]);
      const spec: ChannelPoolSpec = { kind, pixels: 24, channels: C };
      for (const v of channelPool.variants) {
        const run = runKernel(
          { x: { floats: 24 * (C + 2), init: toNhwc(x, shape, C + 2, 1) }, y: { floats: 24 * 2 } },
          channelPool.parallelExtent(spec, v),
          (fn, a) =>
            channelPool.emit(fn, spec, v, {
              input: { addrBytes: a['x']! + 4, pixelStride: C + 2 },
              output: { addrBytes: a['y']! + 4, pixelStride: 2 },
            }),
          3,
        );
        const id = `${channelPool.id(spec, v)} C=${C}`;
        assert.deepEqual(run.guardViolations, [], id);
        const y = run.buffers['y']!;
        assert.equal(firstWriteOutsideSlice(y, 24, 2, 1, 1), -1, `${id} wrote outside its slice`);
        const got = fromNhwc(y, [2, 1, 3, 4], 2, 1);
        // f32 summation of C values in [-4, 4]: absolute error grows with C (cancellation), not with the result
        const r = maxToleranceRatio(got, want.data as Float32Array, kind === 'sum' ? 1e-6 * C : 1e-6, 2e-6);
        assert.ok(r <= 1, `${id}: error ratio ${r}`);
      }
    }
  });
}
