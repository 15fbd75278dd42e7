import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ModuleBuilder } from '../codegen/wasm/index.js';
import { PROBE_MODULES, RELAXED_SIMD_NODE_FLAG, detectFeatures } from './features.js';

test('hand-encoded probe modules equal what the emitter produces', () => {
  const r = new ModuleBuilder();
  const f = r.addFunction('f', ['f32', 'f32', 'f32'], ['f32']);
  f.localGet(0).f32x4Splat().localGet(1).f32x4Splat().localGet(2).f32x4Splat().f32x4RelaxedMadd().f32x4ExtractLane(0);
  r.exportFunction('f', f.index);
  assert.deepEqual(PROBE_MODULES.relaxedMadd, r.build());
  const s = new ModuleBuilder();
  const g = s.addFunction('f', ['i32'], ['i32']);
  g.localGet(0).i32x4Splat().localGet(0).i32x4Splat().i32x4Add().i32x4ExtractLane(3);
  s.exportFunction('f', g.index);
  assert.deepEqual(PROBE_MODULES.simd, s.build());
  const d = new ModuleBuilder();
  const h = d.addFunction('f', ['i32', 'i32', 'i32'], ['i32']);
  h.localGet(0).i8x16Splat().localGet(1).i8x16Splat().localGet(2).i32x4Splat().i32x4RelaxedDotI8x16I7x16AddS();
  h.i32x4ExtractLane(0);
  d.exportFunction('f', h.index);
  assert.deepEqual(PROBE_MODULES.relaxedDot, d.build());
});

test('this engine has SIMD128; relaxed flags are consistent', () => {
  const f = detectFeatures();
  assert.equal(f.simd, true);
  assert.equal(f.relaxedSimd, f.relaxedMaddFused !== undefined);
  if (!f.relaxedSimd) assert.equal(f.relaxedDotAdd, false);
  assert.equal(typeof f.threads, 'boolean');
});

test('with the relaxed-SIMD flag, a child node process detects relaxed_madd', (t) => {
  const self = fileURLToPath(new URL('./features.js', import.meta.url));
  const code = `import(${JSON.stringify(self)}).then(m => console.log(JSON.stringify(m.detectFeatures())))`;
  const r = spawnSync(process.execPath, [RELAXED_SIMD_NODE_FLAG, '--input-type=module', '-e', code], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    t.skip(`node does not accept ${RELAXED_SIMD_NODE_FLAG}: ${r.stderr.slice(0, 200)}`);
    return;
  }
  const f = JSON.parse(r.stdout) as {
    relaxedSimd: boolean;
    relaxedMaddFused: boolean | undefined;
    relaxedDotAdd: boolean;
  };
  assert.equal(f.relaxedSimd, true, 'relaxed SIMD should be available behind the flag on Node 20+');
  assert.equal(typeof f.relaxedMaddFused, 'boolean');
  assert.equal(typeof f.relaxedDotAdd, 'boolean');
});
