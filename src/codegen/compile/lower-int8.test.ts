/**
 * int8 lowering end to end: QDQ models from our quantizer (uint8 and int8 activations) and the shared QDQ
 * MobileNetV2 (another tool's) compile to qs8 kernels and agree with the reference executor and onnxruntime-node.
 * Single 1-LSB tie flips propagate through a deep random-weight network, so whole-model checks are cosine and
 * top-1; the small model must agree to within a fraction of one output quantization step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { syntheticSamples } from '../../datasets/calibration-source.js';
import { GraphBuilder } from '../../ir/builder.js';
import type { Model } from '../../ir/graph.js';
import { f32, makeTensor } from '../../ir/tensor.js';
import { writeModel } from '../../onnx/export.js';
import { runReference } from '../../ops/reference-executor.js';
import { quantizeModel } from '../../quantize/quantize-model.js';
import { tinyQuantModel } from '../../quantize/testing.js';
import { createSession } from '../../runtime/session.js';
import { compileModel } from './compile.js';

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return d / Math.sqrt(na * nb);
}

for (const activations of ['uint8', 'int8'] as const) {
  test(`a QDQ model from the quantizer (${activations} activations) runs on qs8 kernels and matches the reference`, async () => {
    const samples = syntheticSamples([1, 3, 12, 12], 8);
    const { model } = await quantizeModel(tinyQuantModel(), samples, { method: 'minmax', activations });
    const compiled = compileModel(model);
    const ids = compiled.steps.map((s) => s.kernelId);
    // stem (dense 3x3 conv, relu), dw (depthwise, relu6 folded), pw (1x1) + residual add, branch_a (1x1 s2 conv),
    // max pool and concat, global average pool, flatten, and the Gemm head with its float output.
    for (const want of [
      'qs8-quantize-',
      'qs8-conv-',
      'qs8-dwconv-',
      'qs8-gemm-',
      'qs8-add-',
      'qs8-gavgpool-',
      'qs8-fc-',
    ]) {
      assert.ok(
        ids.some((id) => id.startsWith(want)),
        `no ${want} step in ${ids.join(', ')}`,
      );
    }
    assert.deepEqual(compiled.fallbackNodes, []);
    const s = await createSession(model);
    for (const x of syntheticSamples([1, 3, 12, 12], 3, 99)) {
      const got = (await s.run({ input: x }))['output']!.data as Float32Array;
      const want = runReference(model, { input: x })['output']!.data as Float32Array;
      assert.ok(cosine(got, want) > 0.9999, `cosine ${cosine(got, want)}`);
      const scale = Math.max(...Array.from(want, Math.abs));
      const maxDiff = Math.max(...Array.from(want, (w, i) => Math.abs(w - got[i]!)));
      assert.ok(maxDiff <= 0.02 * scale, `max |diff| ${maxDiff} vs largest output ${scale}`);
    }
  });
}

test('unary ops between int8 tensors (HardSwish, Sigmoid) become 256-byte tables that match the reference', async () => {
  const b = new GraphBuilder('lut');
  const x = b.input('input', 'float32', [1, 5, 6, 7]);
  b.randomInit('w0', [11, 5, 3, 3], 1, -0.5, 0.5);
  const c0 = b.node('Conv', [x, 'w0'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'c0' });
  const h = b.node('HardSwish', [c0], {}, { name: 'hswish' });
  b.randomInit('w1', [9, 11, 1, 1], 2, -0.5, 0.5);
  const c1 = b.node('Conv', [h, 'w1'], { kernel_shape: [1, 1] }, { name: 'c1' });
  const sg = b.node('Sigmoid', [c1], {}, { name: 'sig' });
  b.randomInit('w2', [4, 9, 1, 1], 3, -0.5, 0.5);
  b.node('Conv', [sg, 'w2'], { kernel_shape: [1, 1] }, { name: 'c2', outputs: ['output'] });
  b.output('output');
  const samples = syntheticSamples([1, 5, 6, 7], 6);
  const { model } = await quantizeModel(b.model(14), samples, { method: 'minmax' });
  const compiled = compileModel(model);
  const luts = compiled.steps.filter((st) => st.kernelId.startsWith('qs8-lut-')).length;
  assert.equal(luts, 2, compiled.steps.map((st) => st.kernelId).join(', '));
  assert.deepEqual(compiled.fallbackNodes, []);
  const s = await createSession(model);
  for (const inp of syntheticSamples([1, 5, 6, 7], 2, 5)) {
    const got = (await s.run({ input: inp }))['output']!.data as Float32Array;
    const want = runReference(model, { input: inp })['output']!.data as Float32Array;
    const scale = Math.max(...Array.from(want, Math.abs));
    const maxDiff = Math.max(...Array.from(want, (w, i) => Math.abs(w - got[i]!)));
    assert.ok(maxDiff <= 0.02 * scale, `max |diff| ${maxDiff} vs largest output ${scale}`);
  }
});

test('3x3 stride-1 QDQ convs with enough tiles run on qs8 Winograd and match the reference', async () => {
  const b = new GraphBuilder('wino');
  const x = b.input('input', 'float32', [1, 3, 14, 13]);
  b.randomInit('w0', [16, 3, 3, 3], 1, -0.5, 0.5);
  const c0 = b.node('Conv', [x, 'w0'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'stem' });
  const r0 = b.node('Relu', [c0], {}, { name: 'r0' });
  b.randomInit('w1', [12, 16, 3, 3], 2, -0.3, 0.3);
  const c1 = b.node('Conv', [r0, 'w1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'wino' });
  const r1 = b.node('Relu', [c1], {}, { name: 'r1' });
  b.randomInit('w2', [4, 12, 1, 1], 3, -0.5, 0.5);
  b.node('Conv', [r1, 'w2'], { kernel_shape: [1, 1] }, { name: 'last', outputs: ['output'] });
  b.output('output');
  const { model } = await quantizeModel(b.model(13), syntheticSamples([1, 3, 14, 13], 4), { method: 'minmax' });
  const ids = compileModel(model).steps.map((st) => st.kernelId);
  assert.ok(
    ids.some((id) => id.startsWith('qs8-winograd-')),
    ids.join(', '),
  );
  const s = await createSession(model);
  for (const inp of syntheticSamples([1, 3, 14, 13], 2, 8)) {
    const got = (await s.run({ input: inp }))['output']!.data as Float32Array;
    const want = runReference(model, { input: inp })['output']!.data as Float32Array;
    assert.ok(cosine(got, want) > 0.9999, `cosine ${cosine(got, want)}`);
    const scale = Math.max(...Array.from(want, Math.abs));
    const maxDiff = Math.max(...Array.from(want, (w, i) => Math.abs(w - got[i]!)));
    assert.ok(maxDiff <= 0.02 * scale, `max |diff| ${maxDiff} vs largest output ${scale}`);
  }
});

const MODELS_DIR = resolve(process.cwd(), '../shared/models');
const QDQ = join(MODELS_DIR, 'mobilenet_v2.int8_qdq.onnx');

test(
  'the shared QDQ MobileNetV2 runs every Conv and Add on qs8 kernels and agrees with the reference and onnxruntime-node',
  { skip: !existsSync(QDQ) && `${QDQ} is absent` },
  async () => {
    const b = readFileSync(join(MODELS_DIR, 'mobilenet_v2.input.f32'));
    const data = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    const s = await createSession(QDQ);
    const kinds = new Set(s.steps.map((st) => st.kernelId.replace(/-.*$/, '')));
    assert.ok(
      !s.steps.some((st) => /^f32-(conv|dwconv|gemm)-/.test(st.kernelId) && st.opType !== 'Gemm'),
      'a float conv is left',
    );
    assert.ok(kinds.has('qs8'));
    const got = (await s.run({ input: f32([1, 3, 224, 224], data) }))[s.outputNames[0]!]!.data as Float32Array;
    const ref = await createSession(QDQ, { backend: 'reference' });
    const want = (await ref.run({ input: f32([1, 3, 224, 224], data) }))[ref.outputNames[0]!]!.data as Float32Array;
    const ort = (await import('onnxruntime-node')) as typeof import('onnxruntime-node');
    const o = await ort.InferenceSession.create(QDQ, { intraOpNumThreads: 1 });
    const ortOut = (await o.run({ input: new ort.Tensor('float32', data, [1, 3, 224, 224]) }))[o.outputNames[0]!]!
      .data as Float32Array;
    // Measured: 0.9992 vs the reference, 0.9982 vs onnxruntime (which is itself 0.9978 from the reference).
    assert.ok(cosine(got, want) > 0.998, `cosine vs reference ${cosine(got, want)}`);
    assert.ok(cosine(got, ortOut) > 0.997, `cosine vs onnxruntime ${cosine(got, ortOut)}`);
    const top = (a: Float32Array): number => a.indexOf(Math.max(...a));
    assert.equal(top(got), top(ortOut), 'top-1 vs onnxruntime');
  },
);

test('grouped (not depthwise) QDQ convs stay on the float path and still compile', async () => {
  const b = new GraphBuilder('grouped');
  const x = b.input('input', 'float32', [1, 8, 5, 5]);
  b.randomInit('w0', [8, 4, 3, 3], 1, -0.5, 0.5);
  const c0 = b.node('Conv', [x, 'w0'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 2 }, { name: 'g2' });
  b.randomInit('w1', [6, 8, 1, 1], 2, -0.5, 0.5);
  const c1 = b.node('Conv', [c0, 'w1'], { kernel_shape: [1, 1] }, { name: 'pw' });
  b.randomInit('w2', [3, 6, 1, 1], 3, -0.5, 0.5);
  // The last conv has no QuantizeLinear after it (float output), so it stays float too.
  b.node('Conv', [c1, 'w2'], { kernel_shape: [1, 1] }, { name: 'last', outputs: ['output'] });
  b.output('output');
  const { model } = await quantizeModel(b.model(13), syntheticSamples([1, 8, 5, 5], 4), { method: 'minmax' });
  const ids = compileModel(model).steps.map((st) => st.kernelId);
  assert.ok(
    ids.some((id) => id.startsWith('qs8-gemm-')),
    ids.join(', '),
  );
  assert.ok(!ids.some((id) => id.startsWith('qs8-conv-')), ids.join(', '));
  const s = await createSession(model);
  const inp = syntheticSamples([1, 8, 5, 5], 1, 3)[0]!;
  const got = (await s.run({ input: inp }))['output']!.data as Float32Array;
  const want = runReference(model, { input: inp })['output']!.data as Float32Array;
  assert.ok(cosine(got, want) > 0.9999, `cosine ${cosine(got, want)}`);
});

/** A squeeze-and-excitation block, a channel split + concat + shuffle (ShuffleNet) and max pooling, quantized. */
function coverageModel(): Model {
  const b = new GraphBuilder('int8-coverage');
  const i64 = (name: string, v: number[]) =>
    b.init(name, makeTensor('int64', [v.length], BigInt64Array.from(v, BigInt)));
  const x = b.input('input', 'float32', [1, 3, 11, 11]);
  b.randomInit('w0', [10, 3, 3, 3], 1, -0.5, 0.5);
  const c0 = b.node('Conv', [x, 'w0'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'stem' });
  const r0 = b.node('Relu', [c0], {}, { name: 'stem_relu' });
  const mp = b.node('MaxPool', [r0], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { name: 'pool' });
  i64('s0', [0]);
  i64('s5', [5]);
  i64('s10', [10]);
  i64('ax', [1]);
  const x1 = b.node('Slice', [mp, 's0', 's5', 'ax'], {}, { name: 'half1' });
  const x2 = b.node('Slice', [mp, 's5', 's10', 'ax'], {}, { name: 'half2' });
  b.randomInit('w1', [5, 5, 1, 1], 2, -0.6, 0.6);
  const c1 = b.node('Conv', [x2, 'w1'], { kernel_shape: [1, 1] }, { name: 'pw' });
  const hs = b.node('HardSigmoid', [c1], { alpha: 1 / 6, beta: 0.5 }, { name: 'hsig' });
  const hw = b.node('Mul', [c1, hs], {}, { name: 'hswish' });
  const g = b.node('GlobalAveragePool', [hw], {}, { name: 'se_pool' });
  b.randomInit('w2', [3, 5, 1, 1], 3, -0.8, 0.8);
  b.randomInit('b2', [3], 4, -0.1, 0.1);
  const f1 = b.node(
    'Relu',
    [b.node('Conv', [g, 'w2', 'b2'], { kernel_shape: [1, 1] }, { name: 'se_fc1' })],
    {},
    { name: 'se_relu' },
  );
  b.randomInit('w3', [5, 3, 1, 1], 5, -0.8, 0.8);
  const f2 = b.node('Conv', [f1, 'w3'], { kernel_shape: [1, 1] }, { name: 'se_fc2' });
  const gate = b.node('HardSigmoid', [f2], { alpha: 1 / 6, beta: 0.5 }, { name: 'se_gate' });
  const se = b.node('Mul', [gate, hw], {}, { name: 'se_scale' });
  const cat = b.node('Concat', [x1, se], { axis: 1 }, { name: 'concat' });
  i64('shape5', [1, 2, 5, 6, 6]);
  i64('shape4', [1, 10, 6, 6]);
  const rs = b.node('Reshape', [cat, 'shape5'], {}, { name: 'shuffle_reshape' });
  const tr = b.node('Transpose', [rs], { perm: [0, 2, 1, 3, 4] }, { name: 'shuffle_transpose' });
  const sh = b.node('Reshape', [tr, 'shape4'], {}, { name: 'shuffle_back' });
  b.randomInit('w4', [4, 10, 1, 1], 6, -0.5, 0.5);
  b.node('Conv', [sh, 'w4'], { kernel_shape: [1, 1] }, { name: 'head', outputs: ['output'] });
  b.output('output');
  return b.model(13);
}

test('SE blocks, channel split/concat/shuffle and max pooling stay int8 and match the reference and onnxruntime', async () => {
  const { model } = await quantizeModel(coverageModel(), syntheticSamples([1, 3, 11, 11], 8), { method: 'minmax' });
  // The session optimizes first (x * HardSigmoid(x) becomes HardSwish, one table).
  const s = await createSession(model);
  const ids = s.steps.map((st) => st.kernelId);
  for (const want of ['qs8-maxpool-', 'qs8-gavgpool-', 'qs8-mul-', 'qs8-lut-', 'qs8-shuffle-g2-', 'qs8-copy-']) {
    assert.ok(
      ids.some((id) => id.startsWith(want)),
      `no ${want} step in ${ids.join(', ')}`,
    );
  }
  // Float only at the edges: the input's layout change and the head, whose output is not quantized.
  assert.deepEqual(
    s.steps
      .filter((st) => !st.kernelId.startsWith('qs8-') && !/^(js-|f32-nchw2nhwc|f32-nhwc2nchw)/.test(st.kernelId))
      .map((st) => st.nodeName),
    ['head'],
  );
  const bytes = Buffer.from(writeModel(model));
  const ort = (await import('onnxruntime-node')) as typeof import('onnxruntime-node');
  const o = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  for (const inp of syntheticSamples([1, 3, 11, 11], 3, 17)) {
    const got = (await s.run({ input: inp }))['output']!.data as Float32Array;
    const want = runReference(model, { input: inp })['output']!.data as Float32Array;
    const ortOut = (await o.run({ input: new ort.Tensor('float32', inp.data as Float32Array, [1, 3, 11, 11]) }))[
      'output'
    ]!.data as Float32Array;
    for (const [name, ref] of [
      ['reference', want],
      ['onnxruntime', ortOut],
    ] as const) {
      const scale = Math.max(...Array.from(ref, Math.abs));
      const maxDiff = Math.max(...Array.from(ref, (w, i) => Math.abs(w - got[i]!)));
      assert.ok(cosine(got, ref) > 0.999, `cosine vs ${name} ${cosine(got, ref)}`);
      assert.ok(maxDiff <= 0.03 * scale, `max |diff| vs ${name} ${maxDiff}, largest output ${scale}`);
    }
  }
});

test('a classifier head (Flatten, Gemm with transB 0 and 1) runs int8 up to its float logits', async () => {
  const b = new GraphBuilder('head');
  const x = b.input('input', 'float32', [2, 6, 5, 5]);
  b.randomInit('w0', [6, 6, 3, 3], 1, -0.5, 0.5);
  const c0 = b.node('Conv', [x, 'w0'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' });
  const g = b.node('GlobalAveragePool', [c0], {}, { name: 'gap' });
  const fl = b.node('Flatten', [g], { axis: 1 }, { name: 'flatten' });
  b.randomInit('w1', [6, 9], 2, -0.5, 0.5);
  b.randomInit('b1', [9], 3, -0.1, 0.1);
  const h = b.node('Relu', [b.node('Gemm', [fl, 'w1', 'b1'], {}, { name: 'fc1' })], {}, { name: 'relu' });
  b.randomInit('w2', [5, 9], 4, -0.5, 0.5);
  b.randomInit('b2', [5], 5, -0.1, 0.1);
  b.node('Gemm', [h, 'w2', 'b2'], { transB: 1 }, { name: 'fc2', outputs: ['output'] });
  b.output('output');
  const { model } = await quantizeModel(b.model(13), syntheticSamples([2, 6, 5, 5], 6), { method: 'minmax' });
  const s = await createSession(model);
  const byNode = new Map(s.steps.map((st) => [st.nodeName, st.kernelId]));
  assert.match(byNode.get('fc1') ?? '', /^qs8-gemm-/, [...byNode].join(', '));
  assert.match(byNode.get('fc2') ?? '', /^qs8-fc-f32-/, [...byNode].join(', '));
  assert.ok(!s.steps.some((st) => st.kernelId.startsWith('f32-gemm')), [...byNode].join(', '));
  const ort = (await import('onnxruntime-node')) as typeof import('onnxruntime-node');
  const o = await ort.InferenceSession.create(Buffer.from(writeModel(model)), { intraOpNumThreads: 1 });
  for (const inp of syntheticSamples([2, 6, 5, 5], 2, 31)) {
    const got = (await s.run({ input: inp }))['output']!.data as Float32Array;
    const want = runReference(model, { input: inp })['output']!.data as Float32Array;
    const ortOut = (await o.run({ input: new ort.Tensor('float32', inp.data as Float32Array, [2, 6, 5, 5]) }))[
      'output'
    ]!.data as Float32Array;
    for (const ref of [want, ortOut]) {
      const scale = Math.max(...Array.from(ref, Math.abs));
      const maxDiff = Math.max(...Array.from(ref, (w, i) => Math.abs(w - got[i]!)));
      assert.ok(maxDiff <= 1e-4 * scale + 1e-6, `max |diff| ${maxDiff}, largest output ${scale}`);
    }
  }
});
