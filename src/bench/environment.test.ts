import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { detectWasmFeatures, environment, machineKindOf, modelHash } from './environment.js';

test('Node 20 validates the SIMD probe', () => {
  assert.equal(detectWasmFeatures().simd, true);
});

test('relaxed SIMD detection follows the V8 flag', () => {
  const here = fileURLToPath(new URL('./environment.js', import.meta.url));
  const probe = `import(${JSON.stringify(here)}).then(m => console.log(JSON.stringify(m.detectWasmFeatures())))`;
  const on = JSON.parse(
    execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', probe]).toString(),
  );
  assert.equal(on.relaxedSimd, true);
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    const off = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', probe]).toString());
    assert.equal(off.relaxedSimd, false, 'Node 20 ships relaxed SIMD behind a flag');
  }
});

test('fingerprint names the machine, runtime and build', () => {
  const env = environment();
  assert.ok(env.cores >= 1);
  assert.equal(env.node, process.versions.node);
  assert.equal(env.v8, process.versions.v8);
  assert.match(env.edgecnnVersion, /^\d+\.\d+\.\d+/);
  assert.match(env.edgecnnCommit, /^([0-9a-f]{40}(-dirty)?|unknown)$/);
  assert.match(env.machineKind, /^[a-z0-9_]+-\d+c-[a-z0-9-]+$/);
});

test('machine kind slug is stable and filesystem-safe', () => {
  assert.equal(machineKindOf('x64', 2, 'Intel(R) Xeon(R) Processor'), 'x64-2c-intel-xeon-processor');
  assert.equal(machineKindOf('arm64', 8, 'Apple M2 @ 3.5GHz'), 'arm64-8c-apple-m2');
  assert.equal(machineKindOf('x64', 4, ''), 'x64-4c-unknown-cpu');
});

test('model hash is SHA-256 hex', () => {
  assert.equal(
    modelHash(new TextEncoder().encode('abc')),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  );
});
