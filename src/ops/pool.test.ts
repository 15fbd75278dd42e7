import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AttrValue, toAttribute } from '../ir/builder.js';
import type { Node } from '../ir/graph.js';
import { type Tensor, f32, makeTensor } from '../ir/tensor.js';
import { AveragePool, GlobalAveragePool, GlobalMaxPool, MaxPool } from './pool.js';
import type { OpContext, OpDef } from './types.js';

function ctxFor(op: OpDef, attrs: Record<string, AttrValue>, outputs = ['y'], opset = 17): OpContext {
  const attributes = new Map(Object.entries(attrs).map(([k, v]) => [k, toAttribute(v)]));
  const node: Node = { name: 'p', opType: op.opType, domain: '', inputs: ['x'], outputs, attributes };
  return { node, opset };
}

function run(op: OpDef, x: Tensor, attrs: Record<string, AttrValue>, outputs = ['y'], opset = 17): Tensor[] {
  return op.reference([x], ctxFor(op, attrs, outputs, opset));
}

function close(t: Tensor, shape: number[], values: number[]): void {
  assert.deepEqual([...t.shape], shape);
  assert.deepEqual(
    Array.from(t.data as Float32Array, (v) => Math.round(Number(v) * 1e5) / 1e5),
    values,
  );
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

test('MaxPool 2x2 stride 1 over 3x3', () => {
  close(run(MaxPool, f32([1, 1, 3, 3], range(9)), { kernel_shape: [2, 2] })[0]!, [1, 1, 2, 2], [5, 6, 8, 9]);
});

test('MaxPool ceil_mode adds the partial last window', () => {
  const x = f32([1, 1, 5], range(5));
  close(run(MaxPool, x, { kernel_shape: [2], strides: [2] })[0]!, [1, 1, 2], [2, 4]);
  close(run(MaxPool, x, { kernel_shape: [2], strides: [2], ceil_mode: 1 })[0]!, [1, 1, 3], [2, 4, 5]);
  // A window that would start in the end padding is dropped: 4 inputs, k2 s2, ceil gives 2 not 3.
  close(
    run(MaxPool, f32([1, 1, 4], range(4)), { kernel_shape: [2], strides: [2], pads: [0, 1], ceil_mode: 1 })[0]!,
    [1, 1, 2],
    [2, 4],
  );
});

test('MaxPool dilation and padding that is never the max', () => {
  close(run(MaxPool, f32([1, 1, 5], [1, 5, 2, 4, 3]), { kernel_shape: [2], dilations: [2] })[0]!, [1, 1, 3], [2, 5, 3]);
  close(run(MaxPool, f32([1, 1, 3], [-3, -2, -1]), { kernel_shape: [3], pads: [1, 1] })[0]!, [1, 1, 3], [-2, -1, -1]);
});

test('MaxPool Indices are flat offsets, row- or column-major within each plane', () => {
  const x = f32([1, 2, 3, 3], [...range(9), ...range(9)]);
  const [, rowMajor] = run(MaxPool, x, { kernel_shape: [2, 2] }, ['y', 'i']);
  assert.equal(rowMajor!.dtype, 'int64');
  assert.deepEqual(Array.from(rowMajor!.data as BigInt64Array, Number), [4, 5, 7, 8, 13, 14, 16, 17]);
  const [, colMajor] = run(MaxPool, x, { kernel_shape: [2, 2], storage_order: 1 }, ['y', 'i']);
  // (h, w) -> h + w * H: (1,1) 4, (1,2) 7, (2,1) 5, (2,2) 8.
  assert.deepEqual(Array.from(colMajor!.data as BigInt64Array, Number), [4, 7, 5, 8, 13, 16, 14, 17]);
});

test('MaxPool keeps int8 data int8', () => {
  const x = makeTensor('int8', [1, 1, 4], Int8Array.from([-5, 7, -128, 3]));
  const [y] = run(MaxPool, x, { kernel_shape: [2], strides: [2] });
  assert.equal(y!.dtype, 'int8');
  assert.deepEqual(Array.from(y!.data as Int8Array), [7, 3]);
});

test('AveragePool count_include_pad decides whether pads count', () => {
  const x = f32([1, 1, 3], [3, 6, 9]);
  close(run(AveragePool, x, { kernel_shape: [3], pads: [1, 1] })[0]!, [1, 1, 3], [4.5, 6, 7.5]);
  close(run(AveragePool, x, { kernel_shape: [3], pads: [1, 1], count_include_pad: 1 })[0]!, [1, 1, 3], [3, 6, 5]);
});

test('AveragePool ceil_mode never counts taps beyond the end padding', () => {
  const x = f32([1, 1, 5], range(5));
  close(
    run(AveragePool, x, { kernel_shape: [2], strides: [2], ceil_mode: 1, count_include_pad: 1 })[0]!,
    [1, 1, 3],
    [1.5, 3.5, 5],
  );
  close(
    run(AveragePool, x, { kernel_shape: [2], strides: [2], pads: [0, 1], count_include_pad: 1 })[0]!,
    [1, 1, 3],
    [1.5, 3.5, 2.5],
  );
});

test('AveragePool SAME_LOWER on 2-D with odd sizes', () => {
  // 1x3 input, k 1x2: SAME pads one column at the beginning (LOWER); divisor counts real taps only.
  close(
    run(AveragePool, f32([1, 1, 1, 3], [2, 4, 6]), { kernel_shape: [1, 2], auto_pad: 'SAME_LOWER' })[0]!,
    [1, 1, 1, 3],
    [2, 3, 5],
  );
});

test('AveragePool dilations need opset 19', () => {
  const x = f32([1, 1, 5], range(5));
  close(run(AveragePool, x, { kernel_shape: [2], dilations: [2] }, ['y'], 19)[0]!, [1, 1, 3], [2, 3, 4]);
  assert.throws(() => run(AveragePool, x, { kernel_shape: [2], dilations: [2] }, ['y'], 17), /opset 19/);
});

test('pools reject a missing kernel_shape and report shapes that do not fit', () => {
  assert.throws(() => run(MaxPool, f32([1, 1, 3], [1, 2, 3]), {}), /kernel_shape attribute is required/);
  assert.throws(() => run(MaxPool, f32([1, 1, 1], [1]), { kernel_shape: [3] }), /smaller than the window/);
});

test('GlobalAveragePool and GlobalMaxPool keep spatial axes as 1', () => {
  const x = f32([1, 2, 2, 2], [1, 2, 3, 4, -1, -2, -3, -4]);
  close(GlobalAveragePool.reference([x], ctxFor(GlobalAveragePool, {}))[0]!, [1, 2, 1, 1], [2.5, -2.5]);
  close(GlobalMaxPool.reference([x], ctxFor(GlobalMaxPool, {}))[0]!, [1, 2, 1, 1], [4, -1]);
  assert.deepEqual(
    GlobalAveragePool.inferTypes([{ dtype: 'float32', shape: ['N', 7, null, 3] }], ctxFor(GlobalAveragePool, {})),
    [{ dtype: 'float32', shape: ['N', 7, 1, 1] }],
  );
});

test('pool inferTypes: known dims computed, unknown stay null, Indices typed int64', () => {
  const ctx = ctxFor(MaxPool, { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }, ['y', 'i']);
  assert.deepEqual(MaxPool.inferTypes([{ dtype: 'float32', shape: [1, 'C', 112, null] }], ctx), [
    { dtype: 'float32', shape: [1, 'C', 56, null] },
    { dtype: 'int64', shape: [1, 'C', 56, null] },
  ]);
});
