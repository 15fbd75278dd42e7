/**
 * Fashion-MNIST: the standard IDX files (gzip or plain), big-endian headers (0x00000803 images: count, rows,
 * cols; 0x00000801 labels: count) then unsigned bytes. Images become float32 NCHW [N, 1, 28, 28] with the
 * normalisation the fixture model was trained with (scripts/train-fashion-mnist.py): (p / 255 - 0.2860) / 0.3530.
 * The folder is looked up as ../shared/datasets/fashion-mnist (relative to the working directory) and then
 * /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist package).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { EdgecnnError } from '../ir/errors.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';

/** Normalisation of the fixture model's input (mean and std of the training pixels in 0..1). */
export const FASHION_MNIST_MEAN = 0.286;
export const FASHION_MNIST_STD = 0.353;

/** Calibration samples come from the first this-many training images; the rest form a validation split. */
export const FASHION_MNIST_CALIBRATION_IMAGES = 50000;

/** Class names in label order. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export const FASHION_MNIST_SPLITS = ['train', 'test'] as const;
export type FashionMnistSplit = (typeof FASHION_MNIST_SPLITS)[number];

/** One split held as raw bytes: `count` images of rows x cols pixels and their labels. */
export interface IdxDataset {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
  labels: Uint8Array;
}

const FILES: Record<FashionMnistSplit, [string, string]> = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
};

/** Folders searched for the dataset, in order, relative to `cwd`. */
export function fashionMnistCandidates(cwd = process.cwd()): string[] {
  return [resolve(cwd, '../shared/datasets/fashion-mnist'), '/usr/share/datasets/fashion-mnist'];
}

/** The first candidate folder holding the dataset, or undefined. */
export function findFashionMnist(cwd = process.cwd()): string | undefined {
  return fashionMnistCandidates(cwd).find((d) =>
    FILES.test.every((f) => existsSync(join(d, f + '.gz')) || existsSync(join(d, f))),
  );
}

function readMaybeGz(dir: string, base: string): Uint8Array {
  const gz = join(dir, base + '.gz');
  const plain = join(dir, base);
  const path = existsSync(gz) ? gz : plain;
  if (!existsSync(path))
    throw new EdgecnnError(`Fashion-MNIST file '${base}(.gz)' not found in ${dir}`, 'missing-file');
  const raw = new Uint8Array(readFileSync(path));
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  try {
    return new Uint8Array(gunzipSync(raw));
  } catch (e) {
    throw new EdgecnnError(`${path}: corrupt gzip data (${(e as Error).message})`, 'bad-input');
  }
}

/** Parse an IDX image file (magic 0x803). */
export function parseIdxImages(
  bytes: Uint8Array,
  where = 'IDX images',
): { count: number; rows: number; cols: number; pixels: Uint8Array } {
  if (bytes.length < 16) throw new EdgecnnError(`${where}: too short for an IDX image header`, 'bad-input');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0);
  if (magic !== 0x803)
    throw new EdgecnnError(`${where}: bad IDX image magic 0x${magic.toString(16)} (want 0x803)`, 'bad-input');
  const count = v.getUint32(4);
  const rows = v.getUint32(8);
  const cols = v.getUint32(12);
  const need = 16 + count * rows * cols;
  if (bytes.length < need)
    throw new EdgecnnError(`${where}: truncated (${bytes.length} bytes, header says ${need})`, 'bad-input');
  return { count, rows, cols, pixels: bytes.subarray(16, need) };
}

/** Parse an IDX label file (magic 0x801). */
export function parseIdxLabels(bytes: Uint8Array, where = 'IDX labels'): Uint8Array {
  if (bytes.length < 8) throw new EdgecnnError(`${where}: too short for an IDX label header`, 'bad-input');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0);
  if (magic !== 0x801)
    throw new EdgecnnError(`${where}: bad IDX label magic 0x${magic.toString(16)} (want 0x801)`, 'bad-input');
  const count = v.getUint32(4);
  if (bytes.length < 8 + count)
    throw new EdgecnnError(`${where}: truncated (${bytes.length} bytes, header says ${8 + count})`, 'bad-input');
  return bytes.subarray(8, 8 + count);
}

/**
 * Load one split. `dir` defaults to the first folder of `fashionMnistCandidates()`; a clear error names every
 * folder tried when none has the files.
 */
export function loadFashionMnist(split: FashionMnistSplit, dir?: string): IdxDataset {
  const d = dir ?? findFashionMnist();
  if (d === undefined) {
    throw new EdgecnnError(
      `Fashion-MNIST not found; looked in ${fashionMnistCandidates().join(' and ')} (apt-get install dataset-fashion-mnist provides the second)`,
      'missing-file',
    );
  }
  const [imgBase, lblBase] = FILES[split];
  const img = parseIdxImages(readMaybeGz(d, imgBase), join(d, imgBase));
  const labels = parseIdxLabels(readMaybeGz(d, lblBase), join(d, lblBase));
  if (labels.length !== img.count) {
    throw new EdgecnnError(`Fashion-MNIST ${split}: ${img.count} images but ${labels.length} labels`, 'bad-input');
  }
  return { ...img, labels };
}

/** Images [start, start+count) as one normalised float32 batch [count, 1, rows, cols]. */
export function imageBatch(ds: IdxDataset, start: number, count: number): Tensor {
  const n = Math.max(0, Math.min(count, ds.count - start));
  const plane = ds.rows * ds.cols;
  const out = new Float32Array(n * plane);
  const src = ds.pixels.subarray(start * plane, (start + n) * plane);
  for (let i = 0; i < src.length; i++) out[i] = (src[i]! / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD;
  return makeTensor('float32', [n, 1, ds.rows, ds.cols], out);
}

/** The images at `indices`, one [1, 1, rows, cols] tensor each. */
export function imagesAt(ds: IdxDataset, indices: readonly number[]): Tensor[] {
  return indices.map((i) => imageBatch(ds, i, 1));
}
