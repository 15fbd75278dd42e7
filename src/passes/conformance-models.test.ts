/**
 * The optimizer over ONNX's own test models: every model of pytorch-converted/ and every multi-node model of
 * simple/, pytorch-operator/ and node/*_expanded that the reference executor runs is optimized at level 2 for
 * export with verify-each, and must compute the same outputs as the original on its first data set.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { readModel, readTensorProto } from '../onnx/index.js';
import { runReference, runtimeInputs, unsupportedNodes } from '../ops/reference-executor.js';
import { optimize } from './index.js';
import { maxDiff } from './testing.js';

const root = resolve(process.cwd(), '../shared/conformance/onnx');

function cases(): { name: string; model: Model; inputs: Record<string, Tensor> }[] {
  const out: { name: string; model: Model; inputs: Record<string, Tensor> }[] = [];
  for (const suite of ['simple', 'pytorch-operator', 'pytorch-converted', 'node']) {
    if (!existsSync(join(root, suite))) continue;
    for (const name of readdirSync(join(root, suite)).sort()) {
      if (suite === 'node' && !name.endsWith('_expanded')) continue;
      const dir = join(root, suite, name);
      const set = join(dir, 'test_data_set_0');
      if (!existsSync(join(dir, 'model.onnx')) || !existsSync(set)) continue;
      let model: Model;
      try {
        model = readModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))));
      } catch {
        continue; // types edgecnn does not read (strings, sequences): not the optimizer's concern
      }
      // One-node models only exercise the optimizer in pytorch-converted (BatchNorm, Pad, Linear forms).
      if (unsupportedNodes(model.graph).length > 0) continue;
      if (model.graph.nodes.length < 2 && suite !== 'pytorch-converted') continue;
      const names = runtimeInputs(model.graph).map((i) => i.name);
      const inputs: Record<string, Tensor> = {};
      for (const f of readdirSync(set).filter((x) => /^input_\d+\.pb$/.test(x))) {
        const k = Number(/\d+/.exec(f)![0]);
        if (names[k] !== undefined)
          inputs[names[k]!] = readTensorProto(new Uint8Array(readFileSync(join(set, f)))).tensor;
      }
      out.push({ name: `${suite}/${name}`, model, inputs });
    }
  }
  return out;
}

test(
  'conformance models compute the same after optimization',
  { skip: existsSync(root) ? false : `${root} is absent` },
  () => {
    let checked = 0;
    for (const c of cases()) {
      let want: Record<string, Tensor>;
      try {
        want = runReference(c.model, c.inputs);
      } catch {
        continue; // the op records reject this model; the conformance suite reports it
      }
      const optimized = optimize(c.model, { forExport: true, verifyEach: true }).model;
      const d = maxDiff(want, runReference(optimized, c.inputs));
      assert.ok(
        !(d.abs > 1e-5 * Math.max(d.magnitude, 1e-6)),
        `${c.name}: max |diff| ${d.abs} (max |output| ${d.magnitude})`,
      );
      checked++;
    }
    assert.ok(checked > 60, `only ${checked} conformance models ran`);
  },
);
