import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GEMM_VARIANTS, gemm, gemmPanelGroups, type GemmVariant } from './gemm.js';
import { KernelHarness, SENTINEL_BITS, randomFloats } from './harness.js';
import { applyActivationScalar } from './epilogue.js';
import { IN_RELAXED_CHILD, relaxedTestMode } from './relaxed-child.js';
import type { Activation, GemmSpec } from './types.js';

interface Case {
  m: number;
  n: number;
  k: number;
  act?: Activation;
  residual?: boolean;
  bias?: boolean;
  layout?: 'kn' | 'nk';
}

/** Naive oracle: C = act(A*B + bias + R). */
function naive(
  c: Case,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  bias: Float32Array | undefined,
  r: Float32Array | undefined,
  ldr: number,
): Float64Array {
  const out = new Float64Array(c.m * c.n);
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      let s = bias ? bias[j]! : 0;
      for (let kk = 0; kk < c.k; kk++) {
        const bv = (c.layout ?? 'kn') === 'kn' ? b[kk * c.n + j]! : b[j * c.k + kk]!;
        s += a[i * lda + kk]! * bv;
      }
      if (r) s += r[i * ldr + j]!;
      out[i * c.n + j] = applyActivationScalar(c.act ?? { kind: 'none' }, s);
    }
  }
  return out;
}

/** Runs the step over its extent in two halves, or in `chunks` nearly equal calls. */
function runCase(vr: GemmVariant, c: Case, chunks?: number): void {
  const h = new KernelHarness();
  // Strided rows and channel offsets: A, C and R are channel slices of wider NHWC tensors.
  const lda = c.k + 3;
  const ldc = c.n + 5;
  const ldr = c.n + 2;
  const a = randomFloats(c.m * lda, 7 + c.m);
  const b = randomFloats(c.k * c.n, 11 + c.n);
  const bias = c.bias === false ? undefined : randomFloats(c.n, 13);
  const r = c.residual ? randomFloats(c.m * ldr, 17) : undefined;
  const spec: GemmSpec = { m: c.m, n: c.n, k: c.k, epilogue: { activation: c.act ?? { kind: 'none' }, residual: !!r } };
  const packed = gemm.pack(spec, vr, { b, layout: c.layout ?? 'kn', ...(bias ? { bias } : {}) });
  const aAddr = h.put(a);
  const bAddr = h.put(packed);
  const cBase = h.alloc(c.m * ldc);
  const cOff = 2; // channel offset inside the wider C
  const rAddr = r ? h.put(r) : undefined;
  const k = h.build(gemm.id(spec, vr), (fn) =>
    gemm.emit(fn, spec, vr, {
      a: { addrBytes: aAddr, pixelStride: lda },
      packedB: bAddr,
      c: { addrBytes: cBase + cOff * 4, pixelStride: ldc },
      ...(rAddr !== undefined ? { residual: { addrBytes: rAddr, pixelStride: ldr } } : {}),
    }),
  );
  // Run the extent in two pieces to check [start, end) handling.
  const extent = gemm.parallelExtent(spec, vr);
  if (chunks === undefined) {
    const mid = Math.floor(extent / 2);
    k.run(0, mid);
    k.run(mid, extent);
  } else {
    for (let i = 0; i < chunks; i++) k.run(Math.floor((i * extent) / chunks), Math.floor(((i + 1) * extent) / chunks));
  }
  const want = naive(c, a, lda, b, bias, r, ldr);
  const got = h.f32(cBase, c.m * ldc);
  const bits = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const name = `${gemm.id(spec, vr)} m=${c.m} n=${c.n} k=${c.k}`;
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < ldc; j++) {
      const idx = i * ldc + j;
      if (j < cOff || j >= cOff + c.n) {
        assert.equal(bits[idx], SENTINEL_BITS, `${name}: wrote outside C at row ${i} col ${j}`);
        continue;
      }
      const w = want[i * c.n + j - cOff]!;
      const g = got[idx]!;
      assert.ok(
        Math.abs(g - w) <= 1e-5 * (Math.sqrt(c.k) + Math.abs(w)),
        `${name}: C[${i}][${j - cOff}] = ${g}, want ${w}`,
      );
    }
  }
}

const relaxed = relaxedTestMode(import.meta.url);
const isas = IN_RELAXED_CHILD ? ['wasmrelaxed'] : relaxed.mode === 'here' ? ['wasmsimd', 'wasmrelaxed'] : ['wasmsimd'];

for (const vr of GEMM_VARIANTS.filter((x) => isas.includes(x.isa))) {
  test(`gemm ${vr.tile}-${vr.isa} matches the naive loop on awkward shapes`, () => {
    const { mr, nr, kUnroll } = vr;
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [3, 5, 7],
      [7, 13, 3],
      [mr, nr, kUnroll],
      [Math.max(1, mr - 1), Math.max(1, nr - 1), kUnroll + 1],
      [mr + 1, nr + 1, kUnroll - 1 || 1],
      [2 * mr + 1, 2 * nr + 3, 2 * kUnroll + 1],
      [13, 33, 17],
      [37, 20, 64],
    ];
    for (const [m, n, k] of shapes) runCase(vr, { m, n, k });
    runCase(vr, { m: 9, n: 11, k: 5, layout: 'nk', bias: false });
  });
  test(`gemm ${vr.tile}-${vr.isa} fused epilogues (residual + activations)`, () => {
    const acts: Activation[] = [
      { kind: 'relu' },
      { kind: 'clip', min: 0, max: 6 },
      { kind: 'hardswish' },
      { kind: 'sigmoid' },
      { kind: 'silu' },
      { kind: 'leakyrelu', alpha: 0.2 },
    ];
    for (const act of acts)
      runCase(vr, { m: vr.mr + 2, n: vr.nr + 3, k: 9, act, residual: act.kind === 'relu' || act.kind === 'silu' });
    runCase(vr, { m: 5, n: 6, k: 4, residual: true });
  });
}

test('gemm with a B larger than one L2 panel block (several blocks)', () => {
  runCase(
    GEMM_VARIANTS.find((x) => x.tile === '4x8' && x.isa === 'wasmsimd')!,
    { m: 9, n: 300, k: 700 },
  );
});

test('gemm with fewer rows than columns splits by panel groups x row tiles, in any chunking', () => {
  const cases: Case[] = [
    { m: 9, n: 300, k: 700 }, // two groups of one L2 block each
    { m: 9, n: 800, k: 700, act: { kind: 'clip', min: 0, max: 6 } }, // groups capped at one L2 block
    { m: 5, n: 37, k: 11, residual: true }, // partial last panel in the last group
    { m: 49, n: 320, k: 96 },
  ];
  for (const vr of GEMM_VARIANTS.filter((x) => isas.includes(x.isa) && x.split === 'm')) {
    for (const c of cases) {
      const spec: GemmSpec = { m: c.m, n: c.n, k: c.k, epilogue: { activation: { kind: 'none' }, residual: false } };
      const { groups } = gemmPanelGroups(spec, vr);
      assert.ok(groups >= 2, `${vr.tile} m=${c.m} n=${c.n}: ${groups} group(s)`);
      const extent = gemm.parallelExtent(spec, vr);
      assert.equal(extent, Math.ceil(c.m / vr.mr) * groups);
      for (const chunks of [1, 3, 7, extent]) runCase(vr, c, Math.min(chunks, extent));
    }
  }
  // More rows than columns keeps the row-tile extent.
  const vr = GEMM_VARIANTS.find((x) => x.split === 'm')!;
  const tall: GemmSpec = { m: 196, n: 64, k: 384, epilogue: { activation: { kind: 'none' }, residual: false } };
  assert.equal(gemm.parallelExtent(tall, vr), Math.ceil(196 / vr.mr));
});

if (!IN_RELAXED_CHILD && relaxed.mode === 'child') {
  test('gemm relaxed-SIMD variants (child node with the relaxed flag)', (t) => {
    const r = relaxed.run();
    if (!r.available) {
      t.skip('this node has no relaxed-SIMD flag');
      return;
    }
    assert.ok(r.ok, r.output.slice(-4000));
  });
}

test('gemm pack rejects wrong weight sizes', () => {
  const spec: GemmSpec = { m: 2, n: 3, k: 4, epilogue: { activation: { kind: 'none' }, residual: false } };
  assert.throws(
    () =>
      gemm.pack(
        spec,
        GEMM_VARIANTS.find((x) => x.isa === 'wasmsimd')!,
        { b: new Float32Array(11), layout: 'kn' },
      ),
    /B has 11/,
  );
});
