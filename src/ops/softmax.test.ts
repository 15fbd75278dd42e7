import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Attribute, Node } from '../ir/graph.js';
import { type Tensor, f32, makeTensor } from '../ir/tensor.js';
import { getOp } from './registry.js';

function run(opType: string, x: Tensor, attrs: Record<string, Attribute>, opset: number): Tensor {
  const node: Node = {
    name: 'n',
    opType,
    domain: '',
    inputs: ['x'],
    outputs: ['y'],
    attributes: new Map(Object.entries(attrs)),
  };
  return getOp('', opType)!.reference([x], { node, opset })[0]!;
}
const axis = (value: number): Attribute => ({ kind: 'int', value });
const near = (got: Tensor, want: number[]) =>
  Array.from(got.data as Float32Array).forEach((v, i) =>
    assert.ok(Math.abs(v - want[i]!) < 1e-6, `[${i}] ${v} vs ${want[i]}`),
  );

// [[[0, 1], [2, 3]]]: shape [1, 2, 2]
const x = f32([1, 2, 2], [0, 1, 2, 3]);
const e = (v: number[]) => {
  const s = v.reduce((a, b) => a + Math.exp(b), 0);
  return v.map((b) => Math.exp(b) / s);
};

test('opset 13 normalises along the single axis (default last)', () => {
  near(run('Softmax', x, {}, 13), [...e([0, 1]), ...e([2, 3])]);
  const a1 = e([0, 2]);
  const b1 = e([1, 3]);
  near(run('Softmax', x, { axis: axis(1) }, 13), [a1[0]!, b1[0]!, a1[1]!, b1[1]!]);
});

test('before opset 13 the input is coerced to 2-D at axis (default 1)', () => {
  near(run('Softmax', x, {}, 11), e([0, 1, 2, 3]));
  near(run('Softmax', x, { axis: axis(2) }, 11), [...e([0, 1]), ...e([2, 3])]);
  near(run('LogSoftmax', x, {}, 11), e([0, 1, 2, 3]).map(Math.log));
});

test('large inputs do not overflow; LogSoftmax stays finite where softmax underflows', () => {
  near(run('Softmax', f32([2], [1000, 1000]), {}, 13), [0.5, 0.5]);
  near(run('LogSoftmax', f32([2], [0, -200]), {}, 13), [0, -200]);
});

test('non-float input and bad axis are named errors', () => {
  assert.throws(() => run('Softmax', makeTensor('int32', [2], Int32Array.of(1, 2)), {}, 13), /only float types/);
  assert.throws(() => run('Softmax', x, { axis: axis(3) }, 13), /axis 3 is out of range for rank 3/);
});
