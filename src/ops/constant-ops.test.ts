import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EdgecnnError } from '../ir/errors.js';
import { type Tensor, f32, i64, makeTensor } from '../ir/tensor.js';
import { int, ints, runOp as run, runOpAll as runAll } from './op-testing.js';

const vals = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>, Number);
const iota = (shape: number[]) =>
  f32(
    shape,
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i),
  );

test('Cast: float truncation, int64 wrap, bool, float16 both ways, unknown type codes', () => {
  const to = (code: number) => ({ to: int(code) });
  assert.deepEqual(vals(run('Cast', [f32([3], [-1.7, 2.9, 0])], to(6))), [-1, 2, 0]);
  const big = run('Cast', [i64([2], [2n ** 32n + 7n, -1n])], to(6));
  assert.deepEqual(vals(big), [7, -1]);
  assert.deepEqual([...(run('Cast', [i64([1], [-1n])], to(13)).data as BigUint64Array)], [2n ** 64n - 1n]);
  assert.deepEqual(vals(run('Cast', [f32([3], [0, -0.5, NaN])], to(9))), [0, 1, 1]);
  const h = run('Cast', [f32([2], [1, 0.1])], to(10));
  assert.equal(h.dtype, 'float16');
  assert.deepEqual(vals(h), [0x3c00, 0x2e66]);
  assert.deepEqual(vals(run('Cast', [h], to(1))), [1, Math.fround(0.0999755859375)]);
  assert.deepEqual(
    [...(run('Cast', [makeTensor('int32', [1], Int32Array.of(-5))], to(7)).data as BigInt64Array)],
    [-5n],
  );
  assert.throws(
    () => run('Cast', [f32([1], [1])], to(16)),
    (e: unknown) => e instanceof EdgecnnError && e.code === 'unsupported-operator' && /type code 16/.test(e.message),
  );
});

test('Cast to string writes plain shortest digits; from string parses literals and INF/NaN', () => {
  const to = (code: number) => ({ to: int(code) });
  const str = run('Cast', [f32([6], [0.1, -2, 1e-7, 3e21, NaN, -Infinity])], to(8));
  assert.deepEqual(str.data, ['0.1', '-2', '0.0000001', '3000000000000000000000', 'NaN', '-INF']);
  assert.deepEqual(run('Cast', [makeTensor('float64', [1], Float64Array.of(0.1))], to(8)).data, ['0.1']);
  assert.deepEqual(run('Cast', [i64([1], [2n ** 62n])], to(8)).data, [String(2n ** 62n)]);
  const parsed = run('Cast', [makeTensor('string', [5], [' 1.5', '1e-3', '+inf', 'NaN', '-INF'])], to(1));
  assert.deepEqual(vals(parsed).slice(0, 3), [1.5, Math.fround(1e-3), Infinity]);
  assert.ok(Number.isNaN(vals(parsed)[3]!));
  const ints64 = run('Cast', [makeTensor('string', [2], ['9007199254740993', '-7.9'])], to(7));
  assert.deepEqual([...(ints64.data as BigInt64Array)], [9007199254740993n, -7n]);
  assert.throws(
    () => run('Cast', [makeTensor('string', [1], ['Hello'])], to(1)),
    (e: unknown) => e instanceof EdgecnnError && /'Hello'/.test(e.message),
  );
});

test('Constant from each value_* attribute; ConstantOfShape; Range; Identity; Dropout', () => {
  assert.deepEqual(vals(run('Constant', [], { value_ints: ints(1, 2) }, 13)), [1, 2]);
  const vf = run('Constant', [], { value_float: { kind: 'float', value: 2.5 } }, 13);
  assert.deepEqual([vf.dtype, vf.shape, vals(vf)], ['float32', [], [2.5]]);
  assert.deepEqual(run('Constant', [], { value: { kind: 'tensor', value: i64([1], [4]) } }).dtype, 'int64');
  assert.throws(() => run('Constant', [], {}), /exactly one value attribute/);
  const c = run('ConstantOfShape', [i64([2], [2, 1])], { value: { kind: 'tensor', value: i64([1], [3]) } });
  assert.deepEqual([c.dtype, c.shape, vals(c)], ['int64', [2, 1], [3, 3]]);
  const z = run('ConstantOfShape', [i64([0], [])]);
  assert.deepEqual([z.dtype, z.shape, vals(z)], ['float32', [], [0]]);
  assert.deepEqual(vals(run('Range', [f32([], [1]), f32([], [2]), f32([], [0.25])])), [1, 1.25, 1.5, 1.75]);
  assert.deepEqual(vals(run('Range', [i64([], [10]), i64([], [4]), i64([], [-3])])), [10, 7]);
  assert.deepEqual(run('Range', [i64([], [0]), i64([], [-4]), i64([], [1])]).shape, [0]);
  assert.throws(() => run('Range', [i64([], [0]), i64([], [4]), i64([], [0])]), /delta must not be zero/);
  const x = iota([2]);
  assert.equal(run('Identity', [x]), x);
  const [y, mask] = runAll('Dropout', [x, f32([], [0.5])], {}, 13, 2);
  assert.equal(y, x);
  assert.deepEqual([mask!.dtype, vals(mask!)], ['bool', [1, 1]]);
  assert.throws(
    () => runAll('Dropout', [x, f32([], [0.5]), makeTensor('bool', [], Uint8Array.of(1))], {}, 13),
    /training_mode/,
  );
  assert.equal(runAll('Dropout', [x], { ratio: { kind: 'float', value: 0.3 } }, 7, 2)[1]!.dtype, 'float32');
});
