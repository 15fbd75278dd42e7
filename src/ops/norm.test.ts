import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AttrValue, attr, toAttribute } from '../ir/builder.js';
import { EdgecnnError } from '../ir/errors.js';
import type { Node } from '../ir/graph.js';
import { type Tensor, f32 } from '../ir/tensor.js';
import { BatchNormalization, InstanceNormalization, LRN } from './norm.js';
import type { OpContext, OpDef } from './types.js';

function ctxFor(op: OpDef, attrs: Record<string, AttrValue>, opset = 15, outputs = ['y']): OpContext {
  const attributes = new Map(Object.entries(attrs).map(([k, v]) => [k, toAttribute(v)]));
  const node: Node = { name: 'bn', opType: op.opType, domain: '', inputs: [], outputs, attributes };
  return { node, opset };
}

function close(t: Tensor, shape: number[], values: number[]): void {
  assert.deepEqual([...t.shape], shape);
  values.forEach((v, i) => assert.ok(Math.abs(Number(t.data[i]) - v) < 1e-5, `element ${i}: ${t.data[i]} vs ${v}`));
}

test('BatchNormalization applies per-channel statistics', () => {
  const x = f32([1, 2, 1, 2], [1, 2, 3, 4]);
  const params = [f32([2], [1, 2]), f32([2], [0, 1]), f32([2], [1, 3]), f32([2], [4, 0.25])];
  const [y] = BatchNormalization.reference([x, ...params], ctxFor(BatchNormalization, { epsilon: attr.float(0) }));
  // channel 0: (x - 1) / 2; channel 1: (x - 3) / 0.5 * 2 + 1.
  close(y!, [1, 2, 1, 2], [0, 0.5, 1, 5]);
});

test('BatchNormalization default epsilon is 1e-5 and works on [N, C] input', () => {
  const x = f32([2, 1], [1, 3]);
  const [y] = BatchNormalization.reference(
    [x, f32([1], [1]), f32([1], [0]), f32([1], [1]), f32([1], [1])],
    ctxFor(BatchNormalization, {}),
  );
  close(y!, [2, 1], [0, 2 / Math.sqrt(1 + 1e-5)]);
});

test('BatchNormalization opset 7 spatial=0 takes per-element statistics', () => {
  const x = f32([2, 1, 2], [1, 2, 3, 4]);
  const per = (a: number, b: number): Tensor => f32([1, 2], [a, b]);
  const ctx = ctxFor(BatchNormalization, { spatial: 0, epsilon: attr.float(0) }, 7);
  const [y] = BatchNormalization.reference([x, per(1, 1), per(0, 10), per(1, 2), per(1, 1)], ctx);
  close(y!, [2, 1, 2], [0, 10, 2, 12]);
});

test('BatchNormalization rejects training mode and wrong statistic shapes', () => {
  const x = f32([1, 2], [1, 2]);
  const p = f32([2], [1, 1]);
  assert.throws(
    () => BatchNormalization.reference([x, p, p, p, p], ctxFor(BatchNormalization, { training_mode: 1 })),
    (e: unknown) => e instanceof EdgecnnError && e.code === 'unsupported-operator' && /training_mode/.test(e.message),
  );
  assert.throws(
    () => BatchNormalization.reference([x, p, p, p, p], ctxFor(BatchNormalization, {}, 15, ['y', 'mean'])),
    /training-only/,
  );
  assert.throws(
    () => BatchNormalization.reference([x, f32([3], [1, 1, 1]), p, p, p], ctxFor(BatchNormalization, {})),
    /scale must have shape \[2\]/,
  );
});

test('InstanceNormalization normalizes each (n, c) plane', () => {
  const x = f32([1, 2, 4], [1, 2, 3, 4, 5, 5, 5, 5]);
  const [y] = InstanceNormalization.reference(
    [x, f32([2], [2, 1]), f32([2], [1, -1])],
    ctxFor(InstanceNormalization, { epsilon: attr.float(0.25) }),
  );
  // plane 0: mean 2.5, variance 1.25, so (x - 2.5) / sqrt(1.5) * 2 + 1; plane 1 is constant: only the bias remains.
  const s = 2 / Math.sqrt(1.5);
  close(y!, [1, 2, 4], [-1.5 * s + 1, -0.5 * s + 1, 0.5 * s + 1, 1.5 * s + 1, -1, -1, -1, -1]);
});

test('LRN sums squares over a window of channels centred on each channel', () => {
  const x = f32([1, 3, 1, 1], [1, 2, 3]);
  const a = { alpha: attr.float(3), beta: attr.float(1), bias: attr.float(1) };
  const [y3] = LRN.reference([x], ctxFor(LRN, { ...a, size: 3 }));
  close(y3!, [1, 3, 1, 1], [1 / (1 + 5), 2 / (1 + 14), 3 / (1 + 13)]);
  // An even size looks one more channel ahead than behind: c-0..c+1, so alpha/size = 1.5.
  const [y2] = LRN.reference([x], ctxFor(LRN, { ...a, size: 2 }));
  close(y2!, [1, 3, 1, 1], [1 / (1 + 1.5 * 5), 2 / (1 + 1.5 * 13), 3 / (1 + 1.5 * 9)]);
  assert.throws(() => LRN.reference([x], ctxFor(LRN, {})), /size attribute/);
});

test('normalization inferTypes pass the input type through', () => {
  const t = { dtype: 'float32' as const, shape: ['N', 3, null] };
  assert.deepEqual(BatchNormalization.inferTypes([t], ctxFor(BatchNormalization, {})), [t]);
  assert.deepEqual(LRN.inferTypes([undefined], ctxFor(LRN, { size: 3 })), [{}]);
});
