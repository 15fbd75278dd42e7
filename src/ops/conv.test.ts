import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AttrValue, toAttribute } from '../ir/builder.js';
import { EdgecnnError } from '../ir/errors.js';
import type { Node } from '../ir/graph.js';
import { type Tensor, f32 } from '../ir/tensor.js';
import { Conv, ConvTranspose } from './conv.js';
import type { OpContext, OpDef } from './types.js';

function ctxFor(op: OpDef, attrs: Record<string, AttrValue> = {}, opset = 17): OpContext {
  const node: Node = {
    name: 'n1',
    opType: op.opType,
    domain: '',
    inputs: [],
    outputs: ['y'],
    attributes: new Map(Object.entries(attrs).map(([k, v]) => [k, toAttribute(v)])),
  };
  return { node, opset };
}

function run(op: OpDef, inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue> = {}): Tensor {
  return op.reference(inputs, ctxFor(op, attrs))[0]!;
}

function close(t: Tensor, shape: number[], values: number[]): void {
  assert.deepEqual([...t.shape], shape);
  assert.equal(t.data.length, values.length);
  values.forEach((v, i) => assert.ok(Math.abs(Number(t.data[i]) - v) < 1e-5, `element ${i}: ${t.data[i]} vs ${v}`));
}

const range = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => i + from);

test('Conv 1-D with symmetric pads is a padded correlation', () => {
  const y = run(Conv, [f32([1, 1, 5], range(5)), f32([1, 1, 3], [1, 0, -1])], { pads: [1, 1] });
  close(y, [1, 1, 5], [-2, -2, -2, -2, 4]);
});

test('Conv 2-D with asymmetric pads and stride', () => {
  // pads [top, left, bottom, right] = [0, 1, 1, 0]: a zero column on the left and a zero row at the bottom.
  const y = run(Conv, [f32([1, 1, 3, 3], range(9)), f32([1, 1, 2, 2], [1, 1, 1, 1])], {
    pads: [0, 1, 1, 0],
    strides: [2, 2],
  });
  close(y, [1, 1, 2, 2], [1 + 4, 2 + 3 + 5 + 6, 7, 8 + 9]);
});

test('Conv depthwise (group = C = 3) with bias', () => {
  const x = f32([1, 3, 1, 2], [1, 2, 3, 4, 5, 6]);
  const y = run(Conv, [x, f32([3, 1, 1, 1], [1, 2, 3]), f32([3], [10, 20, 30])], { group: 3 });
  close(y, [1, 3, 1, 2], [11, 12, 26, 28, 45, 48]);
});

test('Conv groups route each output channel to its own input channels', () => {
  const x = f32([1, 4, 1, 1], [1, 2, 3, 4]);
  const y = run(Conv, [x, f32([2, 2, 1, 1], [1, 1, 1, -1])], { group: 2 });
  close(y, [1, 2, 1, 1], [1 + 2, 3 - 4]);
});

test('Conv dilation spreads the taps', () => {
  const y = run(Conv, [f32([1, 1, 7], range(7)), f32([1, 1, 2], [1, 1])], { dilations: [3] });
  close(y, [1, 1, 4], [5, 7, 9, 11]);
});

test('Conv SAME_UPPER pads the odd element at the end, SAME_LOWER at the beginning', () => {
  const x = f32([1, 1, 4], [1, 2, 3, 4]);
  const w = f32([1, 1, 2], [1, 1]);
  close(run(Conv, [x, w], { auto_pad: 'SAME_UPPER' }), [1, 1, 4], [3, 5, 7, 4]);
  close(run(Conv, [x, w], { auto_pad: 'SAME_LOWER' }), [1, 1, 4], [1, 3, 5, 7]);
  // SAME with stride 2: ceil(5 / 2) = 3 outputs, total pad (3-1)*2 + 2 - 5 = 1.
  close(run(Conv, [f32([1, 1, 5], range(5)), w], { auto_pad: 'SAME_UPPER', strides: [2] }), [1, 1, 3], [3, 7, 5]);
});

test('Conv 3-D and batch 2 with 2 output channels', () => {
  const x = f32([2, 1, 2, 2, 2], [...range(8), ...range(8).map((v) => -v)]);
  const w = f32([2, 1, 2, 2, 2], [...new Array(8).fill(1), ...new Array(8).fill(0.5)]);
  close(run(Conv, [x, w]), [2, 2, 1, 1, 1], [36, 18, -36, -18]);
});

test('Conv rejects a channel mismatch with a named EdgecnnError', () => {
  assert.throws(
    () => run(Conv, [f32([1, 3, 2, 2], range(12)), f32([1, 2, 1, 1], [1, 1])]),
    (e: unknown) => e instanceof EdgecnnError && /Conv node 'n1'.*3 channels/.test(e.message),
  );
  assert.throws(() => run(Conv, [f32([1, 1, 2], [1, 2]), f32([1, 1, 3], [1, 1, 1])]), /too small/);
});

test('Conv inferTypes keeps unknown dims null and computes known ones', () => {
  const ctx = ctxFor(Conv, { pads: [1, 1, 1, 1], strides: [2, 2] });
  const [t] = Conv.inferTypes([{ dtype: 'float32', shape: ['N', 3, null, 9] }, { shape: [8, 3, 3, 3] }], ctx);
  assert.deepEqual(t, { dtype: 'float32', shape: ['N', 8, null, 5] });
  assert.deepEqual(Conv.inferTypes([undefined, undefined], ctx), [{}]);
});

test('Conv macs = output elements * (C/group) * kernel size', () => {
  const ctx = ctxFor(Conv, { pads: [1, 1, 1, 1] });
  const ins = [{ shape: [1, 3, 5, 7] }, { shape: [4, 3, 3, 3] }];
  const outs = Conv.inferTypes(ins, ctx);
  assert.equal(Conv.macs!(ins, outs, ctx), 4 * 5 * 7 * 3 * 3 * 3);
});

test('ConvTranspose 1-D stride 2 overlaps the scattered kernels', () => {
  const x = f32([1, 1, 2], [1, 2]);
  const w = f32([1, 1, 3], [1, 1, 1]);
  close(run(ConvTranspose, [x, w], { strides: [2] }), [1, 1, 5], [1, 1, 3, 2, 2]);
  close(run(ConvTranspose, [x, w], { strides: [2], pads: [1, 1] }), [1, 1, 3], [1, 3, 2]);
  close(run(ConvTranspose, [x, w], { strides: [2], output_padding: [1] }), [1, 1, 6], [1, 1, 3, 2, 2, 0]);
});

test('ConvTranspose output_shape and SAME_UPPER place the padding as the spec says', () => {
  const x = f32([1, 1, 2], [1, 2]);
  const w = f32([1, 1, 3], [1, 1, 1]);
  // Full length 5, wanted 4: total padding 1 goes to the beginning unless SAME_UPPER.
  close(run(ConvTranspose, [x, w], { strides: [2], output_shape: [4] }), [1, 1, 4], [1, 3, 2, 2]);
  close(run(ConvTranspose, [x, w], { strides: [2], auto_pad: 'SAME_UPPER' }), [1, 1, 4], [1, 1, 3, 2]);
});

test('ConvTranspose groups, bias and 2 output channels per group', () => {
  const x = f32([1, 2, 1, 1], [2, 3]);
  const w = f32([2, 2, 1, 1], [1, 10, 100, 1000]);
  close(run(ConvTranspose, [x, w, f32([4], [1, 2, 3, 4])], { group: 2 }), [1, 4, 1, 1], [3, 22, 303, 3004]);
  const [t] = ConvTranspose.inferTypes(
    [{ dtype: 'float32', shape: [1, 2, 'H', 5] }, { shape: [2, 2, 3, 3] }],
    ctxFor(ConvTranspose, { group: 2, strides: [2, 2] }),
  );
  assert.deepEqual(t, { dtype: 'float32', shape: [1, 4, null, 11] });
});
