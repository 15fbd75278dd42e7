import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DType } from '../ir/dtype.js';
import { EdgecnnError } from '../ir/errors.js';
import { type Tensor, f32, i64, makeTensor } from '../ir/tensor.js';
import { BINARY_ROWS, UNARY_ROWS, VARIADIC_ROWS, erf } from './elementwise.js';
import { float, inferOp as infer, runOp as run } from './op-testing.js';

const vals = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>);
const close = (got: Tensor, want: number[]) => {
  const g = vals(got).map(Number);
  assert.equal(g.length, want.length);
  g.forEach((v, i) =>
    assert.ok(v === want[i] || Math.abs(v - want[i]!) <= 1e-6 * (1 + Math.abs(want[i]!)), `[${i}] ${v} vs ${want[i]}`),
  );
};

test('tables are sorted and hold one row per op', () => {
  for (const rows of [UNARY_ROWS, BINARY_ROWS, VARIADIC_ROWS]) {
    const names = rows.map((r) => r.opType);
    assert.deepEqual(names, [...names].sort());
    assert.equal(new Set(names).size, names.length);
  }
});

test('activations on hand-checked values', () => {
  const x = f32([5], [-2, -0.5, 0, 0.5, 3]);
  close(run('Relu', [x]), [0, 0, 0, 0.5, 3]);
  close(run('LeakyRelu', [x], { alpha: float(0.1) }), [-0.2, -0.05, 0, 0.5, 3]);
  close(run('HardSigmoid', [x]), [0.1, 0.4, 0.5, 0.6, 1]);
  close(run('HardSwish', [x]), [-2 * (1 / 6), -0.5 * (0.5 - 1 / 12), 0, 0.5 * (0.5 + 1 / 12), 3]);
  close(
    run('Sigmoid', [x]),
    [-2, -0.5, 0, 0.5, 3].map((v) => 1 / (1 + Math.exp(-v))),
  );
  close(run('Elu', [x], { alpha: float(2) }), [2 * (Math.exp(-2) - 1), 2 * (Math.exp(-0.5) - 1), 0, 0.5, 3]);
  close(run('Softplus', [f32([2], [0, 100])]), [Math.log(2), 100]);
  close(run('Neg', [x]), [2, 0.5, 0, -0.5, -3]);
  close(run('Floor', [x]), [-2, -1, 0, 0, 3]);
  close(run('Ceil', [x]), [-2, -0, 0, 1, 3]);
});

test('erf matches Python math.erf across the series/continued-fraction switch', () => {
  for (const [x, want] of [
    [0, 0],
    [1e-4, 0.00011283791633342487],
    [0.5, 0.5204998778130465],
    [1.9999, 0.9953201979070294],
    [2, 0.9953222650189527],
    [3, 0.9999779095030014],
    [2.5, 0.999593047982555],
    [-1, -0.8427007929497149],
  ] as const) {
    assert.ok(Math.abs(erf(x) - want) <= 1e-14 * Math.max(1e-3, Math.abs(want)), `erf(${x}) = ${erf(x)}`);
  }
});

test('Relu, Neg, Abs on int64 keep values beyond 2^53 exact', () => {
  const big = 2n ** 60n + 1n;
  const x = i64([3], [-big, 0n, big]);
  assert.deepEqual(vals(run('Relu', [x])), [0n, 0n, big]);
  assert.deepEqual(vals(run('Neg', [x])), [big, 0n, -big]);
  assert.deepEqual(vals(run('Abs', [x])), [big, 0n, big]);
});

test('Clip: attributes before opset 11, optional inputs after, int types', () => {
  const x = f32([4], [-3, -1, 1, 3]);
  close(run('Clip', [x], { min: float(-2), max: float(2) }, 6), [-2, -1, 1, 2]);
  close(run('Clip', [x, f32([], [0]), undefined], {}, 13), [0, 0, 1, 3]);
  close(run('Clip', [x, undefined, f32([], [0])], {}, 13), [-3, -1, 0, 0]);
  const xi = makeTensor('int8', [3], Int8Array.of(-100, 5, 100));
  const lo = makeTensor('int8', [], Int8Array.of(-10));
  const hi = makeTensor('int8', [], Int8Array.of(10));
  assert.deepEqual(vals(run('Clip', [xi, lo, hi], {}, 13)), [-10, 5, 10]);
  // min > max: every value becomes max (ONNX 13 note).
  close(run('Clip', [x, f32([], [2]), f32([], [1])], {}, 13), [1, 1, 1, 1]);
  assert.throws(() => run('Clip', [x, f32([2], [0, 1]), undefined], {}, 13), /min must have one element/);
});

test('binary broadcasting: trailing alignment, both-sided, scalar, zero-size', () => {
  const a = f32([2, 3], [1, 2, 3, 4, 5, 6]);
  const add = run('Add', [a, f32([3], [10, 20, 30])]);
  assert.deepEqual(add.shape, [2, 3]);
  close(add, [11, 22, 33, 14, 25, 36]);
  const both = run('Mul', [f32([2, 1], [1, 2]), f32([1, 3], [1, 10, 100])]);
  assert.deepEqual(both.shape, [2, 3]);
  close(both, [1, 10, 100, 2, 20, 200]);
  close(run('Sub', [f32([], [1]), a]), [0, -1, -2, -3, -4, -5]);
  assert.deepEqual(run('Add', [f32([0, 3], []), f32([1, 3], [1, 2, 3])]).shape, [0, 3]);
  assert.throws(
    () => run('Add', [a, f32([2], [1, 2])]),
    (e: unknown) => e instanceof EdgecnnError && /\[2,3\] and \[2\]/.test(e.message),
  );
  assert.throws(() => run('Add', [a, i64([1], [1])]), /different dtypes float32 and int64/);
});

test('integer Div truncates toward zero; int64 arithmetic is exact', () => {
  const a = makeTensor('int32', [4], Int32Array.of(7, -7, 7, -7));
  const b = makeTensor('int32', [4], Int32Array.of(2, 2, -2, -2));
  assert.deepEqual(vals(run('Div', [a, b])), [3, -3, -3, 3]);
  assert.deepEqual(vals(run('Div', [i64([2], [7, -7]), i64([1], [2])])), [3n, -3n]);
  assert.throws(() => run('Div', [i64([1], [1]), i64([1], [0])]), /node 'n' \(Div\): integer division by zero/);
  assert.throws(() => run('Div', [a, makeTensor('int32', [1], Int32Array.of(0))]), /division by zero/);
  close(run('Div', [f32([2], [1, -1]), f32([1], [0])]), [Infinity, -Infinity]);
  const big = 2n ** 62n;
  assert.deepEqual(vals(run('Add', [i64([1], [big]), i64([1], [1n])])), [big + 1n]);
  // int32 multiply wraps like C, even when the exact product exceeds 2^53.
  const m = makeTensor('int32', [1], Int32Array.of(0x7fffffff));
  assert.deepEqual(vals(run('Mul', [m, m])), [Math.imul(0x7fffffff, 0x7fffffff)]);
  assert.deepEqual(
    vals(run('Add', [makeTensor('uint8', [1], Uint8Array.of(250)), makeTensor('uint8', [1], Uint8Array.of(10))])),
    [4],
  );
});

test('Pow accepts an exponent of another dtype; Equal gives bool', () => {
  close(run('Pow', [f32([3], [2, 3, 4]), i64([1], [2])]), [4, 9, 16]);
  assert.deepEqual(vals(run('Pow', [i64([2], [3, -2]), i64([1], [3])])), [27n, -8n]);
  const eq = run('Equal', [i64([3], [1, 2, 3]), i64([1], [2])]);
  assert.equal(eq.dtype, 'bool');
  assert.deepEqual(vals(eq), [0, 1, 0]);
  const words = makeTensor('string', [3], ['a', 'b', 'a']);
  assert.deepEqual(vals(run('Equal', [words, makeTensor('string', [], ['a'])], {}, 19)), [1, 0, 1]);
  assert.throws(() => run('Add', [words, words]), /dtype string, which this op does not accept/);
});

test('PRelu broadcasts the slope one way; opset 6 applies a 1-D slope per channel', () => {
  const x = f32([1, 2, 2], [-1, 1, -2, 2]);
  close(run('PRelu', [x, f32([2, 1], [0.5, 0.25])]), [-0.5, 1, -0.5, 2]);
  close(run('PRelu', [x, f32([2], [0.5, 0.25])]), [-0.5, 1, -1, 2]);
  close(run('PRelu', [x, f32([2], [0.5, 0.25])], {}, 6), [-0.5, 1, -0.5, 2]);
  assert.throws(() => run('PRelu', [f32([2], [1, 2]), f32([2, 2], [1, 1, 1, 1])]), /does not broadcast to X/);
});

test('Sum/Max/Min/Mean are variadic with broadcasting', () => {
  const a = f32([2, 1], [1, 5]);
  const b = f32([3], [2, 4, 6]);
  const c = f32([], [3]);
  close(run('Sum', [a, b, c]), [6, 8, 10, 10, 12, 14]);
  close(run('Max', [a, b, c]), [3, 4, 6, 5, 5, 6]);
  close(run('Min', [a, b, c]), [1, 1, 1, 2, 3, 3]);
  close(run('Mean', [a, b]), [1.5, 2.5, 3.5, 3.5, 4.5, 5.5]);
  close(run('Sum', [b]), [2, 4, 6]);
  assert.deepEqual(vals(run('Max', [i64([2], [1, 9]), i64([2], [5, 2])])), [5n, 9n]);
  assert.ok(Number.isNaN(vals(run('Max', [f32([1], [NaN]), f32([1], [1])]))[0] as number));
});

test('Where broadcasts condition, X and Y', () => {
  const cond = makeTensor('bool', [2, 1], Uint8Array.of(1, 0));
  const y = run('Where', [cond, f32([2], [1, 2]), f32([], [9])]);
  assert.deepEqual(y.shape, [2, 2]);
  close(y, [1, 2, 9, 9]);
  assert.throws(() => run('Where', [f32([1], [1]), f32([1], [1]), f32([1], [1])]), /condition must be bool/);
});

test('float16 data is computed in float and rounded back', () => {
  const h = makeTensor('float16', [2], Uint16Array.of(0x3c00, 0xc000)); // 1, -2
  const y = run('Relu', [h]);
  assert.equal(y.dtype, 'float16');
  assert.deepEqual(vals(y), [0x3c00, 0]);
});

test('dtype constraints are enforced with a named error', () => {
  assert.throws(() => run('Sqrt', [i64([1], [4])]), /dtype int64, which this op does not accept/);
  assert.throws(() => run('Relu', [makeTensor('uint8', [1], Uint8Array.of(1))]), /uint8/);
});

test('inference: broadcast dims, bool output, folding of small int64 constants', () => {
  const [y] = infer('Add', [
    { dtype: 'float32', shape: ['N', 3, 1] },
    { dtype: 'float32', shape: [4] },
  ]);
  assert.deepEqual(y, { dtype: 'float32', shape: ['N', 3, 4] });
  assert.equal(
    infer('Equal', [
      { dtype: 'int64', shape: [2] },
      { dtype: 'int64', shape: [2] },
    ])[0]!.dtype,
    'bool',
  );
  const [d] = infer('Div', [{ value: i64([1], [12]) }, { value: i64([], [4]) }]);
  assert.deepEqual(d!.shape, [1]);
  assert.deepEqual(vals(d!.value!), [3n]);
  assert.deepEqual(infer('Mul', [{ dtype: 'float32' }, undefined])[0], { dtype: 'float32', shape: undefined });
  const dt: DType | undefined = infer('Pow', [
    { dtype: 'float32', shape: [2] },
    { dtype: 'int64', shape: [] },
  ])[0]!.dtype;
  assert.equal(dt, 'float32');
});
