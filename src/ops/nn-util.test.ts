import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeTensor } from '../ir/tensor.js';
import { floatToHalf, halfToFloat, numbersOf, roundHalfEven, tensorFromNumbers, windowAxis } from './nn-util.js';

test('half precision conversions: exact values, limits, ties to even', () => {
  assert.equal(floatToHalf(1), 0x3c00);
  assert.equal(floatToHalf(-2), 0xc000);
  assert.equal(floatToHalf(65504), 0x7bff);
  assert.equal(floatToHalf(1e6), 0x7c00);
  assert.equal(floatToHalf(2 ** -24), 0x0001);
  assert.equal(floatToHalf(1e-9), 0);
  // 2049 lies halfway between 2048 and 2050 (spacing 2 here): ties go to the even mantissa.
  assert.equal(halfToFloat(floatToHalf(2049)), 2048);
  assert.equal(halfToFloat(floatToHalf(2051)), 2052);
  assert.equal(halfToFloat(0x3555), 0.333251953125);
  assert.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
  for (let bits = 0; bits < 0x7c00; bits += 37) assert.equal(floatToHalf(halfToFloat(bits)), bits);
});

test('float16 tensors round-trip through numbers', () => {
  const t = tensorFromNumbers('float16', [3], [0.5, -1.25, 3]);
  assert.equal(t.dtype, 'float16');
  assert.deepEqual(Array.from(numbersOf(t)), [0.5, -1.25, 3]);
  assert.deepEqual(Array.from(numbersOf(makeTensor('int64', [2], BigInt64Array.from([-3n, 7n])))), [-3, 7]);
});

test('roundHalfEven', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven), [0, 2, 2, 0, -2, -2, 2, -3]);
});

test('windowAxis: explicit pads, SAME split, VALID and ceil_mode', () => {
  assert.deepEqual(windowAxis(7, 3, 2, 1, 'NOTSET', 1, 1, false), { out: 4, padBegin: 1, padEnd: 1 });
  assert.deepEqual(windowAxis(5, 2, 2, 1, 'SAME_UPPER', 0, 0, false), { out: 3, padBegin: 0, padEnd: 1 });
  assert.deepEqual(windowAxis(5, 2, 2, 1, 'SAME_LOWER', 0, 0, false), { out: 3, padBegin: 1, padEnd: 0 });
  assert.deepEqual(windowAxis(5, 2, 2, 1, 'VALID', 3, 3, false), { out: 2, padBegin: 0, padEnd: 0 });
  assert.equal(windowAxis(5, 2, 2, 1, 'NOTSET', 0, 0, true).out, 3);
  assert.equal(windowAxis(7, 3, 1, 3, 'NOTSET', 0, 0, false).out, 1);
});
