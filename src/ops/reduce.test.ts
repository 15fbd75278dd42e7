import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Attribute } from '../ir/graph.js';
import { type Tensor, f32, i64 } from '../ir/tensor.js';
import { inferOp, int, ints, runOp as run } from './op-testing.js';
import { REDUCE_ROWS } from './reduce.js';
import type { ValueType } from './types.js';

const infer = (opType: string, inputs: (ValueType | undefined)[], attrs: Record<string, Attribute> = {}, opset = 17) =>
  inferOp(opType, inputs, attrs, opset)[0]!;
const vals = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>, Number);

// [[1, -2, 3], [4, 5, -6]]
const x = f32([2, 3], [1, -2, 3, 4, 5, -6]);

test('reduce rows are sorted', () => {
  const names = REDUCE_ROWS.map((r) => r.opType);
  assert.deepEqual(names, [...names].sort());
});

test('each reduction over one axis, keepdims on and off', () => {
  const mean = run('ReduceMean', [x], { axes: ints(1) }, 13);
  assert.deepEqual([mean.shape, vals(mean)], [[2, 1], [2 / 3, 1].map(Math.fround)]);
  const max = run('ReduceMax', [x], { axes: ints(0), keepdims: int(0) }, 13);
  assert.deepEqual([max.shape, vals(max)], [[3], [4, 5, 3]]);
  const sum = run('ReduceSum', [x, i64([1], [-1])], { keepdims: int(0) }, 13);
  assert.deepEqual(vals(sum), [2, 3]);
  const l2 = run('ReduceL2', [x], { axes: ints(0) }, 13);
  assert.deepEqual(vals(l2), [Math.sqrt(17), Math.sqrt(29), Math.sqrt(45)].map(Math.fround));
});

test('no axes reduces everything unless noop_with_empty_axes; axes input from opset 18', () => {
  assert.deepEqual(run('ReduceSum', [x], {}, 13).shape, [1, 1]);
  assert.deepEqual(vals(run('ReduceSum', [x], { keepdims: int(0) }, 11)), [5]);
  assert.equal(run('ReduceSum', [x, i64([0], [])], { noop_with_empty_axes: int(1) }, 13), x);
  // Before 18 ReduceMean has no noop attribute: empty axes still mean "all".
  assert.deepEqual(vals(run('ReduceMean', [x], { noop_with_empty_axes: int(1) }, 13)), [5 / 6].map(Math.fround));
  assert.deepEqual(vals(run('ReduceMax', [x, i64([1], [1])], { keepdims: int(0) }, 18)), [3, 5]);
  assert.equal(run('ReduceL2', [x, undefined], { noop_with_empty_axes: int(1) }, 18), x);
  assert.throws(() => run('ReduceSum', [x, i64([2], [0, -2])], {}, 13), /duplicates/);
});

test('int64 ReduceSum and ReduceMax keep the dtype', () => {
  const t = i64([2, 2], [1, 2, 3, -4]);
  const s = run('ReduceSum', [t, i64([1], [0])], { keepdims: int(0) }, 13);
  assert.deepEqual([s.dtype, [...(s.data as BigInt64Array)]], ['int64', [4n, -2n]]);
  assert.deepEqual(vals(run('ReduceMax', [t], { axes: ints(1), keepdims: int(0) }, 13)), [2, 3]);
});

test('ArgMax: first or last maximum, negative axis, keepdims', () => {
  const t = f32([2, 3], [1, 5, 5, 7, 0, 7]);
  const a = run('ArgMax', [t], { axis: int(-1) });
  assert.deepEqual([a.dtype, a.shape, vals(a)], ['int64', [2, 1], [1, 0]]);
  assert.deepEqual(vals(run('ArgMax', [t], { axis: int(1), select_last_index: int(1), keepdims: int(0) }, 12)), [2, 2]);
  assert.deepEqual(run('ArgMax', [t], { keepdims: int(0) }).shape, [3]);
});

test('inference: symbolic dims kept, unknown axes input tolerated', () => {
  assert.deepEqual(infer('ReduceMean', [{ dtype: 'float32', shape: ['N', 8, 7, 7] }], { axes: ints(2, 3) }, 13).shape, [
    'N',
    8,
    1,
    1,
  ]);
  assert.deepEqual(infer('ReduceSum', [{ dtype: 'float32', shape: ['N', 8] }, {}], {}, 13), { dtype: 'float32' });
  assert.deepEqual(infer('ArgMax', [{ dtype: 'float32', shape: ['N', 10] }], { axis: int(1), keepdims: int(0) }), {
    dtype: 'int64',
    shape: ['N'],
  });
  const folded = infer('ReduceSum', [{ value: i64([3], [1, 2, 3]) }], { keepdims: int(0) }, 11);
  assert.deepEqual(vals(folded.value!), [6]);
});
