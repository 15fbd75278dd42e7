import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { materializeInput } from '../bench/inputs.js';
import { writeTinyCnn } from '../bench/tiny-model.js';
import { ortOpTypes, profileOrtNode } from './ort-profile.js';

test('onnxruntime trace events: per-node medians over the last runs, summed per op type', () => {
  const ev = (name: string, op: string, dur: number) => ({
    cat: 'Node',
    name: `${name}_kernel_time`,
    dur,
    args: { op_name: op },
  });
  const events = [
    ev('a', 'Conv', 9000), // warm-up, dropped
    ev('a', 'Conv', 1000),
    ev('a', 'Conv', 3000),
    ev('a', 'Conv', 2000),
    ev('b', 'Relu', 500),
    ev('b', 'Relu', 500),
    ev('b', 'Relu', 500),
    { cat: 'Session', name: 'model_run', dur: 99999 },
    { cat: 'Node', name: 'a_fence_before', dur: 5 },
  ];
  const r = ortOpTypes(events, 3);
  assert.deepEqual(
    r.byOpType.map((g) => [g.key, g.count, g.totalMs]),
    [
      ['Conv', 1, 2],
      ['Relu', 1, 0.5],
    ],
  );
  assert.equal(r.totalMs, 2.5);
  assert.equal(r.byOpType[0]!.share, 0.8);
});

test('profiling onnxruntime-node reads its own trace back (and leaves no file behind)', async () => {
  const model = writeTinyCnn({ size: 16 });
  const input = materializeInput({ name: 'input', dtype: 'float32', shape: [1, 3, 16, 16], source: { seed: 1 } });
  const r = await profileOrtNode(new Uint8Array(readFileSync(model)), [input], { runs: 3, warmup: 1 });
  const ops = r.byOpType.map((g) => g.key);
  assert.ok(ops.includes('Conv'), ops.join(','));
  assert.ok(ops.includes('Gemm') || ops.includes('FusedGemm'), ops.join(','));
  assert.ok(r.totalMs > 0);
});
