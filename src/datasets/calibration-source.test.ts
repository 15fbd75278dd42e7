import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTensor } from '../ir/tensor.js';
import { writeNpy } from '../io/npy.js';
import { tinyQuantModel } from '../quantize/testing.js';
import { loadCalibrationSamples, stackSamples, syntheticSamples } from './calibration-source.js';

test('synthetic samples are seeded, standard normal, of the input shape (symbolic batch -> 1)', () => {
  const a = loadCalibrationSamples(tinyQuantModel('N'), 'synthetic:3');
  const b = loadCalibrationSamples(tinyQuantModel(1), 'synthetic:3');
  assert.equal(a.length, 3);
  assert.deepEqual(a[0]!.shape, [1, 3, 12, 12]);
  assert.deepEqual([...a[2]!.data], [...b[2]!.data]);
  const big = syntheticSamples([20000], 1)[0]!.data as Float32Array;
  const mean = big.reduce((s, v) => s + v, 0) / big.length;
  const sd = Math.sqrt(big.reduce((s, v) => s + (v - mean) ** 2, 0) / big.length);
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(sd - 1) < 0.03, `mean ${mean}, sd ${sd}`);
});

test('.npy batches split along axis 0; a wrong shape is a named error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgecnn-cal-'));
  const data = Float32Array.from({ length: 2 * 3 * 12 * 12 }, (_, i) => i);
  writeFileSync(join(dir, 'ok.npy'), writeNpy(makeTensor('float32', [2, 3, 12, 12], data)));
  const s = loadCalibrationSamples(tinyQuantModel(), join(dir, 'ok.npy'));
  assert.equal(s.length, 2);
  assert.equal((s[1]!.data as Float32Array)[0], 3 * 12 * 12);
  writeFileSync(join(dir, 'bad.npy'), writeNpy(makeTensor('float32', [2, 3, 10, 12], new Float32Array(720))));
  assert.throws(
    () => loadCalibrationSamples(tinyQuantModel(), join(dir, 'bad.npy')),
    /2x3x10x12 does not hold samples of the input shape 1x3x12x12/,
  );
  assert.throws(() => loadCalibrationSamples(tinyQuantModel(), join(dir, 'missing.npy')), /is not synthetic\[:N\]/);
  assert.throws(() => loadCalibrationSamples(tinyQuantModel(), 'synthetic:0'), /positive integer/);
  assert.throws(() => loadCalibrationSamples(tinyQuantModel(), dir), /holds no \.png/);
});

test('stackSamples batches along axis 0', () => {
  const s = syntheticSamples([1, 2], 5);
  const b = stackSamples(s, 2);
  assert.deepEqual(
    b.map((t) => t.shape[0]),
    [2, 2, 1],
  );
  assert.deepEqual([...b[1]!.data.slice(2)], [...s[3]!.data]);
});
