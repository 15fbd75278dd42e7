import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AttrValue, attr, toAttribute } from '../ir/builder.js';
import type { Node } from '../ir/graph.js';
import { type Tensor, f32, i64, makeTensor } from '../ir/tensor.js';
import { Resize, Upsample } from './resize.js';
import type { OpContext, OpDef } from './types.js';

function ctxFor(op: OpDef, attrs: Record<string, AttrValue>, opset: number): OpContext {
  const attributes = new Map(Object.entries(attrs).map(([k, v]) => [k, toAttribute(v)]));
  const node: Node = { name: 'rs', opType: op.opType, domain: '', inputs: [], outputs: ['y'], attributes };
  return { node, opset };
}

/** Resize-13 style call: X, roi (omitted), scales or sizes. */
function resize(
  x: Tensor,
  how: { scales?: number[]; sizes?: number[]; roi?: number[] },
  attrs: Record<string, AttrValue> = {},
  opset = 13,
): Tensor {
  const inputs = [
    x,
    how.roi === undefined ? undefined : f32([how.roi.length], how.roi),
    how.scales === undefined ? undefined : f32([how.scales.length], how.scales),
    how.sizes === undefined ? undefined : i64([how.sizes.length], how.sizes),
  ];
  return Resize.reference(inputs, ctxFor(Resize, attrs, opset))[0]!;
}

function close(t: Tensor, shape: number[], values: number[]): void {
  assert.deepEqual([...t.shape], shape);
  values.forEach((v, i) => assert.ok(Math.abs(Number(t.data[i]) - v) < 1e-6, `element ${i}: ${t.data[i]} vs ${v}`));
}

test('nearest upsampling with the defaults (half_pixel, round_prefer_floor)', () => {
  const y = resize(f32([1, 1, 2, 2], [1, 2, 3, 4]), { scales: [1, 1, 2, 2] });
  close(y, [1, 1, 4, 4], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
});

test('linear under each coordinate transformation', () => {
  const x = f32([2], [0, 4]);
  close(resize(x, { scales: [2] }, { mode: 'linear' }), [4], [0, 1, 3, 4]);
  close(resize(x, { sizes: [3] }, { mode: 'linear', coordinate_transformation_mode: 'align_corners' }), [3], [0, 2, 4]);
  close(
    resize(x, { scales: [2] }, { mode: 'linear', coordinate_transformation_mode: 'asymmetric' }),
    [4],
    [0, 2, 4, 4],
  );
  // pytorch_half_pixel maps a single output to 0 where half_pixel would take the centre.
  close(resize(x, { sizes: [1] }, { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' }), [1], [0]);
  close(resize(x, { sizes: [1] }, { mode: 'linear' }), [1], [2]);
});

test('bilinear on a 2x2 image', () => {
  const y = resize(
    f32([2, 2], [0, 2, 4, 6]),
    { sizes: [3, 3] },
    { mode: 'linear', coordinate_transformation_mode: 'align_corners' },
  );
  close(y, [3, 3], [0, 1, 2, 2, 3, 4, 4, 5, 6]);
});

test('nearest_mode decides the halfway points', () => {
  // asymmetric, scale 2: the source coordinates are 0, 0.5, 1, 1.5.
  const x = f32([2], [10, 20]);
  const a = { coordinate_transformation_mode: 'asymmetric' };
  close(resize(x, { scales: [2] }, { ...a, nearest_mode: 'round_prefer_floor' }), [4], [10, 10, 20, 20]);
  close(resize(x, { scales: [2] }, { ...a, nearest_mode: 'round_prefer_ceil' }), [4], [10, 20, 20, 20]);
  close(resize(x, { scales: [2] }, { ...a, nearest_mode: 'floor' }), [4], [10, 10, 20, 20]);
  close(resize(x, { scales: [2] }, { ...a, nearest_mode: 'ceil' }), [4], [10, 20, 20, 20]);
});

test('cubic uses the Keys kernel with clamped or excluded outside taps', () => {
  // At a half-way point with A = -0.75 the four weights are -0.09375, 0.59375, 0.59375, -0.09375.
  const a = { mode: 'cubic', coordinate_transformation_mode: 'asymmetric' };
  close(resize(f32([4], [0, 1, 0, 0]), { scales: [2] }, a), [8], [0, 0.59375, 1, 0.59375, 0, -0.09375, 0, 0]);
  // Interior points reproduce a ramp; at 0.5 the tap at -1 is clamped to index 0, which bends it.
  const ramp = resize(f32([4], [0, 1, 2, 3]), { scales: [2] }, a);
  assert.equal(ramp.data[3], 1.5);
  assert.equal(ramp.data[1], 0.59375 * 1 - 0.09375 * 2);
  const edge = f32([4], [4, 0, 0, 0]);
  assert.equal(resize(edge, { scales: [2] }, a).data[1], 2);
  const excl = resize(edge, { scales: [2] }, { ...a, exclude_outside: 1 });
  assert.ok(Math.abs(Number(excl.data[1]) - (4 * 0.59375) / 1.09375) < 1e-6);
});

test('tf_crop_and_resize samples the roi and extrapolates outside the input', () => {
  const x = f32([5], [0, 10, 20, 30, 40]);
  const y = resize(
    x,
    { roi: [0.5, 1.5], sizes: [3] },
    { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: attr.float(7) },
  );
  close(y, [3], [20, 40, 7]);
});

test('opset 18 antialias widens the linear kernel when downsampling', () => {
  // scale 0.5: source points 0.5 and 2.5, tent weights 0.25/0.75/0.75/0.25 (sum 2) over four samples, edge-clamped.
  const x = f32([4], [0, 4, 8, 12]);
  close(resize(x, { scales: [0.5] }, { mode: 'linear', antialias: 1 }, 18), [2], [2.5, 9.5]);
  close(resize(x, { scales: [0.5] }, { mode: 'linear' }, 18), [2], [2, 10]);
});

test('opset 18 axes and keep_aspect_ratio_policy', () => {
  const x = f32([1, 1, 2, 4], [1, 2, 3, 4, 5, 6, 7, 8]);
  const sizes = i64([2], [4, 4]);
  const call = (policy: string): Tensor =>
    Resize.reference(
      [x, undefined, undefined, sizes],
      ctxFor(Resize, { axes: [2, 3], keep_aspect_ratio_policy: policy }, 18),
    )[0]!;
  assert.deepEqual([...call('stretch').shape], [1, 1, 4, 4]);
  close(call('not_larger'), [1, 1, 2, 4], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...call('not_smaller').shape], [1, 1, 4, 8]);
});

test('opset 10 Resize and Upsample use asymmetric coordinates and legacy nearest rounding', () => {
  const x = f32([5], [10, 20, 30, 40, 50]);
  // Downsampling rounds the source coordinate up: 0, 1.67, 3.33 -> 0, 2, 4.
  const y10 = Resize.reference([x, f32([1], [0.6])], ctxFor(Resize, {}, 10))[0]!;
  close(y10, [3], [10, 30, 50]);
  const up7 = Upsample.reference([f32([2], [1, 2])], ctxFor(Upsample, { scales: attr.floats([2]) }, 7))[0]!;
  close(up7, [4], [1, 1, 2, 2]);
  const up9 = Upsample.reference([f32([2], [0, 4]), f32([1], [2])], ctxFor(Upsample, { mode: 'linear' }, 9))[0]!;
  close(up9, [4], [0, 2, 4, 4]);
});

test('integer tensors interpolate and truncate toward zero', () => {
  const x = makeTensor('uint8', [2], Uint8Array.from([0, 255]));
  const y = resize(x, { scales: [2] }, { mode: 'linear', coordinate_transformation_mode: 'asymmetric' });
  assert.equal(y.dtype, 'uint8');
  assert.deepEqual(Array.from(y.data as Uint8Array), [0, 127, 255, 255]);
});

test('Resize errors name the problem', () => {
  const x = f32([2], [0, 4]);
  assert.throws(() => resize(x, { scales: [2e9] }), /would have 4000000000 elements/);
  assert.throws(() => resize(x, {}), /one of scales and sizes must be given/);
  assert.throws(() => resize(x, { scales: [2, 2] }), /scales has 2 values, expected 1/);
  assert.throws(() => resize(x, { scales: [2] }, { mode: 'area' }), /mode 'area'/);
});

test('Resize inferTypes uses constant scales/sizes and keeps the rank otherwise', () => {
  const ctx = ctxFor(Resize, {}, 13);
  const x = { dtype: 'float32' as const, shape: [1, 3, 10, 20] };
  assert.deepEqual(Resize.inferTypes([x, undefined, { value: f32([4], [1, 1, 2, 0.5]) }], ctx), [
    { dtype: 'float32', shape: [1, 3, 20, 10] },
  ]);
  assert.deepEqual(Resize.inferTypes([x, undefined, undefined, { value: i64([4], [1, 3, 7, 7]) }], ctx), [
    { dtype: 'float32', shape: [1, 3, 7, 7] },
  ]);
  assert.deepEqual(Resize.inferTypes([x, undefined, { dtype: 'float32', shape: [4] }], ctx), [
    { dtype: 'float32', shape: [null, null, null, null] },
  ]);
});
