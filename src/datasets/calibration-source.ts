/**
 * Calibration samples from a source string: `synthetic[:N]` (seeded standard-normal tensors, default 8),
 * `fashion-mnist[:N]` (N training images spread over the first 50,000, default 512; never test images), a `.npy` file (batch
 * along axis 0, or one sample of the input's shape) or a folder of PNG/JPEG images (resized and normalised as
 * the model's input: ImageNet mean/std for 3 channels, Fashion-MNIST's for 1 channel). Every sample has the
 * model input's concrete shape, with a symbolic batch taken as 1.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { seededRandom } from '../ir/builder.js';
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { type Tensor, makeTensor, sizeOf } from '../ir/tensor.js';
import { IMAGENET_NORMALIZATION, decodeImage, imageToTensor } from '../io/image.js';
import { readNpy } from '../io/npy.js';
import { runtimeInputs } from '../ops/reference-executor.js';
import {
  FASHION_MNIST_CALIBRATION_IMAGES,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  imageBatch,
  loadFashionMnist,
} from './fashion-mnist.js';

/** The model's single input: name and concrete per-sample shape (symbolic batch -> 1). */
export function sampleShape(model: Model): { name: string; shape: number[] } {
  const inputs = runtimeInputs(model.graph);
  if (inputs.length !== 1)
    throw new EdgecnnError(`calibration needs a model with one input, this one has ${inputs.length}`, 'bad-model');
  const vi = model.graph.inputs.find((i) => i.name === inputs[0]!.name)!;
  if (!vi.shape) throw new EdgecnnError(`input '${vi.name}' has no declared shape; calibration needs one`, 'bad-model');
  const shape = vi.shape.map((d, i) => {
    if (typeof d === 'number') return d;
    if (i === 0) return 1;
    throw new EdgecnnError(
      `input '${vi.name}' has a symbolic dimension ${i} ('${String(d)}'); calibration needs concrete sizes`,
      'bad-model',
    );
  });
  return { name: vi.name, shape };
}

/** Standard-normal samples (Box-Muller over a seeded generator). */
export function syntheticSamples(shape: readonly number[], count: number, seed = 1234): Tensor[] {
  const rnd = seededRandom(seed);
  const out: Tensor[] = [];
  for (let s = 0; s < count; s++) {
    const v = new Float32Array(sizeOf(shape));
    for (let i = 0; i < v.length; i += 2) {
      const u = Math.max(rnd(), 1e-12);
      const r = Math.sqrt(-2 * Math.log(u));
      const a = 2 * Math.PI * rnd();
      v[i] = r * Math.cos(a);
      if (i + 1 < v.length) v[i + 1] = r * Math.sin(a);
    }
    out.push(makeTensor('float32', shape, v));
  }
  return out;
}

function countSuffix(spec: string, prefix: string, dflt: number): number | undefined {
  if (spec === prefix) return dflt;
  if (!spec.startsWith(prefix + ':')) return undefined;
  const n = Number(spec.slice(prefix.length + 1));
  if (!Number.isInteger(n) || n < 1)
    throw new EdgecnnError(`'${spec}': the sample count must be a positive integer`, 'bad-argument');
  return n;
}

/** Split a [N, ...shape] tensor into N samples of `shape` (or accept one sample of exactly `shape`). */
function splitBatch(t: Tensor, shape: readonly number[], where: string): Tensor[] {
  const per = sizeOf(shape);
  const same = t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
  const batched =
    t.shape.length === shape.length && shape[0] === 1 && t.shape.slice(1).every((d, i) => d === shape[i + 1]);
  const stacked = t.shape.length === shape.length + 1 && t.shape.slice(1).every((d, i) => d === shape[i]);
  if (!same && !batched && !stacked) {
    throw new EdgecnnError(
      `${where}: array of shape ${t.shape.join('x')} does not hold samples of the input shape ${shape.join('x')}`,
      'bad-input',
    );
  }
  let data: Float32Array;
  if (t.dtype === 'float32') data = t.data as Float32Array;
  else if (t.dtype === 'float64') data = Float32Array.from(t.data as Float64Array);
  else throw new EdgecnnError(`${where}: calibration arrays must be float32 or float64, got ${t.dtype}`, 'bad-input');
  const n = data.length / per;
  const out: Tensor[] = [];
  for (let i = 0; i < n; i++) out.push(makeTensor('float32', shape, data.slice(i * per, (i + 1) * per)));
  return out;
}

function imageFolderSamples(dir: string, shape: readonly number[], limit: number): Tensor[] {
  if (shape.length !== 4 || (shape[1] !== 3 && shape[1] !== 1)) {
    throw new EdgecnnError(
      `a folder of images needs a model input of shape Nx3xHxW or Nx1xHxW, not ${shape.join('x')}`,
      'bad-input',
    );
  }
  const files = readdirSync(dir)
    .filter((f) => ['.png', '.jpg', '.jpeg'].includes(extname(f).toLowerCase()))
    .sort()
    .slice(0, limit);
  if (files.length === 0)
    throw new EdgecnnError(`calibration folder '${dir}' holds no .png/.jpg/.jpeg images`, 'bad-input');
  const [, C, H, W] = shape as [number, number, number, number];
  return files.map((f) => {
    const img = decodeImage(new Uint8Array(readFileSync(join(dir, f))), join(dir, f));
    if (C === 3) return imageToTensor(img, { width: W, height: H, ...IMAGENET_NORMALIZATION });
    // Grey models (Fashion-MNIST style): luminance of the resized RGB image, Fashion-MNIST normalisation.
    const rgb = imageToTensor(img, { width: W, height: H, mean: [0, 0, 0], std: [1, 1, 1] }).data as Float32Array;
    const g = new Float32Array(H * W);
    for (let i = 0; i < g.length; i++) {
      const y = 0.299 * rgb[i]! + 0.587 * rgb[H * W + i]! + 0.114 * rgb[2 * H * W + i]!;
      g[i] = (y - FASHION_MNIST_MEAN) / FASHION_MNIST_STD;
    }
    return makeTensor('float32', [1, 1, H, W], g);
  });
}

/** Load calibration samples for `model` from a source string (see the file comment). */
export function loadCalibrationSamples(model: Model, source: string, options: { limit?: number } = {}): Tensor[] {
  const { shape } = sampleShape(model);
  const syn = countSuffix(source, 'synthetic', 8);
  if (syn !== undefined) return syntheticSamples(shape, options.limit ?? syn);
  const fm = countSuffix(source, 'fashion-mnist', 512);
  if (fm !== undefined) {
    const n = options.limit ?? fm;
    if (shape.length !== 4 || shape[1] !== 1 || shape[2] !== 28 || shape[3] !== 28) {
      throw new EdgecnnError(
        `fashion-mnist calibration needs a model input of shape Nx1x28x28, not ${shape.join('x')}`,
        'bad-input',
      );
    }
    const ds = loadFashionMnist('train');
    // Spread over the calibration part of the training set (stride), deterministically; the last 10,000
    // training images stay unseen (the fashion-mnist-val evaluation split).
    const pool = Math.min(ds.count, FASHION_MNIST_CALIBRATION_IMAGES);
    const stride = Math.max(1, Math.floor(pool / n));
    return Array.from({ length: Math.min(n, pool) }, (_, i) => imageBatch(ds, i * stride, 1));
  }
  if (!existsSync(source)) {
    throw new EdgecnnError(
      `calibration source '${source}' is not synthetic[:N], fashion-mnist[:N], an existing .npy file or a folder of images`,
      'missing-file',
    );
  }
  if (statSync(source).isDirectory()) return imageFolderSamples(source, shape, options.limit ?? 1000);
  if (extname(source).toLowerCase() === '.npy') {
    const all = splitBatch(readNpy(new Uint8Array(readFileSync(source)), source), shape, source);
    return options.limit !== undefined ? all.slice(0, options.limit) : all;
  }
  throw new EdgecnnError(`calibration source '${source}': expected a .npy file or a folder of images`, 'bad-argument');
}

/** Stack samples of shape [1, ...] into batches of up to `batch` along axis 0 (for models with a symbolic batch). */
export function stackSamples(samples: readonly Tensor[], batch: number): Tensor[] {
  const out: Tensor[] = [];
  for (let i = 0; i < samples.length; i += batch) {
    const part = samples.slice(i, i + batch);
    const per = part[0]!.data.length;
    const data = new Float32Array(per * part.length);
    part.forEach((t, k) => data.set(t.data as Float32Array, k * per));
    out.push(makeTensor('float32', [part.length, ...part[0]!.shape.slice(1)], data));
  }
  return out;
}
