import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { GraphBuilder, randomF32 } from '../ir/builder.js';
import { makeTensor } from '../ir/tensor.js';
import { loadModel, writeModel } from '../onnx/index.js';
import { runReference } from '../ops/reference-executor.js';
import { syntheticSamples } from '../datasets/calibration-source.js';
import { agreement } from './evaluate.js';
import { readQdqParams } from './qdq-import.js';
import { quantizeModel } from './quantize-model.js';
import { tinyQuantModel } from './testing.js';

const MODELS = resolve(process.cwd(), '../shared/models');
const QDQ = resolve(MODELS, 'mobilenet_v2.int8_qdq.onnx');

function f32File(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

test('readQdqParams finds our export: per-channel int8 weights and every conv runnable in int8', async () => {
  const { model } = await quantizeModel(tinyQuantModel(), syntheticSamples([1, 3, 12, 12], 4));
  const s = readQdqParams(model);
  const w1 = model.graph.nodes.find((n) => n.name === 'dw')!.inputs[1];
  const w = s.params.find((p) => p.tensor === w1)!;
  assert.equal(w.dtype, 'int8');
  assert.equal(w.constant, true);
  assert.equal(w.axis, 0);
  assert.equal(w.scales.length, 8);
  const names = s.integerOps.map((n) => n.name);
  // stem and branch_a feed a Relu that stays (their range is shared with a wider scale group), so not listed.
  for (const n of ['dw', 'pw', 'residual', 'concat', 'gap']) assert.ok(names.includes(n), `${n} in ${names.join(',')}`);
});

test('a QOperator model (QLinearConv, QLinearMatMul) runs on the reference and matches onnxruntime to 1 LSB', async () => {
  const b = new GraphBuilder('qop');
  const x = b.input('x', 'float32', [1, 3, 7, 5]);
  const sc = (n: string, v: number): string => b.init(n, makeTensor('float32', [], Float32Array.of(v)));
  const u8 = (n: string, v: number): string => b.init(n, makeTensor('uint8', [], Uint8Array.of(v)));
  const q = b.node('QuantizeLinear', [x, sc('xs', 0.02), u8('xz', 128)]);
  const wq = Int8Array.from(randomF32([4, 3, 3, 3], 11).data as Float32Array, (v) => Math.round(v * 100));
  b.init('w', makeTensor('int8', [4, 3, 3, 3], wq));
  b.init('ws', makeTensor('float32', [4], Float32Array.from([0.01, 0.02, 0.005, 0.03])));
  b.init('wz', makeTensor('int8', [4], new Int8Array(4)));
  b.init('bias', makeTensor('int32', [4], Int32Array.from([100, -50, 0, 7])));
  const y = b.node('QLinearConv', [q, 'xs', 'xz', 'w', 'ws', 'wz', sc('ys', 0.05), u8('yz', 120), 'bias'], {
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
  });
  const r = b.node('Reshape', [y, b.init('shape', makeTensor('int64', [2], BigInt64Array.from([28n, 5n])))]);
  b.init(
    'm',
    makeTensor(
      'uint8',
      [5, 6],
      Uint8Array.from({ length: 30 }, (_, i) => (i * 37) % 256),
    ),
  );
  const mm = b.node('QLinearMatMul', [r, 'ys', 'yz', 'm', sc('ms', 0.01), u8('mz', 100), sc('os', 0.1), u8('oz', 128)]);
  b.node('DequantizeLinear', [mm, 'os', 'oz'], {}, { outputs: ['out'] });
  b.output('out', 'float32', [28, 6]);
  const model = b.model(13);
  assert.equal(readQdqParams(model).qoperatorNodes.length, 2);
  const ort = (await import('onnxruntime-node')).default;
  const session = await ort.InferenceSession.create(writeModel(model), { logSeverityLevel: 3 });
  const input = syntheticSamples([1, 3, 7, 5], 1, 5)[0]!;
  const ours = runReference(model, { x: input })['out']!.data as Float32Array;
  const theirs = (await session.run({ x: new ort.Tensor('float32', input.data as Float32Array, [1, 3, 7, 5]) }))['out']!
    .data as Float32Array;
  let maxLsb = 0;
  for (let i = 0; i < ours.length; i++) maxLsb = Math.max(maxLsb, Math.abs(ours[i]! - theirs[i]!) / 0.1);
  assert.ok(maxLsb <= 1 + 1e-6, `max difference ${maxLsb} LSB`);
});

test(
  'importing mobilenet_v2.int8_qdq.onnx (another tool): the reference executor agrees with onnxruntime-node',
  { skip: !existsSync(QDQ) && `${QDQ} not found` },
  async () => {
    const model = await loadModel(QDQ);
    const s = readQdqParams(model);
    const weights = s.params.filter((p) => p.constant && p.dtype === 'int8');
    assert.ok(
      weights.filter((p) => p.axis === 0 && p.scales.length > 1).length >= 52,
      `${weights.length} int8 weights, want 52 per-channel conv weights`,
    );
    assert.ok(s.params.some((p) => !p.constant && p.dtype === 'uint8'));
    const x = f32File(resolve(MODELS, 'mobilenet_v2.input.f32'));
    const ours = runReference(model, { input: makeTensor('float32', [1, 3, 224, 224], x) })['output']!;
    const ort = (await import('onnxruntime-node')).default;
    const session = await ort.InferenceSession.create(writeModel(model), { logSeverityLevel: 3, intraOpNumThreads: 1 });
    const theirs = (await session.run({ input: new ort.Tensor('float32', x, [1, 3, 224, 224]) }))['output']!;
    // onnxruntime runs integer kernels, we run the QDQ semantics in float: requantization rounding differs by
    // one LSB here and there, which this random-weight network amplifies; measured cosine 0.9978.
    const a = agreement(ours, makeTensor('float32', [1, 1000], theirs.data as Float32Array));
    assert.ok(a.cosine > 0.99, `cosine ${a.cosine}`);
    // The two top logits are nearly tied on this input (fp32: 359 then 743), so compare the top-5 sets.
    const top5 = (d: ArrayLike<number>): number[] =>
      Array.from(d, (v, i) => [v, i] as const)
        .sort((p, q) => q[0] - p[0])
        .slice(0, 5)
        .map((p) => p[1]);
    const mine = top5(ours.data as Float32Array);
    const overlap = top5(theirs.data as Float32Array).filter((i) => mine.includes(i)).length;
    assert.ok(overlap >= 4, `top-5 overlap ${overlap}`);
  },
);
