import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Attribute } from '../ir/graph.js';
import { type Tensor, f32, i64, makeTensor } from '../ir/tensor.js';
import { inferOp as infer, int, ints, runOp as run, runOpAll as runAll, str } from './op-testing.js';
import { sliceRange } from './shape-ops.js';
import type { ValueType } from './types.js';

const vals = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>, Number);
const iota = (shape: number[]) =>
  f32(
    shape,
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i),
  );

test('Concat along a negative axis, with an empty input; mismatched shapes are named', () => {
  const y = run('Concat', [iota([2, 2]), f32([2, 0], []), f32([2, 1], [8, 9])], { axis: int(-1) });
  assert.deepEqual(y.shape, [2, 3]);
  assert.deepEqual(vals(y), [0, 1, 8, 2, 3, 9]);
  assert.throws(
    () => run('Concat', [iota([2, 2]), iota([3, 2])], { axis: int(1) }),
    /\[2,2\] and \[3,2\] differ off axis 1/,
  );
  assert.throws(() => run('Concat', [iota([2])], {}), /'axis' is required/);
});

test('Split: attribute (opset 11), input (13), num_outputs with a short last chunk (18), equal parts', () => {
  const x = iota([5, 2]);
  const a = runAll('Split', [x], { axis: int(0), split: ints(2, 3) }, 11, 2);
  assert.deepEqual(
    a.map((t) => t.shape),
    [
      [2, 2],
      [3, 2],
    ],
  );
  assert.deepEqual(vals(a[1]!), [4, 5, 6, 7, 8, 9]);
  const b = runAll('Split', [x, i64([2], [4, 1])], { axis: int(0) }, 13, 2);
  assert.deepEqual(vals(b[1]!), [8, 9]);
  const c = runAll('Split', [x], { axis: int(0), num_outputs: int(3) }, 18, 3);
  assert.deepEqual(
    c.map((t) => t.shape[0]),
    [2, 2, 1],
  );
  const d = runAll('Split', [x], { axis: int(-1) }, 13, 2);
  assert.deepEqual(vals(d[0]!), [0, 2, 4, 6, 8]);
  assert.throws(() => runAll('Split', [x], { axis: int(0) }, 13, 2), /does not split evenly/);
  const t = infer('Split', [{ dtype: 'float32', shape: ['N', 6] }], { axis: int(1) }, 13, 3);
  assert.deepEqual(
    t.map((v) => v.shape),
    [
      ['N', 2],
      ['N', 2],
      ['N', 2],
    ],
  );
});

test('sliceRange clamps starts/ends per ONNX, for both step signs', () => {
  assert.deepEqual(sliceRange(10, 0, 2 ** 62, 1), [0, 10]);
  assert.deepEqual(sliceRange(10, -3, -1, 1), [7, 2]);
  assert.deepEqual(sliceRange(10, 20, 0, -1), [9, 9]);
  assert.deepEqual(sliceRange(10, -1, -(2 ** 62), -3), [9, 4]);
  assert.deepEqual(sliceRange(10, 5, 2, 1), [5, 0]);
});

test('Slice with inputs: negative steps, axes, clamped ends; opset 1 attributes', () => {
  const x = iota([3, 4]);
  const y = run('Slice', [x, i64([2], [-1, 0]), i64([2], [-(2n ** 63n), 4]), i64([2], [0, 1]), i64([2], [-2, 3])]);
  assert.deepEqual(y.shape, [2, 2]);
  assert.deepEqual(vals(y), [8, 11, 0, 3]);
  const z = run('Slice', [x], { starts: ints(1), ends: ints(1000), axes: ints(1) }, 1);
  assert.deepEqual(vals(z), [1, 2, 3, 5, 6, 7, 9, 10, 11]);
  assert.throws(
    () => run('Slice', [x, i64([1], [0]), i64([1], [1]), undefined, i64([1], [0])]),
    /steps must not be zero/,
  );
  const t = infer('Slice', [
    { dtype: 'float32', shape: ['N', 8] },
    { value: i64([1], [2]) },
    { value: i64([1], [-1]) },
    { value: i64([1], [1]) },
  ]);
  assert.deepEqual(t[0]!.shape, ['N', 5]);
});

test('Gather with negative indices and scalar index; out of range is an error', () => {
  const x = iota([3, 2]);
  assert.deepEqual(vals(run('Gather', [x, i64([2], [-1, 0])])), [4, 5, 0, 1]);
  const s = run('Gather', [x, i64([], [1])], { axis: int(1) });
  assert.deepEqual(s.shape, [3]);
  assert.deepEqual(vals(s), [1, 3, 5]);
  const m = run('Gather', [x, makeTensor('int32', [2, 2], Int32Array.of(0, 1, 1, 0))], { axis: int(1) });
  assert.deepEqual(m.shape, [3, 2, 2]);
  assert.throws(() => run('Gather', [x, i64([1], [3])]), /index 3 is out of range for axis 0 of length 3/);
});

test('Reshape: 0 copies, -1 infers, allowzero keeps 0; bad targets are named', () => {
  const x = iota([2, 3, 4]);
  assert.deepEqual(run('Reshape', [x, i64([3], [0, -1, 2])]).shape, [2, 6, 2]);
  assert.deepEqual(run('Reshape', [f32([0, 3], []), i64([2], [3, 0])], { allowzero: int(1) }, 14).shape, [3, 0]);
  assert.throws(() => run('Reshape', [x, i64([2], [-1, -1])]), /more than one -1/);
  assert.throws(() => run('Reshape', [x, i64([2], [5, -1])]), /cannot reshape/);
  assert.throws(() => run('Reshape', [x, i64([1], [23])]), /cannot reshape/);
  assert.deepEqual(
    infer('Reshape', [{ dtype: 'float32', shape: ['N', 3, 4] }, { value: i64([2], [0, -1]) }])[0]!.shape,
    ['N', 12],
  );
  assert.deepEqual(
    infer('Reshape', [{ dtype: 'float32', shape: ['N', 3, 4] }, { value: i64([2], [-1, 6]) }])[0]!.shape,
    [null, 6],
  );
  assert.deepEqual(
    infer('Reshape', [{ dtype: 'float32', shape: ['N', 'C', 4] }, { value: i64([2], [-1, 4]) }])[0]!.shape,
    [null, 4],
  );
  assert.deepEqual(infer('Flatten', [{ dtype: 'float32', shape: ['N', 3, 4] }])[0]!.shape, ['N', 12]);
  assert.deepEqual(
    infer('Reshape', [
      { dtype: 'float32', shape: [2] },
      { dtype: 'int64', shape: [3] },
    ])[0]!.shape,
    [null, null, null],
  );
});

test('Flatten, Transpose (default perm), Squeeze and Unsqueeze in both attribute and input forms', () => {
  const x = iota([2, 3, 4]);
  assert.deepEqual(run('Flatten', [x], { axis: int(-1) }).shape, [6, 4]);
  assert.deepEqual(run('Flatten', [x], { axis: int(0) }).shape, [1, 24]);
  const t = run('Transpose', [iota([2, 3])]);
  assert.deepEqual(t.shape, [3, 2]);
  assert.deepEqual(vals(t), [0, 3, 1, 4, 2, 5]);
  const p = run('Transpose', [x], { perm: ints(1, 2, 0) });
  assert.deepEqual(p.shape, [3, 4, 2]);
  assert.deepEqual(vals(p).slice(0, 4), [0, 12, 1, 13]);
  assert.throws(() => run('Transpose', [x], { perm: ints(0, 0, 1) }), /not a permutation/);
  const one = iota([1, 3, 1]);
  assert.deepEqual(run('Squeeze', [one]).shape, [3]);
  assert.deepEqual(run('Squeeze', [one], { axes: ints(-1) }, 11).shape, [1, 3]);
  assert.deepEqual(run('Squeeze', [one, i64([1], [0])], {}, 13).shape, [3, 1]);
  assert.throws(() => run('Squeeze', [one, i64([1], [1])], {}, 13), /cannot squeeze axis 1 of size 3/);
  assert.deepEqual(run('Unsqueeze', [iota([3])], { axes: ints(0, -1) }, 11).shape, [1, 3, 1]);
  assert.deepEqual(run('Unsqueeze', [f32([], [5]), i64([2], [1, 0])], {}, 13).shape, [1, 1]);
  assert.deepEqual(infer('Squeeze', [{ dtype: 'float32', shape: ['N', 1] }])[0]!.shape, undefined);
});

test('Expand broadcasts both ways; Tile repeats; both reject bad shapes', () => {
  const e = run('Expand', [f32([3, 1], [1, 2, 3]), i64([2], [1, 1])]);
  assert.deepEqual(e.shape, [3, 1]);
  const e2 = run('Expand', [f32([3, 1], [1, 2, 3]), i64([3], [2, 1, 2])]);
  assert.deepEqual(e2.shape, [2, 3, 2]);
  assert.deepEqual(vals(e2).slice(0, 6), [1, 1, 2, 2, 3, 3]);
  assert.throws(() => run('Expand', [f32([3], [1, 2, 3]), i64([1], [2])]), /cannot be broadcast/);
  const t = run('Tile', [iota([2, 2]), i64([2], [1, 2])]);
  assert.deepEqual(t.shape, [2, 4]);
  assert.deepEqual(vals(t), [0, 1, 0, 1, 2, 3, 2, 3]);
  assert.throws(() => run('Tile', [iota([2]), i64([2], [1, 2])]), /repeats/);
});

test('Pad modes constant, reflect, edge, wrap; negative pads crop; opset 2 attributes; opset 18 axes', () => {
  const x = f32([3], [1, 2, 3]);
  const p = (mode: string, b: number, e: number) => vals(run('Pad', [x, i64([2], [b, e])], { mode: str(mode) }, 19));
  assert.deepEqual(p('constant', 2, 1), [0, 0, 1, 2, 3, 0]);
  assert.deepEqual(p('reflect', 2, 2), [3, 2, 1, 2, 3, 2, 1]);
  assert.deepEqual(p('edge', 2, 1), [1, 1, 1, 2, 3, 3]);
  assert.deepEqual(p('wrap', 2, 4), [2, 3, 1, 2, 3, 1, 2, 3, 1]);
  assert.deepEqual(p('constant', -1, 1), [2, 3, 0]);
  assert.deepEqual(p('edge', -1, 2), [2, 3, 3, 3]);
  assert.deepEqual(vals(run('Pad', [x, i64([2], [1, 0]), f32([], [7])])), [7, 1, 2, 3]);
  assert.deepEqual(vals(run('Pad', [x], { pads: ints(0, 1), value: { kind: 'float', value: 5 } }, 2)), [1, 2, 3, 5]);
  const m = run('Pad', [iota([2, 2]), i64([2], [1, 1]), undefined, i64([1], [-1])], {}, 18);
  assert.deepEqual(m.shape, [2, 4]);
  assert.deepEqual(vals(m), [0, 0, 1, 0, 0, 2, 3, 0]);
  const big = run('Pad', [i64([1], [2n ** 60n]), i64([2], [1, 0]), i64([], [-1])]);
  assert.deepEqual([...(big.data as BigInt64Array)], [-1n, 2n ** 60n]);
  assert.throws(() => run('Pad', [x, i64([2], [0, 0])], { mode: str('mirror') }), /mode 'mirror'/);
  assert.throws(() => run('Pad', [x, i64([2], [-2, -2])]), /crop more/);
  assert.deepEqual(infer('Pad', [{ dtype: 'float32', shape: ['N', 3] }, { value: i64([4], [0, 1, 0, 1]) }])[0]!.shape, [
    'N',
    5,
  ]);
});

test('DepthToSpace DCR and CRD; SpaceToDepth inverts DCR', () => {
  const x = iota([1, 4, 1, 2]); // channels c hold [2c, 2c+1]
  const dcr = run('DepthToSpace', [x], { blocksize: int(2) });
  assert.deepEqual(dcr.shape, [1, 1, 2, 4]);
  // DCR: out[0,0,i,2w+j] = in[0, i*2+j, 0, w]
  assert.deepEqual(vals(dcr), [0, 2, 1, 3, 4, 6, 5, 7]);
  const crd = run('DepthToSpace', [iota([1, 8, 1, 1])], { blocksize: int(2), mode: str('CRD') }, 13);
  assert.deepEqual(crd.shape, [1, 2, 2, 2]);
  assert.deepEqual(vals(crd), [0, 1, 2, 3, 4, 5, 6, 7]);
  const back = run('SpaceToDepth', [dcr], { blocksize: int(2) });
  assert.deepEqual(back.shape, [1, 4, 1, 2]);
  assert.deepEqual(vals(back), vals(x));
  assert.throws(() => run('DepthToSpace', [iota([1, 3, 1, 1])], { blocksize: int(2) }), /not divisible/);
});

test('Shape with start/end (15), Size-free folding from known dims only', () => {
  const x = iota([2, 3, 4]);
  assert.deepEqual(vals(run('Shape', [x])), [2, 3, 4]);
  assert.deepEqual(vals(run('Shape', [x], { start: int(-2) }, 15)), [3, 4]);
  assert.deepEqual(vals(run('Shape', [x], { start: int(1), end: int(-1) }, 15)), [3]);
  assert.deepEqual(vals(run('Shape', [x], { start: int(5) }, 15)), []);
  const [t] = infer('Shape', [{ dtype: 'float32', shape: [1, 3, 224, 224] }]);
  assert.deepEqual(vals(t!.value!), [1, 3, 224, 224]);
  const [u] = infer('Shape', [{ dtype: 'float32', shape: ['N', 3] }]);
  assert.deepEqual(u, { dtype: 'int64', shape: [2] });
});

test("ShuffleNet's channel-shuffle chain folds to a constant Reshape target", () => {
  // Shape -> Gather(0) -> Div(2) -> Unsqueeze -> Concat -> used by Reshape: every step yields a value.
  const x: ValueType = { dtype: 'float32', shape: [1, 116, 28, 28] };
  const shape = infer('Shape', [x])[0]!;
  const n = infer('Gather', [shape, { value: i64([], [1]) }], { axis: int(0) })[0]!;
  assert.deepEqual(vals(n.value!), [116]);
  const half = infer('Div', [n, { value: i64([], [2]) }])[0]!;
  const u = infer('Unsqueeze', [half, { value: i64([1], [0]) }], {}, 13)[0]!;
  const target = infer('Concat', [{ value: i64([1], [1]) }, { value: i64([1], [2]) }, u, { value: i64([1], [-1]) }], {
    axis: int(0),
  })[0]!;
  assert.deepEqual(vals(target.value!), [1, 2, 58, -1]);
  assert.deepEqual(infer('Reshape', [x, target])[0]!.shape, [1, 2, 58, 784]);
  const cast = infer('Cast', [target], { to: int(1) })[0]!;
  assert.deepEqual([cast.dtype, vals(cast.value!)], ['float32', [1, 2, 58, -1]]);
});

test('inference never throws on unknown inputs', () => {
  const unknown: (ValueType | undefined)[] = [undefined, {}, {}, {}, {}];
  const attrs: Record<string, Attribute> = {
    axis: int(0),
    to: int(1),
    blocksize: int(2),
    starts: ints(0),
    ends: ints(1),
    axes: ints(0),
    pads: ints(0, 0, 0, 0, 0, 0),
  };
  for (const op of [
    'Concat',
    'Split',
    'Slice',
    'Gather',
    'Reshape',
    'Flatten',
    'Squeeze',
    'Unsqueeze',
    'Expand',
    'Tile',
    'Pad',
    'Transpose',
    'Shape',
    'Cast',
    'Range',
    'ConstantOfShape',
    'DepthToSpace',
    'SpaceToDepth',
    'Identity',
    'Dropout',
  ]) {
    for (const opset of [9, 13, 18]) {
      assert.doesNotThrow(() => infer(op, unknown, attrs, opset, 2), op);
      assert.doesNotThrow(
        () => infer(op, [{ dtype: 'float32', shape: ['N', null, 4] }, {}, {}, {}, {}], attrs, opset, 2),
        op,
      );
    }
  }
});

test('absurd shapes from data give named errors, not RangeErrors or huge allocations', () => {
  const huge = 2 ** 40;
  assert.throws(() => run('ConstantOfShape', [i64([2], [huge, huge])]), /elements, more than 2147483647/);
  assert.throws(() => run('ConstantOfShape', [i64([1], [-3])]), /invalid dimension -3/);
  assert.throws(() => run('Expand', [f32([1], [1]), i64([2], [huge, 4])]), /more than/);
  assert.throws(() => run('Tile', [f32([1], [1]), i64([1], [huge])]), /more than/);
  assert.throws(() => run('Range', [f32([], [0]), f32([], [Infinity]), f32([], [1])]), /no finite length/);
  assert.throws(() => run('Pad', [f32([1], [1]), i64([2], [huge, 0])]), /more than/);
});
