/**
 * Whole models compiled with relaxed-SIMD variants (f32x4.relaxed_madd) agree with the stored outputs. Node 20
 * needs --experimental-wasm-relaxed-simd: without relaxed SIMD here, the file re-runs itself in a child node
 * with the flag (relaxed-child.ts). Two models bound the time: one with ReLU6/residuals, one with SiLU/SE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { f32 } from '../ir/tensor.js';
import { IN_RELAXED_CHILD, relaxedTestMode } from '../codegen/kernels/relaxed-child.js';
import { createSession } from './session.js';

const MODELS_DIR = resolve(process.cwd(), '../shared/models');
const MODELS = ['mobilenet_v2', 'efficientnet_b0'] as const;

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

const mode = relaxedTestMode(import.meta.url);
const absent = !existsSync(join(MODELS_DIR, 'mobilenet_v2.onnx')) && `${MODELS_DIR} is absent`;

if (mode.mode === 'here') {
  for (const name of MODELS) {
    test(`${name} with relaxed-SIMD kernels matches the stored output`, { skip: absent }, async () => {
      const s = await createSession(join(MODELS_DIR, `${name}.onnx`), { relaxedSimd: 'on' });
      const relaxedSteps = s.steps.filter((st) => st.kernelId.endsWith('-wasmrelaxed')).length;
      assert.ok(relaxedSteps > s.steps.length / 2, `${relaxedSteps} of ${s.steps.length} steps use relaxed SIMD`);
      const out = await s.run({ input: f32([1, 3, 224, 224], readF32(join(MODELS_DIR, `${name}.input.f32`))) });
      const want = readF32(join(MODELS_DIR, `${name}.output.f32`));
      const got = out[s.outputNames[0]!]!.data as Float32Array;
      let maxDiff = 0;
      let scale = 0;
      for (let i = 0; i < want.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
        scale = Math.max(scale, Math.abs(want[i]!));
      }
      assert.ok(maxDiff <= 1e-4 * scale, `${name}: max |diff| ${maxDiff} vs 1e-4 * ${scale}`);
    });
  }
} else if (!IN_RELAXED_CHILD) {
  test('whole models with relaxed SIMD (child node with the flag)', { skip: absent }, () => {
    const r = mode.run();
    if (!r.available) return; // this node has no relaxed-SIMD flag at all
    assert.ok(r.ok, r.output);
  });
}
