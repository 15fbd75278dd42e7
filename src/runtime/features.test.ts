import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ModuleBuilder } from '../codegen/wasm/index.js';
import {
  DOT_PROBE_CASES,
  type DotCase,
  PROBE_MODULES,
  RELAXED_SIMD_NODE_FLAG,
  detectFeatures,
  expectedDot,
} from './features.js';

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
  const l = new ModuleBuilder();
  l.defineMemory({ initialPages: 1, maximumPages: 1 });
  const k = l.addFunction('f', [], []);
  k.i32Const(48).i32Const(0).v128Load().i32Const(16).v128Load().i32Const(32).v128Load();
  k.i32x4RelaxedDotI8x16I7x16AddS().v128Store();
  l.exportFunction('f', k.index);
  l.exportMemory('m');
  assert.deepEqual(PROBE_MODULES.relaxedDotLanes, l.build());
});

test('the dot-add probe cases tell every reading apart', () => {
  const [low, high] = DOT_PROBE_CASES as [DotCase, DotCase];
  // 7-bit b: both readings agree, so the first case checks lanes and the addend only.
  assert.deepEqual(expectedDot(low, 'unsigned'), expectedDot(low, 'signed'));
  const u = expectedDot(high, 'unsigned');
  const s = expectedDot(high, 'signed');
  assert.ok(
    u.every((x, j) => x !== s[j]),
    'unsigned and signed readings must differ in every lane',
  );
  // x86 without VNNI: pmaddubsw saturates each pair sum to i16, so lanes 0 and 1 would differ from `u`.
  const pairSat = (k: DotCase, j: number): number => {
    let sum = k.c[j]!;
    for (let i = 4 * j; i < 4 * j + 4; i += 2) {
      const p = k.a[i]! * (k.b[i]! & 255) + k.a[i + 1]! * (k.b[i + 1]! & 255);
      sum += Math.max(-32768, Math.min(32767, p));
    }
    return sum;
  };
  assert.notEqual(pairSat(high, 0), u[0]);
  assert.notEqual(pairSat(high, 1), u[1]);
  // Node 20's 2 * dot without c, and swapped lanes, match neither.
  const doubled = expectedDot({ ...high, c: [0, 0, 0, 0] }, 'unsigned').map((x) => 2 * x);
  assert.ok(doubled.some((x, j) => x !== u[j]) && doubled.some((x, j) => x !== s[j]));
  assert.notDeepEqual([...u].reverse(), u);
});

test('this engine has SIMD128; relaxed flags are consistent', () => {
  const f = detectFeatures();
  assert.equal(f.simd, true);
  assert.equal(f.relaxedSimd, f.relaxedMaddFused !== undefined);
  if (!f.relaxedSimd) assert.equal(f.relaxedDotAdd, false);
  if (!f.relaxedDotAdd) assert.equal(f.relaxedDotB, 'none');
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
    relaxedDotB: string;
  };
  assert.equal(f.relaxedSimd, true, 'relaxed SIMD should be available behind the flag on Node 20+');
  assert.equal(typeof f.relaxedMaddFused, 'boolean');
  assert.equal(typeof f.relaxedDotAdd, 'boolean');
  assert.ok(['unsigned', 'signed', 'none'].includes(f.relaxedDotB), f.relaxedDotB);
  // Node 20 (V8 11.3) doubles the dot and drops the addend: its probe must say no.
  if (process.versions.node.startsWith('20.')) assert.equal(f.relaxedDotB, 'none');
});
