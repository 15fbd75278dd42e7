import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gemm } from './gemm.js';
import { conv } from './conv.js';
import { dwconv } from './dwconv.js';
import { winograd } from './winograd.js';
import { ISAS } from './types.js';
import { convSpecOf } from './conv-check.js';

const ID = /^f32-[a-z0-9]+(-[a-z0-9]+)*-[0-9a-z]+(-[0-9a-z]+)?-wasm(simd|relaxed)$/;

test('every family variant has a known ISA, a unique tile per ISA, and ids follow the grammar', () => {
  const convSpec = convSpecOf({ inC: 16, outC: 16, inH: 14, inW: 14, kernel: [3, 3], pads: [1, 1, 1, 1] });
  const dwSpec = convSpecOf({ inC: 16, outC: 16, group: 16, inH: 14, inW: 14, kernel: [3, 3], pads: [1, 1, 1, 1] });
  const gemmSpec = { m: 9, n: 10, k: 11, epilogue: { activation: { kind: 'relu' as const }, residual: true } };
  const families = [
    { name: 'gemm', variants: gemm.variants, id: (v: (typeof gemm.variants)[number]) => gemm.id(gemmSpec, v) },
    { name: 'conv', variants: conv.variants, id: (v: (typeof conv.variants)[number]) => conv.id(convSpec, v) },
    { name: 'dwconv', variants: dwconv.variants, id: (v: (typeof dwconv.variants)[number]) => dwconv.id(dwSpec, v) },
    {
      name: 'winograd',
      variants: winograd.variants,
      id: (v: (typeof winograd.variants)[number]) => winograd.id(convSpec, v),
    },
  ];
  for (const f of families) {
    const seen = new Set<string>();
    for (const v of f.variants as readonly { tile: string; isa: (typeof ISAS)[number] }[]) {
      assert.ok(ISAS.includes(v.isa), `${f.name}: unknown isa ${v.isa}`);
      const key = `${v.tile}-${v.isa}`;
      assert.ok(!seen.has(key), `${f.name}: duplicate variant ${key}`);
      seen.add(key);
      const id = (f.id as (x: unknown) => string)(v);
      assert.match(id, ID, `${f.name}: id ${id}`);
      assert.ok(id.endsWith(`-${v.tile}-${v.isa}`) || f.name === 'dwconv', `${f.name}: ${id} must end with its tile`);
    }
    // The plain SIMD128 path must always exist.
    assert.ok(
      f.variants.some((v) => v.isa === 'wasmsimd'),
      `${f.name} has no wasmsimd variant`,
    );
  }
});
