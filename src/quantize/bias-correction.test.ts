import assert from 'node:assert/strict';
import { test } from 'node:test';
import { syntheticSamples } from '../datasets/calibration-source.js';
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { runReference } from '../ops/reference-executor.js';
import { empiricalBiasCorrection } from './bias-correction.js';
import { buildQdqModel, calibrateModel } from './quantize-model.js';
import { tinyQuantModel } from './testing.js';

const samples = syntheticSamples([1, 3, 12, 12], 16);
const probe = syntheticSamples([1, 3, 12, 12], 16, 4321);

/** Mean over output channels of |mean over probe inputs of (quantized - float)|, and the mean squared error. */
function outputError(float: Model, q: Model): { bias: number; mse: number } {
  const mean = new Float64Array(5);
  let se = 0;
  for (const x of probe) {
    const a = runReference(float, { input: x })['output']!.data as Float32Array;
    const b = runReference(q, { input: x })['output']!.data as Float32Array;
    for (let c = 0; c < 5; c++) {
      mean[c]! += (b[c]! - a[c]!) / probe.length;
      se += (b[c]! - a[c]!) ** 2;
    }
  }
  return { bias: mean.reduce((s, v) => s + Math.abs(v), 0) / 5, mse: se / (5 * probe.length) };
}

test('empirical bias correction lowers the mean output error on unseen inputs (below the analytic one)', async () => {
  const cal = await calibrateModel(tinyQuantModel(), samples);
  // Per-tensor weights and min/max ranges: coarse enough that channel means shift visibly.
  const options = { perChannel: false, method: 'minmax' } as const;
  const analytic = outputError(cal.model, buildQdqModel(cal, options).model);
  const offsets = await empiricalBiasCorrection(cal, samples, options);
  assert.deepEqual([...offsets.keys()].sort(), ['branch_a', 'dw', 'fc', 'pw', 'stem']);
  const empirical = outputError(cal.model, buildQdqModel(cal, { ...options, biasOffsets: offsets }).model);
  assert.ok(empirical.bias < analytic.bias * 0.7, `mean error ${empirical.bias} vs analytic ${analytic.bias}`);
});

test('bias offsets: a layer without a bias gets one, a wrong length is refused by name', async () => {
  const cal = await calibrateModel(tinyQuantModel(), samples.slice(0, 2));
  const q = buildQdqModel(cal, { biasOffsets: new Map([['branch_a', new Float64Array(4).fill(0.25)]]) });
  const conv = q.model.graph.nodes.find((n) => n.name === 'branch_a')!;
  assert.equal(conv.inputs.length, 3, 'branch_a (no bias in the float model) now has one');
  assert.throws(
    () => buildQdqModel(cal, { biasOffsets: new Map([['pw', new Float64Array(3)]]) }),
    (e: unknown) => e instanceof EdgecnnError && /layer 'pw': 3 bias offsets for 8 output channels/.test(e.message),
  );
});
