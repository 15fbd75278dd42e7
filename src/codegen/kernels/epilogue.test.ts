import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModuleBuilder } from '../wasm/index.js';
import { EpilogueEmitter, activationFromOnnx, applyActivationScalar, epilogueTag, kernelId } from './epilogue.js';
import type { Activation } from './types.js';
import { IN_RELAXED_CHILD, relaxedTestMode } from './relaxed-child.js';

const relaxedMode = relaxedTestMode(import.meta.url);
/** Epilogue flavours this process can run: plain always (except in the relaxed child), relaxed when available. */
const FLAVOURS = IN_RELAXED_CHILD ? [true] : relaxedMode.mode === 'here' ? [false, true] : [false];

const ACTS: Activation[] = [
  { kind: 'none' },
  { kind: 'relu' },
  { kind: 'clip', min: 0, max: 6 },
  { kind: 'clip', min: -0.5, max: 0.25 },
  { kind: 'leakyrelu', alpha: 0.1 },
  { kind: 'hardsigmoid', alpha: 0.2, beta: 0.5 },
  { kind: 'hardswish' },
  { kind: 'sigmoid' },
  { kind: 'silu' },
];

/** Runs the emitted activation over `xs` (length multiple of 4) in place. */
function runActivation(a: Activation, xs: Float32Array, relaxed = false): Float32Array {
  const m = new ModuleBuilder();
  const mem = new WebAssembly.Memory({ initial: 1 });
  m.importMemory('env', 'memory', { initialPages: 1 });
  const f = m.addFunction('act', ['i32'], []);
  const ep = new EpilogueEmitter(f, a, relaxed);
  const v = f.local('v128');
  const i = f.local('i32');
  f.forRange(
    i,
    (b) => b.i32Const(0),
    (b) => b.localGet(0),
    16,
    () => {
      f.localGet(i).v128Load().localSet(v);
      ep.apply(v);
      f.localGet(i).localGet(v).v128Store();
    },
  );
  m.exportFunction('act', f.index);
  const bytes = m.build();
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: mem } });
  new Float32Array(mem.buffer).set(xs);
  (inst.exports['act'] as (n: number) => void)(xs.length * 4);
  return new Float32Array(mem.buffer, 0, xs.length).slice();
}

test('every activation matches its scalar model over a wide range', () => {
  const xs = new Float32Array(400);
  for (let i = 0; i < 396; i++) xs[i] = (i - 198) * 0.53;
  xs.set([0, -0, 1e-30, -1e-30], 396);
  for (const relaxed of FLAVOURS)
    for (const a of ACTS) {
      const got = runActivation(a, xs, relaxed);
      for (let i = 0; i < xs.length; i++) {
        const want = applyActivationScalar(a, xs[i]!);
        const tol = a.kind === 'sigmoid' || a.kind === 'silu' ? 2e-6 * Math.max(1, Math.abs(want)) : 1e-6;
        assert.ok(
          Math.abs(got[i]! - want) <= tol,
          `${a.kind}(${xs[i]}) = ${got[i]}, want ${want} (relaxed ${relaxed})`,
        );
      }
    }
});

test('sigmoid saturates cleanly at the extremes', () => {
  for (const relaxed of FLAVOURS) {
    const got = runActivation(
      { kind: 'sigmoid' },
      Float32Array.of(-200, -90, 90, 200, -87, 87, NaN, -Infinity),
      relaxed,
    );
    assert.deepEqual([...got.slice(0, 2)], [0, 0]);
    assert.deepEqual([...got.slice(2, 4)], [1, 1]);
    assert.ok(Math.abs(got[4]! - 1.6458e-38) < 1e-40 && got[5] === 1, `${got[4]} ${got[5]}`);
    assert.ok(Number.isNaN(got[6]!), 'NaN stays NaN');
    assert.equal(got[7], 0);
    const silu = runActivation({ kind: 'silu' }, Float32Array.of(-200, 200, -1e38, 1e38), relaxed);
    assert.deepEqual(
      [...silu].map((x) => (x === 0 ? 0 : x)),
      [0, 200, 0, 1e38].map(Math.fround),
    );
  }
});

test('ONNX names map to activations; ids follow the grammar', () => {
  assert.deepEqual(activationFromOnnx('Clip', [0, 6]), { kind: 'clip', min: 0, max: 6 });
  assert.deepEqual(activationFromOnnx(undefined), { kind: 'none' });
  assert.throws(() => activationFromOnnx('Tanh', [], 'node conv1'), /Tanh.*conv1/);
  assert.equal(epilogueTag({ activation: { kind: 'clip', min: 0, max: 6 }, residual: false }), 'relu6');
  assert.equal(
    kernelId('f32', 'gemm', { activation: { kind: 'relu' }, residual: true }, '4x8', 'wasmsimd'),
    'f32-gemm-add-relu-4x8-wasmsimd',
  );
  assert.equal(
    kernelId('f32', 'gemm', { activation: { kind: 'none' }, residual: false }, '4x8', 'wasmsimd'),
    'f32-gemm-4x8-wasmsimd',
  );
});

if (!IN_RELAXED_CHILD && relaxedMode.mode === 'child') {
  test('relaxed-SIMD epilogues (child node with the relaxed flag)', (t) => {
    const r = relaxedMode.run();
    if (!r.available) {
      t.skip('this node has no relaxed-SIMD flag');
      return;
    }
    assert.ok(r.ok, r.output.slice(-4000));
  });
}
