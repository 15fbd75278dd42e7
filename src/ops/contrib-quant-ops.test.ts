import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DType } from '../ir/dtype.js';
import { GraphBuilder, seededRandom } from '../ir/builder.js';
import type { Model } from '../ir/graph.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';
import { writeModel } from '../onnx/index.js';
import { MS_DOMAIN } from './contrib-quant-ops.js';
import { runReference } from './reference-executor.js';

/** Seeded integer data of a quantized type over its whole range. */
function ints(dtype: 'uint8' | 'int8', shape: number[], seed: number): Tensor {
  const r = seededRandom(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const lo = dtype === 'uint8' ? 0 : -128;
  const data = dtype === 'uint8' ? new Uint8Array(n) : new Int8Array(n);
  for (let i = 0; i < n; i++) data[i] = lo + Math.floor(r() * 256);
  return makeTensor(dtype, shape, data);
}

interface Case {
  name: string;
  build(b: GraphBuilder, t: DType): void;
  inputs: Record<string, number[]>;
}

const sc = (b: GraphBuilder, name: string, v: number): string =>
  b.init(name, makeTensor('float32', [], Float32Array.of(v)));
const zp = (b: GraphBuilder, name: string, t: DType, v: number): string =>
  b.init(name, makeTensor(t, [], t === 'uint8' ? Uint8Array.of(v + 128) : Int8Array.of(v)));

const CASES: Case[] = [
  {
    name: 'QLinearAdd (broadcast)',
    inputs: { a: [1, 5, 7, 3], b: [1, 5, 1, 3] },
    build(b, t) {
      b.node(
        'QLinearAdd',
        [
          'a',
          sc(b, 'as', 0.031),
          zp(b, 'az', t, 5),
          'b',
          sc(b, 'bs', 0.047),
          zp(b, 'bz', t, -9),
          sc(b, 'cs', 0.06),
          zp(b, 'cz', t, 3),
        ],
        {},
        { domain: MS_DOMAIN, outputs: ['y'] },
      );
    },
  },
  {
    name: 'QLinearMul',
    inputs: { a: [2, 3, 5], b: [2, 3, 5] },
    build(b, t) {
      b.node(
        'QLinearMul',
        [
          'a',
          sc(b, 'as', 0.02),
          zp(b, 'az', t, 1),
          'b',
          sc(b, 'bs', 0.03),
          zp(b, 'bz', t, -2),
          sc(b, 'cs', 0.05),
          zp(b, 'cz', t, 0),
        ],
        {},
        { domain: MS_DOMAIN, outputs: ['y'] },
      );
    },
  },
  {
    name: 'QLinearSigmoid',
    inputs: { x: [1, 7, 5] },
    build(b, t) {
      b.node(
        'QLinearSigmoid',
        ['x', sc(b, 'xs', 0.05), zp(b, 'xz', t, 3), sc(b, 'ys', 1 / 256), zp(b, 'yz', t, -128)],
        {},
        { domain: MS_DOMAIN, outputs: ['y'] },
      );
    },
  },
  {
    name: 'QLinearLeakyRelu',
    inputs: { x: [1, 7, 5] },
    build(b, t) {
      b.node(
        'QLinearLeakyRelu',
        ['x', sc(b, 'xs', 0.05), zp(b, 'xz', t, 3), sc(b, 'ys', 0.04), zp(b, 'yz', t, 10)],
        { alpha: 0.13 },
        { domain: MS_DOMAIN, outputs: ['y'] },
      );
    },
  },
  {
    name: 'QLinearGlobalAveragePool',
    inputs: { x: [1, 13, 5, 7] },
    build(b, t) {
      b.node(
        'QLinearGlobalAveragePool',
        ['x', sc(b, 'xs', 0.05), zp(b, 'xz', t, 3), sc(b, 'ys', 0.011), zp(b, 'yz', t, -4)],
        { channels_last: 0 },
        { domain: MS_DOMAIN, outputs: ['y'] },
      );
    },
  },
  {
    name: 'QLinearAveragePool',
    inputs: { x: [1, 3, 7, 6] },
    build(b, t) {
      b.node(
        'QLinearAveragePool',
        ['x', sc(b, 'xs', 0.05), zp(b, 'xz', t, 3), sc(b, 'ys', 0.03), zp(b, 'yz', t, -4)],
        { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
        { domain: MS_DOMAIN, outputs: ['y'] },
      );
    },
  },
  {
    name: 'QLinearConcat',
    inputs: { a: [1, 3, 4, 5], b: [1, 2, 4, 5] },
    build(b, t) {
      b.node(
        'QLinearConcat',
        [
          sc(b, 'ys', 0.05),
          zp(b, 'yz', t, 2),
          'a',
          sc(b, 'as', 0.03),
          zp(b, 'az', t, -1),
          'b',
          sc(b, 'bs', 0.07),
          zp(b, 'bz', t, 6),
        ],
        { axis: 1 },
        { domain: MS_DOMAIN, outputs: ['y'] },
      );
    },
  },
  {
    name: 'QGemm (int32 C, per-column b scales, quantized output)',
    inputs: { a: [3, 9] },
    build(b, t) {
      b.init('w', ints('int8', [5, 9], 41));
      b.init('ws', makeTensor('float32', [5], Float32Array.from([0.01, 0.02, 0.005, 0.013, 0.03])));
      b.init('wz', makeTensor('int8', [5], new Int8Array(5)));
      b.init('c', makeTensor('int32', [5], Int32Array.from([100, -700, 3, 50, -9])));
      b.node(
        'QGemm',
        ['a', sc(b, 'as', 0.04), zp(b, 'az', t, 3), 'w', 'ws', 'wz', 'c', sc(b, 'ys', 0.2), zp(b, 'yz', t, -5)],
        { transB: 1, alpha: 0.5 },
        { domain: MS_DOMAIN, outputs: ['y'] },
      );
    },
  },
];

for (const dtype of ['uint8', 'int8'] as const) {
  for (const c of CASES) {
    test(`${c.name} on ${dtype}: the reference agrees with onnxruntime-node within 1 LSB`, async () => {
      const b = new GraphBuilder('contrib');
      for (const [name, shape] of Object.entries(c.inputs)) b.input(name, dtype, shape);
      c.build(b, dtype);
      b.output('y');
      const model: Model = b.model(13);
      model.opsetImports.push({ domain: MS_DOMAIN, version: 1 });
      const feeds = Object.fromEntries(Object.entries(c.inputs).map(([n, s], i) => [n, ints(dtype, s, 7 + i)]));
      const ours = runReference(model, feeds)['y']!;
      const ort = (await import('onnxruntime-node')).default;
      const session = await ort.InferenceSession.create(writeModel(model), { logSeverityLevel: 3 });
      const theirs = (
        await session.run(
          Object.fromEntries(
            Object.entries(feeds).map(([n, t]) => [n, new ort.Tensor(dtype, t.data as Uint8Array, t.shape)]),
          ),
        )
      )['y']!;
      assert.deepEqual(ours.shape, [...theirs.dims]);
      assert.equal(ours.dtype, theirs.type);
      let off = 0;
      for (let i = 0; i < ours.data.length; i++) {
        const d = Math.abs(Number(ours.data[i]) - Number((theirs.data as Uint8Array)[i]));
        assert.ok(d <= 1, `element ${i}: ours ${ours.data[i]}, onnxruntime ${(theirs.data as Uint8Array)[i]}`);
        if (d) off++;
      }
      // One-step differences are onnxruntime's fixed-point or integer-sum rounding; they stay rare.
      assert.ok(off <= Math.max(1, ours.data.length * 0.05), `${off} of ${ours.data.length} differ by 1`);
    });
  }
}

test('QLinearGlobalAveragePool with channels_last = 1 is a named error', () => {
  const b = new GraphBuilder('nhwc');
  b.input('x', 'uint8', [1, 4, 4, 3]);
  b.node(
    'QLinearGlobalAveragePool',
    ['x', sc(b, 'xs', 0.1), zp(b, 'xz', 'uint8', 0), sc(b, 'ys', 0.1), zp(b, 'yz', 'uint8', 0)],
    { channels_last: 1 },
    { domain: MS_DOMAIN, outputs: ['y'], name: 'gap_nhwc' },
  );
  b.output('y');
  const model = b.model(13);
  model.opsetImports.push({ domain: MS_DOMAIN, version: 1 });
  assert.throws(() => runReference(model, { x: ints('uint8', [1, 4, 4, 3], 1) }), /gap_nhwc.*channels_last = 1/);
});
