/**
 * A small CNN written as an ONNX file, for tests of the bench and profile tools: Conv 3x3 + Relu, a 1x1 Conv,
 * GlobalAveragePool, Flatten, Gemm. `size` scales the spatial extent so a test can pick its run time; the
 * weights are seeded, so two calls with the same options write byte-identical files.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../ir/builder.js';
import type { Model } from '../ir/graph.js';
import { writeModel } from '../onnx/index.js';

export function tinyCnn(opts: { size?: number; channels?: number; seed?: number } = {}): Model {
  const s = opts.size ?? 24;
  const c = opts.channels ?? 8;
  const seed = opts.seed ?? 1;
  const b = new GraphBuilder('tiny_cnn');
  const x = b.input('input', 'float32', [1, 3, s, s]);
  const w1 = b.randomInit('w1', [c, 3, 3, 3], seed, -0.3, 0.3);
  const b1 = b.randomInit('b1', [c], seed + 1, -0.1, 0.1);
  const y1 = b.node('Conv', [x, w1, b1], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv1' });
  const r1 = b.node('Relu', [y1], {}, { name: 'relu1' });
  const w2 = b.randomInit('w2', [2 * c, c, 1, 1], seed + 2, -0.3, 0.3);
  const y2 = b.node('Conv', [r1, w2], { kernel_shape: [1, 1] }, { name: 'conv2' });
  const p = b.node('GlobalAveragePool', [y2], {}, { name: 'pool' });
  const f = b.node('Flatten', [p], { axis: 1 }, { name: 'flatten' });
  const w3 = b.randomInit('w3', [10, 2 * c], seed + 3, -0.3, 0.3);
  const b3 = b.randomInit('b3', [10], seed + 4, -0.1, 0.1);
  const out = b.node('Gemm', [f, w3, b3], { transB: 1 }, { name: 'fc', outputs: ['output'] });
  b.output(out, 'float32', [1, 10]);
  return b.model(13);
}

/** Write tinyCnn(opts) to a fresh temporary folder and return the file path. */
export function writeTinyCnn(opts: Parameters<typeof tinyCnn>[0] = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgecnn-bench-'));
  const path = join(dir, 'tiny_cnn.onnx');
  writeFileSync(path, writeModel(tinyCnn(opts)));
  return path;
}
