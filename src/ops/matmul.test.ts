import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AttrValue, attr, toAttribute } from '../ir/builder.js';
import type { Node } from '../ir/graph.js';
import { type Tensor, f32, makeTensor } from '../ir/tensor.js';
import { Gemm, MatMul } from './matmul.js';
import type { OpContext, OpDef } from './types.js';

function ctxFor(op: OpDef, attrs: Record<string, AttrValue> = {}, opset = 13): OpContext {
  const attributes = new Map(Object.entries(attrs).map(([k, v]) => [k, toAttribute(v)]));
  const node: Node = { name: 'mm', opType: op.opType, domain: '', inputs: [], outputs: ['y'], attributes };
  return { node, opset };
}

function run(op: OpDef, inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue> = {}, opset = 13): Tensor {
  return op.reference(inputs, ctxFor(op, attrs, opset))[0]!;
}

function expectTensor(t: Tensor, shape: number[], values: number[]): void {
  assert.deepEqual([...t.shape], shape);
  assert.deepEqual(Array.from(t.data as Float32Array, Number), values);
}

const A23 = f32([2, 3], [1, 2, 3, 4, 5, 6]);
const B32 = f32([3, 2], [7, 8, 9, 10, 11, 12]);

test('MatMul 2-D', () => {
  expectTensor(run(MatMul, [A23, B32]), [2, 2], [58, 64, 139, 154]);
});

test('MatMul 1-D operands gain and then lose an axis', () => {
  const B = f32([2, 3], [1, 2, 3, 4, 5, 6]);
  expectTensor(run(MatMul, [f32([2], [1, 2]), B]), [3], [9, 12, 15]);
  expectTensor(run(MatMul, [B, f32([3], [1, 0, -1])]), [2], [-2, -2]);
  expectTensor(run(MatMul, [f32([3], [1, 2, 3]), f32([3], [4, 5, 6])]), [], [32]);
});

test('MatMul broadcasts batch axes', () => {
  // A [2,1,1,2] and B [3,2,1]: batches broadcast to [2,3]; Y[i,j] = A[i] . B[j].
  const A = f32([2, 1, 1, 2], [1, 0, 0, 1]);
  const B = f32([3, 2, 1], [1, 2, 3, 4, 5, 6]);
  expectTensor(run(MatMul, [A, B]), [2, 3, 1, 1], [1, 3, 5, 2, 4, 6]);
  assert.deepEqual(
    MatMul.inferTypes([{ dtype: 'float32', shape: [2, 1, 'M', 2] }, { shape: [3, 2, 1] }], ctxFor(MatMul)),
    [{ dtype: 'float32', shape: [2, 3, 'M', 1] }],
  );
});

test('MatMul rejects mismatched inner and batch dims by name', () => {
  assert.throws(() => run(MatMul, [A23, A23]), /MatMul node 'mm'.*inner dimensions differ/);
  assert.throws(
    () => run(MatMul, [f32([2, 1, 3], new Array(6).fill(1)), f32([3, 3, 1], new Array(9).fill(1))]),
    /do not broadcast/,
  );
});

test('MatMul on int32 stays int32', () => {
  const a = makeTensor('int32', [1, 2], Int32Array.from([3, -4]));
  const b = makeTensor('int32', [2, 1], Int32Array.from([5, 6]));
  const y = run(MatMul, [a, b]);
  assert.equal(y.dtype, 'int32');
  assert.deepEqual(Array.from(y.data as Int32Array), [-9]);
});

test('Gemm transA/transB, alpha and beta', () => {
  const At = f32([3, 2], [1, 4, 2, 5, 3, 6]);
  const Bt = f32([2, 3], [7, 9, 11, 8, 10, 12]);
  const C = f32([2, 2], [1, 1, 1, 1]);
  const a = { transA: 1, transB: 1, alpha: attr.float(0.5), beta: attr.float(2) };
  expectTensor(run(Gemm, [At, Bt, C], a), [2, 2], [31, 34, 71.5, 79]);
});

test('Gemm broadcasts C from [N], [M,1] and a scalar; C is optional from opset 11', () => {
  expectTensor(run(Gemm, [A23, B32, f32([2], [1, 2])]), [2, 2], [59, 66, 140, 156]);
  expectTensor(run(Gemm, [A23, B32, f32([2, 1], [1, 2])]), [2, 2], [59, 65, 141, 156]);
  expectTensor(run(Gemm, [A23, B32, f32([], [-8])]), [2, 2], [50, 56, 131, 146]);
  expectTensor(run(Gemm, [A23, B32, undefined], {}, 11), [2, 2], [58, 64, 139, 154]);
  assert.throws(() => run(Gemm, [A23, B32, undefined], {}, 9), /C is required before opset 11/);
  assert.throws(() => run(Gemm, [A23, B32, f32([3], [1, 2, 3])]), /does not broadcast to \[2,2\]/);
});

test('Gemm and MatMul macs are M*N*K', () => {
  const ctx = ctxFor(Gemm, { transB: 1 });
  const ins = [{ shape: [4, 5] }, { shape: [3, 5] }];
  const outs = Gemm.inferTypes(ins, ctx);
  assert.deepEqual(outs[0]!.shape, [4, 3]);
  assert.equal(Gemm.macs!(ins, outs, ctx), 4 * 3 * 5);
  const mIns = [{ shape: [2, 4, 5] }, { shape: [5, 3] }];
  assert.equal(MatMul.macs!(mIns, MatMul.inferTypes(mIns, ctxFor(MatMul)), ctxFor(MatMul)), 2 * 4 * 3 * 5);
});
