import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { materializeInput, maxDrift, parseShapes, planInputs, sampleOutput } from './inputs.js';

test('symbolic dims become 1 unless --input-shape gives the whole shape, which must fit the declared one', () => {
  const declared = [{ name: 'x', dtype: 'float32' as const, shape: ['N', 3, 'H', 'W'] }];
  assert.deepEqual(planInputs(declared)[0]!.shape, [1, 3, 1, 1]);
  const shapes = parseShapes(['1x3x64x48'], ['x']);
  assert.deepEqual(planInputs(declared, { shapes })[0]!.shape, [1, 3, 64, 48]);
  assert.throws(
    () => planInputs(declared, { shapes: { x: [1, 4, 64, 48] } }),
    /does not fit input 'x' declared \?x3x\?x\?/,
  );
  assert.throws(() => planInputs(declared, { shapes: { x: [1, 3, 64] } }), /does not fit/);
  assert.deepEqual(parseShapes(['y=2x5'], ['x', 'y']), { y: [2, 5] });
  assert.throws(() => parseShapes(['2x5'], ['x', 'y']), /has 2 inputs, write name=AxBxC/);
  assert.throws(() => parseShapes(['z=2x5'], ['x', 'y']), /no input named 'z'/);
  assert.throws(() => parseShapes(['1x0x3'], ['x']), /positive whole numbers/);
});

test('a sibling <model>.input.f32 of the right size is used; seeded inputs are reproducible', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgecnn-inputs-'));
  const model = join(dir, 'm.onnx');
  writeFileSync(join(dir, 'm.input.f32'), new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer));
  const declared = [{ name: 'x', dtype: 'float32' as const, shape: [1, 6] }];
  const spec = planInputs(declared, { modelPath: model })[0]!;
  assert.deepEqual(spec.source, { file: join(dir, 'm.input.f32') });
  assert.deepEqual([...materializeInput(spec).data], [1, 2, 3, 4, 5, 6]);
  // Wrong size: not used.
  assert.ok('seed' in planInputs([{ name: 'x', dtype: 'float32', shape: [1, 7] }], { modelPath: model })[0]!.source);
  const a = materializeInput({ name: 'x', dtype: 'float32', shape: [2, 3], source: { seed: 5 } });
  const b = materializeInput({ name: 'x', dtype: 'float32', shape: [2, 3], source: { seed: 5 } });
  assert.deepEqual(a.data, b.data);
  assert.ok([...a.data].every((v) => Number(v) >= -1 && Number(v) < 1));
  assert.throws(() => planInputs([{ name: 'x' }]), /no declared shape; give one with --input-shape/);
});

test('outputs are sampled with a bounded stride; drift is the largest absolute difference', () => {
  const big = { name: 'y', shape: [10000], data: Float32Array.from({ length: 10000 }, (_, i) => i) };
  const s = sampleOutput(big, 100);
  assert.equal(s.values.length, 100);
  assert.equal(s.total, 10000);
  assert.equal(s.values[1], 100);
  const t = structuredClone(s);
  t.values[7]! += 0.5;
  assert.equal(maxDrift([t], [s]), 0.5);
  t.values[8] = NaN;
  assert.equal(maxDrift([t], [s]), Infinity);
  assert.throws(() => maxDrift([], [s]), /output 'y' is missing/);
});
