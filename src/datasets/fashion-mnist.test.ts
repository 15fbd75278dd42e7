import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EdgecnnError } from '../ir/errors.js';
import {
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  findFashionMnist,
  imageBatch,
  loadFashionMnist,
  parseIdxImages,
  parseIdxLabels,
} from './fashion-mnist.js';

function idxImages(count: number, rows: number, cols: number, fill: (i: number) => number): Uint8Array {
  const b = new Uint8Array(16 + count * rows * cols);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x803);
  v.setUint32(4, count);
  v.setUint32(8, rows);
  v.setUint32(12, cols);
  for (let i = 0; i < count * rows * cols; i++) b[16 + i] = fill(i);
  return b;
}

test('IDX images and labels parse big-endian headers', () => {
  const img = parseIdxImages(idxImages(2, 3, 5, (i) => i));
  assert.deepEqual([img.count, img.rows, img.cols], [2, 3, 5]);
  assert.equal(img.pixels[29], 29);
  const lb = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9]);
  assert.deepEqual([...parseIdxLabels(lb)], [7, 0, 9]);
});

test('bad IDX magic and truncation are named errors', () => {
  const bad = idxImages(1, 2, 2, () => 0);
  bad[3] = 0x01;
  assert.throws(
    () => parseIdxImages(bad, 'x.idx'),
    (e: unknown) => e instanceof EdgecnnError && /x\.idx: bad IDX image magic 0x801/.test(e.message),
  );
  assert.throws(() => parseIdxImages(idxImages(3, 2, 2, () => 0).subarray(0, 20), 'y'), /truncated/);
  assert.throws(() => parseIdxLabels(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 5, 1]), 'l'), /truncated/);
});

test('imageBatch normalises as the training script does', () => {
  const img = parseIdxImages(idxImages(3, 2, 2, (i) => (i * 20) % 256));
  const ds = { ...img, labels: new Uint8Array(3) };
  const t = imageBatch(ds, 1, 5);
  assert.deepEqual(t.shape, [2, 1, 2, 2]);
  const p = 4 * 20;
  assert.ok(Math.abs((t.data as Float32Array)[0]! - (p / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD) < 1e-6);
});

test(
  'the real test split loads: 10,000 images, labels 0..9',
  { skip: findFashionMnist() === undefined && 'Fashion-MNIST not found in ../shared/datasets or /usr/share/datasets' },
  () => {
    const ds = loadFashionMnist('test');
    assert.equal(ds.count, 10000);
    assert.deepEqual([ds.rows, ds.cols], [28, 28]);
    const counts = new Array<number>(10).fill(0);
    for (const l of ds.labels) counts[l]!++;
    assert.deepEqual(counts, new Array(10).fill(1000), 'Fashion-MNIST test is balanced: 1000 per class');
  },
);
