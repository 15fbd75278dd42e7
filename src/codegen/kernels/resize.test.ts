import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Attribute, Node } from '../../ir/graph.js';
import { type Tensor, f32, i64 } from '../../ir/tensor.js';
import { getOp } from '../../ops/registry.js';
import {
  firstWriteOutsideSlice,
  fromNhwc,
  maxToleranceRatio,
  randomFloats,
  runKernel,
  toNhwc,
} from './kernel-harness.js';
import { type ResizeCoordMode, type ResizeMode, type ResizeNearestMode, type ResizeSpec, resize } from './resize.js';

interface Case {
  mode: ResizeMode;
  coord: ResizeCoordMode;
  nearest?: ResizeNearestMode;
  shape: [number, number, number, number];
  scales?: [number, number];
  sizes?: [number, number];
}

const CASES: Case[] = [
  { mode: 'nearest', coord: 'asymmetric', nearest: 'floor', shape: [1, 13, 5, 7], scales: [2, 2] },
  { mode: 'nearest', coord: 'half_pixel', nearest: 'round_prefer_floor', shape: [2, 3, 4, 5], scales: [2, 2] },
  {
    mode: 'nearest',
    coord: 'tf_half_pixel_for_nn',
    nearest: 'round_prefer_floor',
    shape: [1, 5, 6, 6],
    scales: [0.5, 1.5],
  },
  { mode: 'nearest', coord: 'half_pixel', nearest: 'round_prefer_ceil', shape: [1, 5, 6, 6], scales: [0.5, 1.5] },
  { mode: 'nearest', coord: 'align_corners', nearest: 'ceil', shape: [1, 17, 3, 4], sizes: [7, 5] },
  { mode: 'linear', coord: 'half_pixel', shape: [1, 40, 5, 6], scales: [2, 2] },
  { mode: 'linear', coord: 'half_pixel', shape: [1, 1, 4, 4], scales: [4, 3] },
  { mode: 'linear', coord: 'align_corners', shape: [1, 7, 4, 5], scales: [2, 2] },
  { mode: 'linear', coord: 'pytorch_half_pixel', shape: [1, 16, 6, 4], sizes: [1, 9] },
  { mode: 'linear', coord: 'asymmetric', shape: [2, 5, 8, 9], scales: [0.5, 0.75] },
  { mode: 'linear', coord: 'half_pixel_symmetric', shape: [1, 3, 5, 5], scales: [1.7, 2.3] },
];

function reference(c: Case, x: Tensor, opset: number): Tensor {
  const attributes = new Map<string, Attribute>([
    ['mode', { kind: 'string', value: c.mode }],
    ['coordinate_transformation_mode', { kind: 'string', value: c.coord }],
  ]);
  if (c.nearest) attributes.set('nearest_mode', { kind: 'string', value: c.nearest });
  const node: Node = {
    name: 'r',
    opType: 'Resize',
    domain: '',
    inputs: ['x', '', 's', 'z'],
    outputs: ['y'],
    attributes,
  };
  const [N, C] = c.shape;
  const scales = c.scales ? f32([4], [1, 1, ...c.scales]) : undefined;
  const sizes = c.sizes ? i64([4], [N, C, ...c.sizes]) : undefined;
  return getOp('', 'Resize')!.reference([x, undefined, scales, sizes], { node, opset })[0]!;
}

for (const c of CASES) {
  test(`resize ${c.mode} ${c.coord} ${c.nearest ?? ''} ${c.shape.join('x')} ${c.scales ? `scales ${c.scales}` : `sizes ${c.sizes}`} matches the reference`, () => {
    const [N, C, H, W] = c.shape;
    const x = randomFloats(N * C * H * W, C + H);
    const want = reference(c, f32(c.shape, x), c.coord === 'half_pixel_symmetric' ? 19 : 13);
    const [, , outH, outW] = want.shape as [number, number, number, number];
    const spec: ResizeSpec = {
      mode: c.mode,
      coord: c.coord,
      nearest: c.nearest ?? 'round_prefer_floor',
      batch: N,
      inH: H,
      inW: W,
      channels: C,
      outH,
      outW,
      scaleH: c.scales ? c.scales[0] : outH / H,
      scaleW: c.scales ? c.scales[1] : outW / W,
      lengthH: c.scales ? H * c.scales[0] : outH,
      lengthW: c.scales ? W * c.scales[1] : outW,
    };
    for (const v of resize.variants) {
      assert.ok(resize.supports(spec, v));
      const tables = resize.pack(spec, v, undefined);
      const si = C + 2;
      const so = C + 1;
      const run = runKernel(
        {
          x: { floats: N * H * W * si, init: toNhwc(x, c.shape, si, 1) },
          t: { floats: tables.length, init: tables },
          y: { floats: N * outH * outW * so },
        },
        resize.parallelExtent(spec, v),
        (fn, a) =>
          resize.emit(fn, spec, v, {
            input: { addrBytes: a['x']! + 4, pixelStride: si },
            output: { addrBytes: a['y']!, pixelStride: so },
            tables: a['t']!,
          }),
        3,
      );
      const id = resize.id(spec, v);
      assert.deepEqual(run.guardViolations, [], id);
      const y = run.buffers['y']!;
      assert.equal(firstWriteOutsideSlice(y, N * outH * outW, so, 0, C), -1, `${id} wrote outside its slice`);
      const got = fromNhwc(y, [N, C, outH, outW], so);
      const r = maxToleranceRatio(got, want.data as Float32Array, 2e-6, 2e-6);
      assert.ok(r <= 1, `${id}: error ratio ${r}`);
    }
  });
}

test('Upsample (opset 9) nearest x2 uses the legacy rounding and asymmetric coordinates', () => {
  const shape: [number, number, number, number] = [1, 6, 3, 4];
  const x = randomFloats(72, 5);
  const node: Node = {
    name: 'u',
    opType: 'Upsample',
    domain: '',
    inputs: ['x', 's'],
    outputs: ['y'],
    attributes: new Map([['mode', { kind: 'string', value: 'nearest' }]]),
  };
  const want = getOp('', 'Upsample')!.reference([f32(shape, x), f32([4], [1, 1, 2, 2])], { node, opset: 9 })[0]!;
  const spec: ResizeSpec = {
    mode: 'nearest',
    coord: 'asymmetric',
    nearest: 'legacy',
    batch: 1,
    inH: 3,
    inW: 4,
    channels: 6,
    outH: 6,
    outW: 8,
    scaleH: 2,
    scaleW: 2,
  };
  const v = resize.variants[0]!;
  const tables = resize.pack(spec, v, undefined);
  const run = runKernel(
    { x: { floats: 72, init: toNhwc(x, shape) }, t: { floats: tables.length, init: tables }, y: { floats: 288 } },
    resize.parallelExtent(spec, v),
    (fn, a) =>
      resize.emit(fn, spec, v, {
        input: { addrBytes: a['x']!, pixelStride: 6 },
        output: { addrBytes: a['y']!, pixelStride: 6 },
        tables: a['t']!,
      }),
  );
  assert.deepEqual(fromNhwc(run.buffers['y']!, [1, 6, 6, 8]), want.data);
});

test('tf_half_pixel_for_nn specs that would move channels (as ONNX maps every axis) are refused', () => {
  const base: ResizeSpec = {
    mode: 'nearest',
    coord: 'tf_half_pixel_for_nn',
    nearest: 'round_prefer_ceil',
    batch: 1,
    inH: 2,
    inW: 2,
    channels: 4,
    outH: 4,
    outW: 4,
    scaleH: 2,
    scaleW: 2,
  };
  const v = resize.variants[0]!;
  assert.equal(resize.supports(base, v), false);
  assert.equal(resize.supports({ ...base, mode: 'linear' }, v), false);
  assert.equal(resize.supports({ ...base, nearest: 'floor' }, v), true);
  assert.throws(
    () =>
      resize.emit(null as never, base, v, {
        input: { addrBytes: 0, pixelStride: 4 },
        output: { addrBytes: 0, pixelStride: 4 },
        tables: 0,
      }),
    /unsupported/,
  );
});

test('resize with a fused addend (FPN upsample + add) equals Add(Resize(x), y), also in place over y', () => {
  const shape: [number, number, number, number] = [1, 19, 5, 6];
  const x = randomFloats(19 * 30, 3);
  const c: Case = { mode: 'nearest', coord: 'asymmetric', nearest: 'floor', shape, scales: [2, 2] };
  const up = reference(c, f32(shape, x), 13);
  const y = randomFloats(19 * 120, 4);
  const want = (up.data as Float32Array).map((v, i) => Math.fround(v + y[i]!));
  const spec: ResizeSpec = {
    mode: 'nearest',
    coord: 'asymmetric',
    nearest: 'floor',
    batch: 1,
    inH: 5,
    inW: 6,
    channels: 19,
    outH: 10,
    outW: 12,
    scaleH: 2,
    scaleW: 2,
    addend: true,
  };
  for (const v of resize.variants) {
    const tables = resize.pack(spec, v, undefined);
    for (const inPlace of [false, true]) {
      const run = runKernel(
        {
          x: { floats: 19 * 30, init: toNhwc(x, shape) },
          t: { floats: tables.length, init: tables },
          a: { floats: 19 * 120, init: toNhwc(y, [1, 19, 10, 12]) },
          ...(inPlace ? {} : { o: { floats: 19 * 120 } }),
        },
        resize.parallelExtent(spec, v),
        (fn, ad) =>
          resize.emit(fn, spec, v, {
            input: { addrBytes: ad['x']!, pixelStride: 19 },
            tables: ad['t']!,
            addend: { addrBytes: ad['a']!, pixelStride: 19 },
            output: { addrBytes: ad[inPlace ? 'a' : 'o']!, pixelStride: 19 },
          }),
        2,
      );
      assert.deepEqual(run.guardViolations, []);
      assert.deepEqual(
        fromNhwc(run.buffers[inPlace ? 'a' : 'o']!, [1, 19, 10, 12]),
        want,
        `${resize.id(spec, v)} in place ${inPlace}`,
      );
    }
  }
  assert.throws(
    () =>
      resize.emit(null as never, spec, resize.variants[0]!, {
        input: { addrBytes: 0, pixelStride: 19 },
        output: { addrBytes: 0, pixelStride: 19 },
        tables: 0,
      }),
    /addend/,
  );
});
