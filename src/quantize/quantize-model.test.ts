import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { writeModel } from '../onnx/index.js';
import { runReference } from '../ops/reference-executor.js';
import { syntheticSamples } from '../datasets/calibration-source.js';
import { agreement } from './evaluate.js';
import { buildQdqModel, calibrateModel, quantizeModel, quantizeWeight } from './quantize-model.js';
import { tinyQuantModel } from './testing.js';
import { makeTensor } from '../ir/tensor.js';
import { GraphBuilder } from '../ir/builder.js';
import { findLayers } from './layers.js';

const samples = syntheticSamples([1, 3, 12, 12], 12);
const probe = syntheticSamples([1, 3, 12, 12], 3, 777);

function outputs(model: Model, xs: readonly Tensor[]): Tensor[] {
  return xs.map((x) => runReference(model, { input: x })['output']!);
}

function scaleOf(m: Model, tensor: string): { scale: number; zp: number } {
  const q = m.graph.nodes.find((n) => n.opType === 'QuantizeLinear' && n.inputs[0] === tensor);
  assert.ok(q, `tensor '${tensor}' should be quantized`);
  return {
    scale: Number(m.graph.initializers.get(q.inputs[1]!)!.data[0]),
    zp: Number(m.graph.initializers.get(q.inputs[2]!)!.data[0]),
  };
}

/** The quantized tensor and scale behind input `index` of node `nodeName` (read through its DequantizeLinear). */
function dqInput(m: Model, nodeName: string, index: number): { q: Tensor; scale: Tensor } {
  const g = m.graph;
  const x = g.nodes.find((n) => n.name === nodeName)!.inputs[index]!;
  const dq = g.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === x);
  assert.ok(dq, `input ${index} of '${nodeName}' should come from a DequantizeLinear`);
  return { q: g.initializers.get(dq.inputs[0]!)!, scale: g.initializers.get(dq.inputs[1]!)! };
}

test('every method gives a QDQ model close to float on unseen inputs', async () => {
  const cal = await calibrateModel(tinyQuantModel(), samples);
  const want = outputs(cal.model, probe);
  for (const method of ['minmax', 'percentile', 'mse', 'entropy'] as const) {
    const got = outputs(buildQdqModel(cal, { method }).model, probe);
    for (let i = 0; i < probe.length; i++) {
      const a = agreement(want[i]!, got[i]!);
      assert.ok(a.cosine > 0.99, `${method}: cosine ${a.cosine}`);
    }
  }
});

test('structure: int8 per-channel weights, int32 biases, clamp folded into a zero-point-at-qmin range', async () => {
  const { model, layers } = await quantizeModel(tinyQuantModel(), samples, { method: 'minmax' });
  const g = model.graph;
  const w1 = dqInput(model, 'dw', 1);
  const b1 = dqInput(model, 'dw', 2);
  assert.equal(w1.q.dtype, 'int8');
  assert.deepEqual(w1.scale.shape, [8]);
  assert.equal(b1.q.dtype, 'int32');
  assert.ok(!g.initializers.has('w1'), 'the float weight is dropped');
  // dw's Clip(0, 6) is enforced by the quantizer: removed, zero point 0 (uint8 qmin).
  assert.ok(!g.nodes.some((n) => n.name === 'dw_relu6'));
  assert.equal(layers.find((l) => l.name === 'dw')!.clampFolded, true);
  const dwOut = tinyQuantModel().graph.nodes.find((n) => n.name === 'dw_relu6')!.outputs[0]!;
  assert.equal(scaleOf(model, dwOut).zp, 0);
  // Bias scale = input scale * weight scale per channel.
  const inS = scaleOf(model, tinyQuantModel().graph.nodes.find((n) => n.name === 'stem_relu')!.outputs[0]!).scale;
  const bs = b1.scale.data as Float32Array;
  const ws = w1.scale.data as Float32Array;
  assert.equal(bs[3], Math.fround(inS * ws[3]!));
});

test('Concat inputs and output share parameters; Add inputs share parameters', async () => {
  const src = tinyQuantModel();
  const { model } = await quantizeModel(src, samples, { method: 'percentile' });
  const byName = (n: string): string => src.graph.nodes.find((x) => x.name === n)!.outputs[0]!;
  const cat = [byName('branch_a_relu'), byName('branch_b'), byName('concat')].map((t) => scaleOf(model, t));
  assert.deepEqual(cat[0], cat[2]);
  assert.deepEqual(cat[1], cat[2]);
  const add = [byName('stem_relu'), byName('pw')].map((t) => scaleOf(model, t));
  assert.deepEqual(add[0], add[1]);
  const own = await quantizeModel(src, samples, { method: 'percentile', unifyAddScales: false });
  assert.notDeepEqual(scaleOf(own.model, byName('stem_relu')), scaleOf(own.model, byName('pw')));
});

test('onnxruntime-node runs the QDQ export and agrees with the reference executor on it', async () => {
  const ort = (await import('onnxruntime-node')).default;
  for (const activations of ['uint8', 'int8'] as const) {
    const { model } = await quantizeModel(tinyQuantModel(), samples, { method: 'mse', activations });
    const session = await ort.InferenceSession.create(writeModel(model), { logSeverityLevel: 3 });
    for (const x of probe) {
      const ours = runReference(model, { input: x })['output']!;
      const theirs = (await session.run({ input: new ort.Tensor('float32', x.data as Float32Array, [1, 3, 12, 12]) }))[
        'output'
      ]!;
      const a = agreement(ours, makeTensor('float32', [1, 5], theirs.data as Float32Array));
      // Both compute in int8 with identical parameters; only float rounding of the requantization may differ.
      assert.ok(a.maxAbsDiff < 2e-2, `${activations}: max |diff| ${a.maxAbsDiff}`);
      assert.ok(a.cosine > 0.9999, `${activations}: cosine ${a.cosine}`);
    }
  }
});

test('bias correction removes the mean output shift from weight rounding', async () => {
  // Weight-only quantization isolates the effect: the corrected model's mean error per output is smaller.
  const cal = await calibrateModel(tinyQuantModel(), samples);
  const want = outputs(cal.model, samples);
  const meanErr = (bc: boolean): number => {
    const got = outputs(buildQdqModel(cal, { quantizeActivations: false, biasCorrection: bc }).model, samples);
    const e = new Float64Array(5);
    got.forEach((g, i) => g.data.forEach((v, k) => (e[k]! += (Number(v) - Number(want[i]!.data[k])) / samples.length)));
    return Math.hypot(...e);
  };
  assert.ok(meanErr(true) < meanErr(false), `corrected ${meanErr(true)} vs uncorrected ${meanErr(false)}`);
});

test('fp32 layers stay float; per-tensor weights have one scale', async () => {
  const cal = await calibrateModel(tinyQuantModel(), samples);
  const r = buildQdqModel(cal, { fp32Layers: ['pw', 'fc'], perChannel: false });
  const pw = r.model.graph.nodes.find((n) => n.name === 'pw')!;
  assert.equal(pw.inputs[1], 'w2', 'pw keeps its float weight');
  assert.equal(r.layers.find((l) => l.name === 'fc')!.quantized, false);
  assert.deepEqual(dqInput(r.model, 'dw', 1).scale.shape, []);
  assert.throws(
    () => buildQdqModel(cal, { fp32Layers: ['nope'] }),
    (e: unknown) => e instanceof EdgecnnError && /'nope' is not a quantizable layer/.test(e.message),
  );
});

test('symmetric weights: |q| <= 127 and the largest weight maps to +-127', () => {
  const w = makeTensor('float32', [2, 3], Float32Array.from([0.5, -1, 0.25, 0, 0, 0]));
  const { q, scales } = quantizeWeight(w, 0, true);
  assert.deepEqual([...q], [64, -127, 32, 0, 0, 0]);
  assert.equal(scales[1], 1);
});

test('opset 12: per-tensor weights and scalar bias scales (no per-axis DequantizeLinear), which onnxruntime runs; opset 9 is refused', async () => {
  const m12 = tinyQuantModel();
  m12.opsetImports = m12.opsetImports.map((o) => (o.domain === '' ? { ...o, version: 12 } : o));
  const r = await quantizeModel(m12, samples);
  assert.match(r.notes.join('\n'), /opset 12 has no per-axis DequantizeLinear/);
  assert.ok(r.model.graph.nodes.filter((n) => n.opType === 'DequantizeLinear').every((n) => !n.attributes.has('axis')));
  const ort = (await import('onnxruntime-node')).default;
  const session = await ort.InferenceSession.create(writeModel(r.model), { logSeverityLevel: 3 });
  const x = probe[0]!;
  const theirs = (await session.run({ input: new ort.Tensor('float32', x.data as Float32Array, [1, 3, 12, 12]) }))[
    'output'
  ]!;
  const a = agreement(
    runReference(r.model, { input: x })['output']!,
    makeTensor('float32', [1, 5], theirs.data as Float32Array),
  );
  assert.ok(a.cosine > 0.9999, `cosine ${a.cosine}`);
  const m9 = tinyQuantModel();
  m9.opsetImports = m9.opsetImports.map((o) => (o.domain === '' ? { ...o, version: 9 } : o));
  await assert.rejects(quantizeModel(m9, samples.slice(0, 2)), /need opset 10 or later; this model imports opset 9/);
});

test('a product of two activations (SE scale) is a layer, x * gate(x) is not; every reader of a quantized tensor reads it dequantized', async () => {
  const b = new GraphBuilder('se');
  const x = b.input('input', 'float32', [1, 3, 6, 6]);
  b.randomInit('w0', [4, 3, 1, 1], 1, -0.5, 0.5);
  const c0 = b.node('Conv', [x, 'w0'], { kernel_shape: [1, 1] }, { name: 'c0' });
  const sg = b.node('Sigmoid', [c0], {}, { name: 'sig' });
  const silu = b.node('Mul', [c0, sg], {}, { name: 'silu' });
  const g = b.node('GlobalAveragePool', [silu], {}, { name: 'gap' });
  b.randomInit('w1', [4, 4, 1, 1], 2, -0.5, 0.5);
  const gate = b.node(
    'Sigmoid',
    [b.node('Conv', [g, 'w1'], { kernel_shape: [1, 1] }, { name: 'fc' })],
    {},
    { name: 'gate' },
  );
  b.node('Mul', [silu, gate], {}, { name: 'se', outputs: ['output'] });
  b.output('output');
  const layers = findLayers(b.model(13).graph).map((l) => l.name);
  assert.ok(layers.includes('se') && !layers.includes('silu'), layers.join(', '));
  const { model } = await quantizeModel(b.model(13), syntheticSamples([1, 3, 6, 6], 4), { method: 'minmax' });
  const quantized = new Set(model.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.inputs[0]!));
  for (const t of ['silu', 'gate'].map((name) => b.model(13).graph.nodes.find((n) => n.name === name)!.outputs[0]!)) {
    assert.ok(quantized.has(t), `${t} should be quantized`);
    const readers = model.graph.nodes.filter((n) => n.inputs.includes(t)).map((n) => n.opType);
    assert.deepEqual(readers, ['QuantizeLinear'], `${t} is read by ${readers.join(', ')}`);
  }
});
