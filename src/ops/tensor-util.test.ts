import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EdgecnnError } from '../ir/errors.js';
import { f32, i64, makeTensor } from '../ir/tensor.js';
import {
  broadcastDims,
  broadcastOffsets,
  broadcastShapes,
  float16BitsToNumber,
  foldConstant,
  fromNumbers,
  gatherByOffsets,
  normalizeAxes,
  normalizeAxis,
  numberToFloat16Bits,
  offsetsFromAxisMaps,
  readNumbers,
  toBigIntTrunc,
} from './tensor-util.js';
import type { OpContext } from './types.js';

const ctx: OpContext = {
  node: { name: 'n0', opType: 'Add', domain: '', inputs: ['a', 'b'], outputs: ['y'], attributes: new Map() },
  opset: 17,
};

test('broadcastShapes follows numpy rules, including rank extension and zero-size dims', () => {
  assert.deepEqual(broadcastShapes([[2, 3, 4], [4]], ctx), [2, 3, 4]);
  assert.deepEqual(
    broadcastShapes(
      [
        [2, 1, 4],
        [3, 1],
      ],
      ctx,
    ),
    [2, 3, 4],
  );
  assert.deepEqual(broadcastShapes([[], [5]], ctx), [5]);
  assert.deepEqual(
    broadcastShapes(
      [
        [0, 3],
        [1, 3],
      ],
      ctx,
    ),
    [0, 3],
  );
  assert.throws(
    () =>
      broadcastShapes(
        [
          [2, 3],
          [4, 3],
        ],
        ctx,
      ),
    (e: unknown) => {
      assert.ok(e instanceof EdgecnnError);
      assert.match(e.message, /node 'n0' \(Add\).*\[2,3\] and \[4,3\]/);
      return true;
    },
  );
});

test('broadcastDims keeps symbols, resolves 1s and reports definite conflicts', () => {
  assert.deepEqual(
    broadcastDims(
      [
        ['N', 3, 1],
        [1, 5],
      ],
      ctx,
    ),
    ['N', 3, 5],
  );
  assert.deepEqual(
    broadcastDims(
      [
        ['N', 1],
        ['N', 4],
      ],
      ctx,
    ),
    ['N', 4],
  );
  assert.deepEqual(broadcastDims([['N'], ['M']], ctx), [null]);
  assert.deepEqual(broadcastDims([[null], [7]], ctx), [7]);
  assert.equal(broadcastDims([[2], undefined], ctx), undefined);
  assert.throws(() => broadcastDims([[2], [3]], ctx), EdgecnnError);
});

test('broadcastOffsets maps output elements to broadcast sources', () => {
  assert.deepEqual([...broadcastOffsets([3, 1], [3, 2])], [0, 0, 1, 1, 2, 2]);
  assert.deepEqual([...broadcastOffsets([2], [3, 2])], [0, 1, 0, 1, 0, 1]);
  assert.deepEqual([...broadcastOffsets([], [2, 2])], [0, 0, 0, 0]);
});

test('offsetsFromAxisMaps with a fill marker, and gatherByOffsets on int64', () => {
  const offs = offsetsFromAxisMaps([2, 3], [2, 2], [Int32Array.of(1, 0), Int32Array.of(-1, 0, 1)]);
  assert.deepEqual([...offs], [-1, 2, 3, -1, 0, 1]);
  const t = gatherByOffsets(i64([2, 2], [10, 11, 12, 13]), [2, 3], offs, 7n);
  assert.deepEqual([...(t.data as BigInt64Array)], [7n, 12n, 13n, 7n, 10n, 11n]);
});

test('normalizeAxis accepts [-r, r) and names bad axes', () => {
  assert.equal(normalizeAxis(-1, 3, ctx), 2);
  assert.equal(normalizeAxis(0, 3, ctx), 0);
  assert.throws(() => normalizeAxis(3, 3, ctx), /axis 3 is out of range for rank 3/);
  assert.throws(() => normalizeAxes([0, -3], 3, ctx), /duplicates/);
});

test('float16 round trip: exact values, rounding to even, subnormals, overflow, NaN', () => {
  for (const [v, bits] of [
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [2 ** -24, 0x0001],
    [2 ** -14, 0x0400],
    [0.1, 0x2e66],
    [Infinity, 0x7c00],
    [70000, 0x7c00],
  ] as const) {
    assert.equal(numberToFloat16Bits(v), bits, `encode ${v}`);
  }
  // 1 + 2^-11 is exactly between 1 and the next half (1 + 2^-10): ties go to the even mantissa (1).
  assert.equal(numberToFloat16Bits(1 + 2 ** -11), 0x3c00);
  assert.equal(numberToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(float16BitsToNumber(0x3555), 0.333251953125);
  assert.ok(Number.isNaN(float16BitsToNumber(numberToFloat16Bits(NaN))));
  assert.ok(Object.is(float16BitsToNumber(numberToFloat16Bits(-0)), -0));
  for (let h = 0; h < 0x7c00; h += 37) assert.equal(numberToFloat16Bits(float16BitsToNumber(h)), h);
});

test('fromNumbers truncates toward zero and wraps; readNumbers decodes', () => {
  assert.deepEqual([...fromNumbers('int32', [3], [2.7, -2.7, 2 ** 32 + 5]).data], [2, -2, 5]);
  assert.deepEqual([...fromNumbers('bool', [3], [0, -1, NaN]).data], [0, 1, 1]);
  assert.deepEqual([...fromNumbers('int64', [2], [-3.5, 4]).data], [-3n, 4n]);
  assert.equal(toBigIntTrunc(-1, 'uint64'), 2n ** 64n - 1n);
  assert.deepEqual([...readNumbers(makeTensor('float16', [2], Uint16Array.of(0x3c00, 0xc000)))], [1, -2]);
});

test('foldConstant folds only when every named input is a small constant; omitted inputs stay undefined', () => {
  const seen: unknown[] = [];
  const ref = (ins: readonly unknown[]) => {
    seen.push(ins.length, ins[1]);
    return [f32([1], [1])];
  };
  const c: OpContext = { ...ctx, node: { ...ctx.node, inputs: ['a', ''] } };
  assert.ok(foldConstant(ref, [{ value: f32([1], [2]) }, undefined], c));
  assert.deepEqual(seen, [2, undefined]);
  assert.equal(foldConstant(ref, [{ value: f32([1], [2]) }, {}], ctx), undefined);
  assert.equal(
    foldConstant(ref, [{ value: f32([5000], new Float32Array(5000)) }], { ...c, node: { ...c.node, inputs: ['a'] } }),
    undefined,
  );
});
