/**
 * Randomized oracle test: seeded random CNN-like graphs built from every pattern the passes rewrite (Conv with
 * or without bias and groups, BatchNorm, each activation, x*Sigmoid(x), x*HardSigmoid(x), residual Add, Pad,
 * per-channel Mul/Add, Identity, Transpose pairs), on awkward shapes, must compute the same after level-1 and
 * level-2 optimization (verify-each on) as before, on the reference executor.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder, attr, seededRandom } from '../ir/builder.js';
import { f32, i64 } from '../ir/tensor.js';
import { optimize } from './index.js';
import { assertEquivalent } from './testing.js';

function randomModel(seed: number) {
  const r = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const b = new GraphBuilder(`random${seed}`);
  let c = pick([1, 3, 5]);
  const h = pick([4, 5, 7]);
  const w = pick([3, 6]);
  let cur = b.input('x', 'float32', [1, c, h, w]);
  let k = 0;
  const fresh = (p: string): string => `${p}${k++}`;
  const blocks = 3 + Math.floor(r() * 4);
  for (let i = 0; i < blocks; i++) {
    const kind = pick(['conv', 'conv', 'conv', 'pad-conv', 'affine', 'identity', 'transpose']);
    if (kind === 'identity') {
      cur = b.node(pick(['Identity', 'Dropout']), [cur]);
    } else if (kind === 'transpose') {
      const t = b.node('Transpose', [cur], { perm: [0, 2, 3, 1] });
      cur = b.node('Transpose', [t], { perm: [0, 3, 1, 2] });
    } else if (kind === 'affine') {
      const s = b.randomInit(fresh('s'), [c, 1, 1], seed * 100 + k, 0.5, 1.5);
      const t = b.randomInit(fresh('t'), [1, c, 1, 1], seed * 100 + k + 1);
      cur = b.node('Add', [b.node('Mul', [cur, s]), t]);
    } else {
      const blockIn = cur;
      const outC = pick([c, c, 2, 4, 6]);
      const group = outC === c && c > 1 && r() < 0.4 ? c : 1;
      const ks = pick([1, 3]);
      let x = cur;
      let pads = ks === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0];
      if (kind === 'pad-conv' && ks === 3) {
        x = b.node('Pad', [cur, b.init(fresh('pads'), i64([8], [0, 0, 1, 1, 0, 0, 1, 1]))], { mode: 'constant' });
        pads = [0, 0, 0, 0];
      }
      const wName = b.randomInit(fresh('w'), [outC, c / group, ks, ks], seed * 100 + k, -0.7, 0.7);
      const ins = [x, wName];
      if (r() < 0.6) ins.push(b.randomInit(fresh('b'), [outC], seed * 100 + k + 2));
      let y = b.node('Conv', ins, { kernel_shape: [ks, ks], pads, group });
      if (r() < 0.5) {
        const p = (lo: number, hi: number): string => b.randomInit(fresh('bn'), [outC], seed * 100 + k + 3, lo, hi);
        y = b.node('BatchNormalization', [y, p(0.5, 1.5), p(-1, 1), p(-1, 1), p(0.2, 2)], {
          epsilon: attr.float(1e-3),
        });
      }
      if (outC === c && r() < 0.5) y = b.node('Add', r() < 0.5 ? [y, blockIn] : [blockIn, y]);
      const act = pick(['none', 'Relu', 'Clip', 'LeakyRelu', 'HardSigmoid', 'Sigmoid', 'silu', 'hardswish']);
      if (act === 'Clip') {
        y = b.node('Clip', [y, b.init(fresh('lo'), f32([], [0])), b.init(fresh('hi'), f32([], [6]))]);
      } else if (act === 'silu') {
        y = b.node('Mul', [y, b.node('Sigmoid', [y])]);
      } else if (act === 'hardswish') {
        y = b.node('Mul', [b.node('HardSigmoid', [y], { alpha: attr.float(1 / 6), beta: attr.float(0.5) }), y]);
      } else if (act === 'LeakyRelu') {
        y = b.node('LeakyRelu', [y], { alpha: attr.float(0.1) });
      } else if (act !== 'none') {
        y = b.node(act, [y]);
      }
      cur = y;
      c = outC;
    }
  }
  b.output(b.node('Identity', [cur], {}, { outputs: ['y'] }));
  return b.model(13);
}

test('random CNN-like graphs compute the same after optimization at levels 1 and 2', () => {
  let fused = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const m = randomModel(seed);
    for (const level of [1, 2] as const) {
      const out = optimize(m, { level, verifyEach: true }).model;
      assert.ok(out.graph.nodes.length <= m.graph.nodes.length, `seed ${seed}: level ${level} added nodes`);
      if (level === 2) fused += out.graph.nodes.filter((n) => n.domain === 'edgecnn').length;
      try {
        assertEquivalent(m, out, 1e-5);
      } catch (e) {
        throw new Error(`seed ${seed}, level ${level}: ${(e as Error).message}`);
      }
    }
  }
  assert.ok(fused > 40, `only ${fused} fused nodes over all graphs: the generator no longer exercises fusion`);
});
