import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, randomF32, seededRandom } from '../../ir/builder.js';
import type { Model } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { runReference } from '../../ops/reference-executor.js';
import { instantiate } from '../../runtime/executor.js';
import { compileModel } from './compile.js';
import { FUSED_OPS, optimize } from '../../passes/index.js';
import { getOp } from '../../ops/registry.js';

const lookupOp = (domain: string, opType: string) =>
  getOp(domain, opType) ?? FUSED_OPS.find((d) => d.domain === domain && d.opType === opType);

interface Val {
  name: string;
  c: number;
  h: number;
  w: number;
}

/**
 * A random small CNN: convolutions (1x1, 3x3, strided, depthwise, grouped) with and without activations,
 * residual adds, channel concats (including nested ones and a value used twice), channel splits, pools, an
 * intermediate graph output, and a classifier head. Odd channel counts on purpose.
 */
function randomCnn(seed: number): { model: Model; inputShape: number[] } {
  const r = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const g = new GraphBuilder(`random${seed}`);
  const c0 = pick([1, 3, 5]);
  const h0 = pick([7, 9, 12, 16]);
  const inputShape = [1, c0, h0, h0 + 1];
  let wseed = seed * 1000;
  const vals: Val[] = [{ name: g.input('x', 'float32', inputShape), c: c0, h: h0, w: h0 + 1 }];
  const conv = (x: Val, cout: number, k: number, stride: number, group = 1): Val => {
    const pad = (k - 1) >> 1;
    const wt = g.randomInit(`w${wseed}`, [cout, x.c / group, k, k], wseed++, -0.5, 0.5);
    const b = g.randomInit(`b${wseed}`, [cout], wseed++);
    const y = g.node('Conv', [x.name, wt, b], {
      kernel_shape: [k, k],
      pads: [pad, pad, pad, pad],
      strides: [stride, stride],
      group,
    });
    const out = (d: number): number => Math.floor((d + 2 * pad - k) / stride) + 1;
    return { name: y, c: cout, h: out(x.h), w: out(x.w) };
  };
  let extraOutput: string | undefined;
  for (let step = 0; step < 10; step++) {
    const x = vals[vals.length - 1 - Math.floor(r() * Math.min(3, vals.length))]!;
    const kind = r();
    let y: Val;
    if (kind < 0.3) {
      // Wide 3x3 stride-1 convolutions on big enough maps go to Winograd; others to direct/GEMM kernels.
      const wide = x.c >= 8 && x.h * x.w >= 144 && r() < 0.6;
      const k = wide ? 3 : pick([1, 1, 3]);
      y = conv(x, pick([2, 5, 7, 13, 16, 17]), k, !wide && k === 3 && x.h > 4 && r() < 0.3 ? 2 : 1);
      const act = pick(['', 'Relu', 'Clip', 'Sigmoid', 'HardSigmoid', 'LeakyRelu']);
      if (act === 'Clip') {
        y = {
          ...y,
          name: g.node('Clip', [
            y.name,
            g.init(`lo${step}`, { dtype: 'float32', shape: [], data: new Float32Array([0]) }),
            g.init(`hi${step}`, { dtype: 'float32', shape: [], data: new Float32Array([6]) }),
          ]),
        };
      } else if (act) {
        y = { ...y, name: g.node(act, [y.name]) };
      }
    } else if (kind < 0.4) {
      y = conv(x, x.c, 3, x.h > 4 && r() < 0.5 ? 2 : 1, x.c); // depthwise
    } else if (kind < 0.45 && x.c % 2 === 0) {
      y = conv(x, x.c + (x.c % 4 === 0 ? 2 : 0), 3, 1, 2); // grouped
    } else if (kind < 0.6) {
      // Residual: a same-shape branch added back.
      const branch = conv(x, x.c, 1, 1);
      y = { ...x, name: g.node('Add', [g.node('Relu', [branch.name]), x.name]) };
    } else if (kind < 0.75) {
      // Fire-like concat of two branches and, sometimes, of the input itself (copied into its slice).
      const a = conv(x, pick([3, 4, 5]), 1, 1);
      const b = conv(x, pick([2, 6, 7]), 3, 1);
      const parts = r() < 0.3 ? [a, b, x] : [a, b];
      const inner = r() < 0.3 ? { name: g.node('Concat', [a.name, b.name], { axis: 1 }), c: a.c + b.c } : undefined;
      const list = inner ? [inner, ...parts.slice(2), a] : parts;
      y = {
        ...x,
        name: g.node(
          'Concat',
          list.map((p) => p.name),
          { axis: 1 },
        ),
        c: list.reduce((s, p) => s + p.c, 0),
      };
    } else if (kind < 0.85 && x.c >= 2) {
      const first = Math.max(1, Math.floor(x.c / 3));
      const split = g.init(`split${step}`, {
        dtype: 'int64',
        shape: [2],
        data: new BigInt64Array([BigInt(first), BigInt(x.c - first)]),
      });
      const [s0, s1] = g.nodeOutputs('Split', [x.name, split], { axis: 1 }, { outputCount: 2 });
      const a = conv({ ...x, name: s1!, c: x.c - first }, first, 1, 1);
      y = { ...x, name: g.node('Add', [s0!, a.name]), c: first };
    } else if (x.h >= 3) {
      const pooled = g.node(pick(['MaxPool', 'AveragePool']), [x.name], {
        kernel_shape: [3, 3],
        strides: [2, 2],
        pads: [1, 1, 1, 1],
      });
      y = { name: pooled, c: x.c, h: Math.floor((x.h - 1) / 2) + 1, w: Math.floor((x.w - 1) / 2) + 1 };
    } else {
      continue;
    }
    vals.push(y);
    if (step === 5) extraOutput = y.name;
  }
  const last = vals[vals.length - 1]!;
  const flat = g.node('Flatten', [g.node('GlobalAveragePool', [last.name])], { axis: 1 });
  const logits = g.node(
    'Gemm',
    [flat, g.randomInit('wfc', [10, last.c], 99), g.randomInit('bfc', [10], 98)],
    { transB: 1 },
    { outputs: ['logits'] },
  );
  g.output(logits, 'float32', [1, 10]);
  if (extraOutput) g.output(extraOutput, 'float32');
  return { model: g.model(13), inputShape };
}

async function compileAndRun(
  model: Model,
  inputs: Record<string, Tensor>,
  fused: boolean,
): Promise<Record<string, Tensor>> {
  const compiled = compileModel(model, fused ? { optimize: (m) => optimize(m).model } : {});
  const exec = await instantiate(compiled, lookupOp);
  return exec.run(inputs);
}

/** Random small CNNs, unfused (every node its own kernel) and through the optimizer (fused epilogues). */
for (const fused of [false, true]) {
  test(`random small CNNs compile without fallbacks and match the reference executor (${fused ? 'optimized' : 'unfused'})`, async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const { model, inputShape } = randomCnn(seed);
      const x = randomF32(inputShape, seed + 7);
      const compiled = compileModel(model, fused ? { optimize: (m) => optimize(m).model } : {});
      assert.deepEqual(compiled.fallbackNodes, [], `seed ${seed}: fallbacks`);
      assert.ok(compiled.arena.arenaBytes >= compiled.arena.lowerBoundBytes);
      const got = await compileAndRun(model, { x }, fused);
      const want = runReference(model, { x });
      for (const [name, t] of Object.entries(want)) {
        const g = got[name]!;
        assert.deepEqual([...g.shape], [...t.shape], `seed ${seed}: ${name} shape`);
        let scale = 0;
        let diff = 0;
        for (let i = 0; i < t.data.length; i++) {
          scale = Math.max(scale, Math.abs(Number(t.data[i])));
          diff = Math.max(diff, Math.abs(Number(t.data[i]) - Number(g.data[i])));
        }
        assert.ok(diff <= 1e-5 * Math.max(1, scale), `seed ${seed}: ${name} differs by ${diff} (scale ${scale})`);
      }
    }
  });
}

test('concat inputs are written in place: slices of the output at their channel offsets', () => {
  const g = new GraphBuilder('cat');
  const x = g.input('x', 'float32', [1, 3, 5, 5]);
  const a = g.node('Conv', [x, g.randomInit('wa', [4, 3, 1, 1], 1)]);
  const b = g.node('Conv', [x, g.randomInit('wb', [7, 3, 3, 3], 2)], { pads: [1, 1, 1, 1] });
  const y = g.node('Concat', [a, b], { axis: 1 }, { outputs: ['y'] });
  g.output(g.node('Relu', [y]), 'float32');
  const c = compileModel(g.model(13));
  const la = c.report.layouts.layouts.get(a)!;
  const lb = c.report.layouts.layouts.get(b)!;
  assert.equal(la.pixelStride, 11);
  assert.equal(lb.pixelStride, 11);
  const off = c.report.memoryPlan.offsets;
  assert.equal(off.get(a), off.get(y));
  assert.equal(off.get(b), off.get(y)! + 4 * 4);
  assert.ok(!c.steps.some((s) => s.opType === 'Concat'));
});
