import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { syntheticSamples } from '../datasets/calibration-source.js';
import { findFashionMnist, imageBatch, loadFashionMnist } from '../datasets/fashion-mnist.js';
import type { DType } from '../ir/dtype.js';
import { GraphBuilder, randomF32, seededRandom } from '../ir/builder.js';
import type { Model } from '../ir/graph.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';
import { loadModel, writeModel } from '../onnx/index.js';
import { MS_DOMAIN } from '../ops/contrib-quant-ops.js';
import { runReference } from '../ops/reference-executor.js';
import { createSession } from '../runtime/session.js';
import { agreement } from './evaluate.js';
import { qdqToQOperator } from './qoperator-export.js';
import { qoperatorToQdq } from './qoperator.js';
import { quantizeModel } from './quantize-model.js';
import { tinyQuantModel } from './testing.js';

const MODELS = resolve(process.cwd(), '../shared/models');
const QDQ_MOBILENET = resolve(MODELS, 'mobilenet_v2.int8_qdq.onnx');
const FIXTURE = resolve('fixtures/fashion-mnist-dsconv.onnx');

async function runOrt(model: Model, inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const ort = (await import('onnxruntime-node')).default;
  const session = await ort.InferenceSession.create(writeModel(model), { logSeverityLevel: 3, intraOpNumThreads: 1 });
  const feeds = Object.fromEntries(
    Object.entries(inputs).map(([n, t]) => [n, new ort.Tensor('float32', t.data as Float32Array, t.shape)]),
  );
  const outs = await session.run(feeds);
  return Object.fromEntries(
    Object.entries(outs).map(([n, t]) => [n, makeTensor('float32', [...t.dims], t.data as Float32Array)]),
  );
}

/** Differences in quantization steps between two dequantized tensors of one scale: [count off by 1, by more]. */
function lsbDiffs(a: Tensor, b: Tensor, scale: number): { one: number; more: number } {
  let one = 0;
  let more = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.round(Math.abs(Number(a.data[i]) - Number(b.data[i])) / scale);
    if (d === 1) one++;
    else if (d > 1) more++;
  }
  return { one, more };
}

/** Kernel ids of the compiled steps, by node name. */
function kernelsByNode(steps: readonly { kind: string; nodeName: string; kernelId?: string }[]): Map<string, string> {
  return new Map(steps.filter((s) => s.kind === 'kernel').map((s) => [s.nodeName, s.kernelId ?? '']));
}

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  outC: number;
  kernel: number;
  stride: number;
  group: 1 | 'depthwise';
  act: 'uint8' | 'int8';
  /** uint8 weights with zero point 128 (the rewrite shifts them to int8) instead of per-channel int8. */
  uint8Weights?: boolean;
  bias: boolean;
  /** Default-domain opset (13 unless given): below 13 the rewrite moves the import to 13 for per-axis DQ. */
  opset?: number;
}

/** Float input -> QuantizeLinear -> QLinearConv -> DequantizeLinear, seeded. */
function qlinearConvModel(c: ConvCase): { model: Model; yScale: number } {
  const b = new GraphBuilder(c.name);
  const [, inC, ,] = c.x;
  const x = b.input('x', 'float32', [...c.x]);
  const r = seededRandom(c.outC * 31 + inC);
  const sc = (n: string, v: number): string => b.init(n, makeTensor('float32', [], Float32Array.of(v)));
  const zp = (n: string, t: DType, v: number): string =>
    b.init(n, makeTensor(t, [], t === 'uint8' ? Uint8Array.of(v) : Int8Array.of(v)));
  const xz = c.act === 'uint8' ? 131 : -3;
  const q = b.node('QuantizeLinear', [x, sc('xs', 0.021), zp('xz', c.act, xz)]);
  const wIn = c.group === 'depthwise' ? 1 : inC;
  const wShape = [c.outC, wIn, c.kernel, c.kernel];
  const n = wShape.reduce((p, v) => p * v, 1);
  if (c.uint8Weights) {
    b.init(
      'w',
      makeTensor(
        'uint8',
        wShape,
        Uint8Array.from({ length: n }, () => Math.floor(r() * 256)),
      ),
    );
    b.init('ws', makeTensor('float32', [], Float32Array.of(0.004)));
    b.init('wz', makeTensor('uint8', [], Uint8Array.of(128)));
  } else {
    b.init(
      'w',
      makeTensor(
        'int8',
        wShape,
        Int8Array.from({ length: n }, () => Math.floor(r() * 255) - 127),
      ),
    );
    b.init(
      'ws',
      makeTensor(
        'float32',
        [c.outC],
        Float32Array.from({ length: c.outC }, () => 0.002 + 0.006 * r()),
      ),
    );
    b.init('wz', makeTensor('int8', [c.outC], new Int8Array(c.outC)));
  }
  const yScale = 0.37;
  const ins = [q, 'xs', 'xz', 'w', 'ws', 'wz', sc('ys', yScale), zp('yz', c.act, c.act === 'uint8' ? 117 : 9)];
  if (c.bias)
    ins.push(
      b.init(
        'B',
        makeTensor(
          'int32',
          [c.outC],
          Int32Array.from({ length: c.outC }, () => Math.round((r() - 0.5) * 9000)),
        ),
      ),
    );
  const pad = (c.kernel - 1) >> 1;
  const y = b.node(
    'QLinearConv',
    ins,
    {
      kernel_shape: [c.kernel, c.kernel],
      strides: [c.stride, c.stride],
      pads: [pad, pad, pad, pad],
      group: c.group === 'depthwise' ? inC : 1,
    },
    { name: 'qconv' },
  );
  b.node('DequantizeLinear', [y, 'ys', 'yz'], {}, { outputs: ['out'] });
  b.output('out', 'float32');
  return { model: b.model(c.opset ?? 13), yScale };
}

const CONV_CASES: ConvCase[] = [
  {
    name: 'dense 3x3 s2, 5->7, uint8',
    x: [1, 5, 9, 11],
    outC: 7,
    kernel: 3,
    stride: 2,
    group: 1,
    act: 'uint8',
    bias: true,
  },
  {
    name: 'depthwise 3x3, 13 ch',
    x: [1, 13, 10, 6],
    outC: 13,
    kernel: 3,
    stride: 1,
    group: 'depthwise',
    act: 'uint8',
    bias: true,
  },
  {
    name: 'pointwise 17->9, int8 activations',
    x: [1, 17, 5, 5],
    outC: 9,
    kernel: 1,
    stride: 1,
    group: 1,
    act: 'int8',
    bias: false,
  },
  {
    name: 'per-channel weights in an opset-12 model',
    x: [1, 6, 7, 7],
    outC: 10,
    kernel: 3,
    stride: 1,
    group: 1,
    act: 'uint8',
    bias: true,
    opset: 12,
  },
  {
    name: 'uint8 weights (zero point 128), 3->4',
    x: [1, 3, 7, 8],
    outC: 4,
    kernel: 3,
    stride: 1,
    group: 1,
    act: 'uint8',
    uint8Weights: true,
    bias: true,
  },
];

for (const c of CONV_CASES) {
  test(`QLinearConv (${c.name}) runs on a qs8 kernel, bit-exact with the QLinearConv reference and onnxruntime`, async () => {
    const { model, yScale } = qlinearConvModel(c);
    const rw = qoperatorToQdq(model);
    assert.equal(rw.rewritten, 1);
    assert.deepEqual(rw.unsupported, []);
    assert.deepEqual(rw.notes, []);
    const session = await createSession(model, { backend: 'wasm' });
    assert.deepEqual(session.fallbackNodes, []);
    assert.match(kernelsByNode(session.steps).get('qconv') ?? 'none', /^qs8-/);
    const input = { x: randomF32(c.x, 5, -2.5, 2.5) };
    const ours = (await session.run(input))['out']!;
    const ref = runReference(model, input)['out']!;
    const theirs = (await runOrt(model, input))['out']!;
    // Exact: int32 accumulation and bias, one float32 multiplier, round half to even, saturation.
    assert.deepEqual(lsbDiffs(ours, ref, yScale), { one: 0, more: 0 });
    const o = lsbDiffs(ours, theirs, yScale);
    assert.equal(o.more, 0);
    assert.equal(o.one, 0, `${o.one} of ${ours.data.length} differ from onnxruntime by one step`);
  });
}

test('QDQ -> QOperator export of a small model runs in onnxruntime; its import runs on qs8 kernels', async () => {
  const { model: qdq } = await quantizeModel(tinyQuantModel(), syntheticSamples([1, 3, 12, 12], 4));
  const { model, converted } = qdqToQOperator(qdq);
  assert.deepEqual(converted, {
    QLinearConv: 4,
    [`${MS_DOMAIN}:QLinearAdd`]: 1,
    [`${MS_DOMAIN}:QLinearConcat`]: 1,
    [`${MS_DOMAIN}:QLinearGlobalAveragePool`]: 1,
    [`${MS_DOMAIN}:QGemm`]: 1,
  });
  assert.ok(!model.graph.nodes.some((n) => n.opType === 'Conv' || n.opType === 'Add'));
  const input = { input: syntheticSamples([1, 3, 12, 12], 1, 77)[0]! };
  const theirs = (await runOrt(model, input))['output']!;
  const session = await createSession(model, { backend: 'wasm' });
  assert.deepEqual(session.fallbackNodes, []);
  const k = kernelsByNode(session.steps);
  for (const name of ['stem', 'dw', 'pw', 'branch_a', 'residual']) assert.match(k.get(name) ?? 'none', /^qs8-/, name);
  const ours = (await session.run(input))['output']!;
  const ref = runReference(model, input)['output']!;
  // The QDQ original, the QOperator file on the reference and in onnxruntime, and our compiled import agree.
  for (const other of [theirs, ref, runReference(qdq, input)['output']!]) {
    const a = agreement(ours, other);
    assert.ok(a.maxAbsDiff < 1e-5, `max abs diff ${a.maxAbsDiff}`);
  }
});

test('int8 data movers between QOperator ops (MaxPool, Flatten on uint8) and QLinearMatMul: exact, on qs8 kernels', async () => {
  const b = new GraphBuilder('movers');
  const x = b.input('x', 'float32', [1, 3, 10, 10]);
  const sc = (n: string, v: number): string => b.init(n, makeTensor('float32', [], Float32Array.of(v)));
  const u8 = (n: string, v: number): string => b.init(n, makeTensor('uint8', [], Uint8Array.of(v)));
  const q = b.node('QuantizeLinear', [x, sc('xs', 0.02), u8('xz', 128)]);
  const r = seededRandom(9);
  b.init(
    'w',
    makeTensor(
      'int8',
      [6, 3, 3, 3],
      Int8Array.from({ length: 162 }, () => Math.floor(r() * 255) - 127),
    ),
  );
  b.init(
    'ws',
    makeTensor(
      'float32',
      [6],
      Float32Array.from({ length: 6 }, () => 0.003 + 0.004 * r()),
    ),
  );
  b.init('wz', makeTensor('int8', [6], new Int8Array(6)));
  const c = b.node(
    'QLinearConv',
    [q, 'xs', 'xz', 'w', 'ws', 'wz', sc('cs', 0.05), u8('cz', 0)],
    { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
    { name: 'conv' },
  );
  const p = b.node('MaxPool', [c], { kernel_shape: [2, 2], strides: [2, 2] }, { name: 'pool' });
  const f = b.node('Flatten', [p], { axis: 1 }, { name: 'flatten' });
  b.init(
    'm',
    makeTensor(
      'int8',
      [150, 4],
      Int8Array.from({ length: 600 }, () => Math.floor(r() * 255) - 127),
    ),
  );
  const mm = b.node(
    'QLinearMatMul',
    [
      f,
      'cs',
      'cz',
      'm',
      sc('ms', 0.004),
      b.init('mz', makeTensor('int8', [], Int8Array.of(0))),
      sc('os', 0.08),
      u8('oz', 100),
    ],
    {},
    { name: 'fc' },
  );
  b.node('DequantizeLinear', [mm, 'os', 'oz'], {}, { outputs: ['out'] });
  b.output('out', 'float32', [1, 4]);
  const model = b.model(13);
  const session = await createSession(model, { backend: 'wasm' });
  assert.deepEqual(session.fallbackNodes, []);
  const k = kernelsByNode(session.steps);
  for (const name of ['conv', 'pool']) assert.match(k.get(name) ?? 'none', /^qs8-/, name);
  const input = { x: randomF32([1, 3, 10, 10], 4, -2, 2) };
  const ours = (await session.run(input))['out']!;
  const ref = runReference(model, input)['out']!;
  const theirs = (await runOrt(model, input))['out']!;
  // The MatMul runs in float after dequantizing (no int8 GEMM for QLinearMatMul yet): one step at most.
  for (const other of [ref, theirs]) {
    const d = lsbDiffs(ours, other, 0.08);
    assert.equal(d.more, 0);
    assert.ok(d.one <= 1, `${d.one} of 4 off by one`);
  }
});

test('uint8 weights whose shift leaves int8 run in float after the rewrite, named in notes, within 1 LSB', async () => {
  const b = new GraphBuilder('u8w');
  const x = b.input('x', 'float32', [1, 4, 8, 8]);
  const sc = (n: string, v: number): string => b.init(n, makeTensor('float32', [], Float32Array.of(v)));
  const u8 = (n: string, v: number): string => b.init(n, makeTensor('uint8', [], Uint8Array.of(v)));
  const q = b.node('QuantizeLinear', [x, sc('xs', 0.02), u8('xz', 128)]);
  const r = seededRandom(3);
  b.init(
    'w',
    makeTensor(
      'uint8',
      [5, 4, 3, 3],
      Uint8Array.from({ length: 180 }, () => Math.floor(r() * 256)),
    ),
  );
  const y = b.node(
    'QLinearConv',
    [q, 'xs', 'xz', 'w', sc('ws', 0.003), u8('wz', 100), sc('ys', 0.05), u8('yz', 128)],
    { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
    { name: 'conv' },
  );
  b.node('DequantizeLinear', [y, 'ys', 'yz'], {}, { outputs: ['out'] });
  b.output('out', 'float32');
  const model = b.model(13);
  assert.match(qoperatorToQdq(model).notes.join('\n'), /'conv' \(QLinearConv\): weights minus their zero point leave/);
  const session = await createSession(model, { backend: 'wasm' });
  assert.deepEqual(session.fallbackNodes, []);
  assert.match(kernelsByNode(session.steps).get('conv') ?? 'none', /^f32-/);
  const input = { x: randomF32([1, 4, 8, 8], 2, -2, 2) };
  const d = lsbDiffs((await session.run(input))['out']!, runReference(model, input)['out']!, 0.05);
  assert.equal(d.more, 0);
});

test('quantized ops without a rewrite are named, and a session refuses one without a reference', async () => {
  const b = new GraphBuilder('softmax');
  const x = b.input('x', 'float32', [1, 10]);
  const sc = b.init('s', makeTensor('float32', [], Float32Array.of(0.1)));
  const z = b.init('z', makeTensor('uint8', [], Uint8Array.of(128)));
  const q = b.node('QuantizeLinear', [x, sc, z]);
  const y = b.node('QLinearSoftmax', [q, sc, z, sc, z], { axis: 1, opset: 13 }, { domain: MS_DOMAIN, name: 'qsm' });
  b.node('DequantizeLinear', [y, sc, z], {}, { outputs: ['out'] });
  b.output('out', 'float32', [1, 10]);
  const model = b.model(13);
  model.opsetImports.push({ domain: MS_DOMAIN, version: 1 });
  const rw = qoperatorToQdq(model);
  assert.equal(rw.rewritten, 0);
  assert.match(rw.unsupported.join('\n'), /'qsm' \(com\.microsoft:QLinearSoftmax\)/);
  await assert.rejects(createSession(model, { backend: 'wasm' }), /'qsm'.*QLinearSoftmax.*unsupported/);
});

test(
  'Fashion-MNIST fixture as QOperator: onnxruntime-node vs our wasm import on 32 images, int8 features within 1 LSB',
  { skip: !existsSync(FIXTURE) && 'fixture missing' },
  async () => {
    const dataDir = findFashionMnist();
    const images =
      dataDir !== undefined
        ? imageBatch(loadFashionMnist('test', dataDir), 0, 32)
        : makeTensor('float32', [32, 1, 28, 28], randomF32([32, 1, 28, 28], 3).data);
    const calib =
      dataDir !== undefined
        ? [imageBatch(loadFashionMnist('train', dataDir), 0, 64)]
        : syntheticSamples([8, 1, 28, 28], 2);
    const { model: qdq } = await quantizeModel(await loadModel(FIXTURE), calib);
    const { model, converted } = qdqToQOperator(qdq);
    assert.equal(converted['QLinearConv'], 10);
    // A probe output: the last int8 feature map (QGemm's input), dequantized, to count differences in LSB.
    const gemm = model.graph.nodes.find((n) => n.opType === 'QGemm')!;
    const probed: Model = {
      ...model,
      graph: {
        ...model.graph,
        nodes: [
          ...model.graph.nodes,
          {
            name: 'probe',
            opType: 'DequantizeLinear',
            domain: '',
            inputs: gemm.inputs.slice(0, 3),
            outputs: ['probe'],
            attributes: new Map(),
          },
        ],
        outputs: [...model.graph.outputs, { name: 'probe', dtype: 'float32' }],
      },
    };
    const input = { input: images };
    const theirs = await runOrt(probed, input);
    const session = await createSession(probed, { backend: 'wasm', inputShapes: { input: [32, 1, 28, 28] } });
    assert.deepEqual(session.fallbackNodes, []);
    const k = kernelsByNode(session.steps);
    const convs = model.graph.nodes.filter((n) => n.opType === 'QLinearConv');
    for (const n of convs) assert.match(k.get(n.name) ?? 'none', /^qs8-/, n.name);
    const ours = await session.run(input);
    const scale = Number(model.graph.initializers.get(gemm.inputs[1]!)!.data[0]);
    const d = lsbDiffs(ours['probe']!, theirs['probe']!, scale);
    const a = agreement(ours['output']!, theirs['output']!);
    console.log(
      `fashion-mnist QOperator, 32 images: int8 features ${d.one} of ${ours['probe']!.data.length} off by 1 LSB, ` +
        `${d.more} by more; logits cosine ${a.cosine.toFixed(7)}, max abs diff ${a.maxAbsDiff.toExponential(2)}`,
    );
    assert.equal(d.more, 0);
    assert.ok(d.one <= ours['probe']!.data.length * 0.01, `${d.one} off by one`);
    assert.ok(a.cosine > 0.9999, `cosine ${a.cosine}`);
  },
);

test(
  'mobilenet_v2 QOperator (exported from the shared QDQ model): our wasm import vs onnxruntime-node',
  { skip: !existsSync(QDQ_MOBILENET) && `${QDQ_MOBILENET} not found` },
  async () => {
    const { model, converted } = qdqToQOperator(await loadModel(QDQ_MOBILENET));
    assert.equal(converted['QLinearConv'], 52);
    assert.equal(converted[`${MS_DOMAIN}:QLinearAdd`], 10);
    const x = randomF32([1, 3, 224, 224], 11, -2, 2);
    const theirs = (await runOrt(model, { input: x }))['output']!;
    const session = await createSession(model, { backend: 'wasm' });
    assert.deepEqual(session.fallbackNodes, []);
    const k = kernelsByNode(session.steps);
    const convs = model.graph.nodes.filter((n) => n.opType === 'QLinearConv');
    assert.equal(convs.filter((n) => /^qs8-/.test(k.get(n.name) ?? '')).length, 52);
    const ours = (await session.run({ input: x }))['output']!;
    const a = agreement(ours, theirs);
    console.log(
      `mobilenet_v2 QOperator vs onnxruntime-node: cosine ${a.cosine.toFixed(5)}, max abs diff ${a.maxAbsDiff.toFixed(4)}`,
    );
    // QLinearConv matches onnxruntime bit for bit; its fixed-point QLinearAdd rounds a few values per layer the
    // other way, and this random-weight network amplifies each flip (see docs/architecture.md, int8). Against the
    // ONNX formulas (our reference) the compiled model agrees to float rounding.
    assert.ok(a.cosine > 0.99, `cosine ${a.cosine}`);
    const r = agreement(ours, runReference(model, { input: x })['output']!);
    console.log(
      `mobilenet_v2 QOperator vs the reference: cosine ${r.cosine}, max abs diff ${r.maxAbsDiff.toExponential(2)}`,
    );
    assert.ok(r.maxAbsDiff < 1e-5, `max abs diff vs reference ${r.maxAbsDiff}`);
  },
);
