import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measurePeak } from './peak.js';
import { GEMM_VARIANTS } from '../codegen/kernels/gemm.js';

test('measurePeak reports finite GFLOP/s for the peak kernels and each GEMM variant (smoke, tiny sizes)', () => {
  const variants = GEMM_VARIANTS.filter((v) => v.tile === '4x8');
  const r = measurePeak({ size: 24, samples: 3, warmupMs: 20, variants, qs8Variants: [] });
  assert.ok(Number.isFinite(r.peakMulAddGflops) && r.peakMulAddGflops > 0);
  assert.equal(r.size, 24);
  assert.ok(r.gemm.length >= 1);
  for (const g of r.gemm) {
    assert.match(g.id, /^f32-gemm-4x8-wasm(simd|relaxed)$/);
    assert.ok(g.gflops > 0 && Number.isFinite(g.fractionOfPeak));
  }
});

test('measurePeak reports the int8 dot-product peak and each qs8-gemm variant (smoke, tiny sizes)', () => {
  const r = measurePeak({ size: 24, samples: 3, warmupMs: 20, variants: [] });
  assert.ok(Number.isFinite(r.peakDotI16Gmacs) && r.peakDotI16Gmacs > 0);
  assert.equal(r.gemm.length, 0);
  assert.ok(r.qs8Gemm.length >= 2);
  for (const g of r.qs8Gemm) {
    assert.match(g.id, /^qs8-gemm-\w+-wasmsimd$/);
    assert.ok(g.gflops > 0 && Number.isFinite(g.fractionOfPeak));
  }
});
