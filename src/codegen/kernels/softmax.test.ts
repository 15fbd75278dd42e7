import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from '../../ir/graph.js';
import { f32 } from '../../ir/tensor.js';
import { getOp } from '../../ops/registry.js';
import { maxToleranceRatio, randomFloats, runKernel } from './kernel-harness.js';
import { type SoftmaxSpec, softmax } from './softmax.js';

const node: Node = { name: 's', opType: 'Softmax', domain: '', inputs: ['x'], outputs: ['y'], attributes: new Map() };

for (const log of [false, true])
  for (const [rows, cols] of [
    [1, 1],
    [2, 3],
    [1, 4],
    [3, 5],
    [1, 16],
    [2, 17],
    [1, 33],
    [1, 1000],
    [2, 1001],
    [1, 70],
  ] as const) {
    test(`${log ? 'log' : ''}softmax ${rows}x${cols} matches the reference on strided rows, also in place`, () => {
      // a wide range: large logits must not overflow (max subtraction), tiny probabilities stay accurate
      const x = randomFloats(rows * cols, cols, -60, 60);
      const op = getOp('', log ? 'LogSoftmax' : 'Softmax')!;
      const want = op.reference([f32([rows, cols], x)], { node: { ...node, opType: op.opType }, opset: 13 })[0]!
        .data as Float32Array;
      const si = cols + 3;
      const so = cols + 1;
      const strided = new Float32Array(rows * si).fill(NaN);
      for (let r = 0; r < rows; r++) strided.set(x.subarray(r * cols, (r + 1) * cols), r * si);
      const spec: SoftmaxSpec = { rows, cols, log };
      for (const v of softmax.variants) {
        const run = runKernel(
          { x: { floats: rows * si, init: strided }, y: { floats: rows * so } },
          softmax.parallelExtent(spec, v),
          (fn, a) =>
            softmax.emit(fn, spec, v, {
              input: { addrBytes: a['x']!, pixelStride: si },
              output: { addrBytes: a['y']!, pixelStride: so },
            }),
          2,
        );
        assert.deepEqual(run.guardViolations, []);
        const y = run.buffers['y']!;
        const got = new Float32Array(rows * cols);
        for (let r = 0; r < rows; r++) {
          got.set(y.subarray(r * so, r * so + cols), r * cols);
          assert.ok(Number.isNaN(y[r * so + cols]!), 'wrote past the row');
        }
        const ratio = maxToleranceRatio(got, want, 1e-7, 2e-6);
        assert.ok(ratio <= 1, `${softmax.id(spec, v)}: error ratio ${ratio}`);

        const inPlace = runKernel({ x: { floats: rows * cols, init: x } }, softmax.parallelExtent(spec, v), (fn, a) =>
          softmax.emit(fn, spec, v, {
            input: { addrBytes: a['x']!, pixelStride: cols },
            output: { addrBytes: a['x']!, pixelStride: cols },
          }),
        );
        assert.ok(maxToleranceRatio(inPlace.buffers['x']!, want, 1e-7, 2e-6) <= 1, 'in place');
      }
    });
  }

test('a NaN anywhere in a row makes that whole row NaN (as the reference), other rows unaffected', () => {
  for (const log of [false, true]) {
    const x = randomFloats(2 * 21, 5);
    x[13] = NaN;
    const spec: SoftmaxSpec = { rows: 2, cols: 21, log };
    const v = softmax.variants[0]!;
    const run = runKernel({ x: { floats: 42, init: x }, y: { floats: 42 } }, 2, (fn, a) =>
      softmax.emit(fn, spec, v, {
        input: { addrBytes: a['x']!, pixelStride: 21 },
        output: { addrBytes: a['y']!, pixelStride: 21 },
      }),
    );
    const y = run.buffers['y']!;
    assert.ok(
      y.subarray(0, 21).every((e) => Number.isNaN(e)),
      `${softmax.id(spec, v)}: row 0 should be NaN`,
    );
    assert.ok(
      y.subarray(21).every((e) => Number.isFinite(e)),
      `${softmax.id(spec, v)}: row 1 should be finite`,
    );
  }
});
