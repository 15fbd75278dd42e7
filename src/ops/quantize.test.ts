import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AttrValue, toAttribute } from '../ir/builder.js';
import type { DType } from '../ir/dtype.js';
import { EdgecnnError } from '../ir/errors.js';
import type { Node } from '../ir/graph.js';
import { type Tensor, f32, makeTensor } from '../ir/tensor.js';
import {
  ConvInteger,
  DequantizeLinear,
  MatMulInteger,
  QLinearConv,
  QLinearMatMul,
  QuantizeLinear,
} from './quantize.js';
import type { OpContext, OpDef } from './types.js';

function ctxFor(op: OpDef, attrs: Record<string, AttrValue> = {}, opset = 13): OpContext {
  const attributes = new Map(Object.entries(attrs).map(([k, v]) => [k, toAttribute(v)]));
  const node: Node = { name: 'q', opType: op.opType, domain: '', inputs: [], outputs: ['y'], attributes };
  return { node, opset };
}

function run(op: OpDef, inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue> = {}, opset = 13): Tensor {
  return op.reference(inputs, ctxFor(op, attrs, opset))[0]!;
}

const u8 = (shape: number[], v: number[]): Tensor => makeTensor('uint8', shape, Uint8Array.from(v));
const i8 = (shape: number[], v: number[]): Tensor => makeTensor('int8', shape, Int8Array.from(v));
const i32 = (shape: number[], v: number[]): Tensor => makeTensor('int32', shape, Int32Array.from(v));

function expectQ(t: Tensor, dtype: DType, shape: number[], values: number[]): void {
  assert.equal(t.dtype, dtype);
  assert.deepEqual([...t.shape], shape);
  assert.deepEqual(Array.from(t.data as Uint8Array, Number), values);
}

test('QuantizeLinear rounds half to even and saturates', () => {
  const x = f32([7], [0.5, 1.5, 2.5, -0.5, -1.5, 300, -300]);
  expectQ(run(QuantizeLinear, [x, f32([], [1])]), 'uint8', [7], [0, 2, 2, 0, 0, 255, 0]);
  expectQ(run(QuantizeLinear, [x, f32([], [1]), i8([], [0])]), 'int8', [7], [0, 2, 2, 0, -2, 127, -128]);
  // scale 0.5 and zero point 128: q = round(x / 0.5) + 128.
  expectQ(
    run(QuantizeLinear, [f32([3], [0.25, -1, 1.1]), f32([], [0.5]), u8([], [128])]),
    'uint8',
    [3],
    [128, 126, 130],
  );
});

test('QuantizeLinear per-axis along axis 1 (default) and axis 0', () => {
  const x = f32([2, 2], [1, 1, 1, 1]);
  expectQ(run(QuantizeLinear, [x, f32([2], [1, 0.25]), u8([2], [0, 10])]), 'uint8', [2, 2], [1, 14, 1, 14]);
  expectQ(
    run(QuantizeLinear, [x, f32([2], [1, 0.25]), u8([2], [0, 10])], { axis: 0 }),
    'uint8',
    [2, 2],
    [1, 1, 14, 14],
  );
  assert.throws(() => run(QuantizeLinear, [x, f32([2], [1, 1])], {}, 10), /per-axis scales need opset 13/);
});

test('QuantizeLinear rejects blocked quantization clearly', () => {
  const x = f32([2, 4], new Array(8).fill(1));
  assert.throws(
    () => run(QuantizeLinear, [x, f32([2, 2], [1, 1, 1, 1])], { axis: 1, block_size: 2 }, 21),
    (e: unknown) => e instanceof EdgecnnError && e.code === 'unsupported-operator' && /block/.test(e.message),
  );
});

test('QuantizeLinear-21 output_dtype picks the type when there is no zero point', () => {
  expectQ(run(QuantizeLinear, [f32([2], [-3, 3]), f32([], [1])], { output_dtype: 3 }, 21), 'int8', [2], [-3, 3]);
  assert.deepEqual(QuantizeLinear.inferTypes([{ shape: [2] }, {}], ctxFor(QuantizeLinear, { output_dtype: 3 }, 21)), [
    { dtype: 'int8', shape: [2] },
  ]);
});

test('DequantizeLinear per-tensor and per-axis', () => {
  const y = run(DequantizeLinear, [u8([3], [0, 128, 255]), f32([], [0.5]), u8([], [128])]);
  assert.equal(y.dtype, 'float32');
  assert.deepEqual(Array.from(y.data as Float32Array), [-64, 0, 63.5]);
  const x = i8([2, 2], [-2, 4, -2, 4]);
  const z = run(DequantizeLinear, [x, f32([2], [1, 0.5]), i8([2], [0, 2])], { axis: 0 });
  assert.deepEqual(Array.from(z.data as Float32Array), [-2, 4, -2, 1]);
  assert.throws(() => run(DequantizeLinear, [i32([1], [5]), f32([], [1]), i32([], [3])]), /must be 0 for int32/);
});

test('ConvInteger subtracts zero points; padding counts as the zero point', () => {
  const x = u8([1, 1, 2, 2], [2, 3, 4, 5]);
  const y = run(ConvInteger, [x, u8([1, 1, 1, 1], [3]), u8([], [1]), u8([], [1])]);
  expectQ(y, 'int32', [1, 1, 2, 2], [2, 4, 6, 8]);
  const padded = run(ConvInteger, [u8([1, 1, 2], [7, 9]), u8([1, 1, 2], [1, 1]), u8([], [7])], { pads: [1, 0] });
  expectQ(padded, 'int32', [1, 1, 2], [0, 2]);
});

test('MatMulInteger with a per-column zero point for B', () => {
  const a = u8([1, 2], [3, 5]);
  const b = i8([2, 2], [1, 2, 3, 4]);
  expectQ(run(MatMulInteger, [a, b, u8([], [1]), i8([2], [1, 2])]), 'int32', [1, 2], [2 * 0 + 4 * 2, 2 * 0 + 4 * 2]);
});

test('QLinearConv requantizes with x_scale * w_scale / y_scale and adds the int32 bias', () => {
  // acc = (x - 10) * 2 = [0, 20]; multiplier 0.5 * 0.25 / 0.125 = 1; y = acc + bias + 5.
  const inputs = [
    u8([1, 1, 1, 2], [10, 20]),
    f32([], [0.5]),
    u8([], [10]),
    i8([1, 1, 1, 1], [2]),
    f32([], [0.25]),
    i8([], [0]),
    f32([], [0.125]),
    u8([], [5]),
  ];
  expectQ(run(QLinearConv, inputs), 'uint8', [1, 1, 1, 2], [5, 25]);
  expectQ(run(QLinearConv, [...inputs, i32([1], [4])]), 'uint8', [1, 1, 1, 2], [9, 29]);
  // Per-channel weight scales: channel 1 has twice the multiplier, and saturates at 255.
  const w2 = i8([2, 1, 1, 1], [2, 100]);
  const pc = run(QLinearConv, [
    inputs[0],
    inputs[1],
    inputs[2],
    w2,
    f32([2], [0.25, 0.5]),
    i8([2], [0, 0]),
    inputs[6],
    inputs[7],
  ]);
  expectQ(pc, 'uint8', [1, 2, 1, 2], [5, 25, 5, 255]);
});

test('QLinearMatMul rounds half to even on the requantized value', () => {
  // acc = 1*1 + 2*1 = 3 with multiplier 0.5: 1.5 rounds to 2; acc 5 gives 2.5, which rounds to 2.
  const y = run(QLinearMatMul, [
    u8([2, 2], [1, 2, 2, 3]),
    f32([], [1]),
    u8([], [0]),
    u8([2, 1], [1, 1]),
    f32([], [0.5]),
    u8([], [0]),
    f32([], [1]),
    u8([], [0]),
  ]);
  expectQ(y, 'uint8', [2, 1], [2, 2]);
});
