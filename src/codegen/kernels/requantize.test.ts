import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundHalfEven } from '../../ops/tensor-util.js';
import { KernelHarness } from './harness.js';
import { QS8_HEADER_BYTES, type Qs8Quant, emitRequantize, packHeader } from './requantize.js';

/** The epilogue's definition: clamp(nearest(f32(acc) * mult + biasF) + outZero, lo, hi), all f32 steps rounded. */
function expected(acc: number, mult: number, biasF: number, z: number, lo: number, hi: number): number {
  const y = Math.fround(Math.fround(Math.fround(acc) * mult) + biasF);
  return Math.min(hi, Math.max(lo, roundHalfEven(y) + z));
}

/** Run emitRequantize over 8-channel groups of `acc` with one block header; returns the int8 results. */
function run(acc: Int32Array, q: Qs8Quant, biasF: Float32Array, lo: number, hi: number, packed: boolean): Int8Array {
  const groups = acc.length / 8;
  const h = new KernelHarness(2);
  const hdr = h.alloc(QS8_HEADER_BYTES / 4);
  const clamp = packed ? { lo, hi } : undefined;
  packHeader(new DataView(h.memory.buffer), hdr, 0, 8, q, () => 0, { float: biasF }, clamp);
  const accAt = h.alloc(acc.length);
  new Int32Array(h.memory.buffer, accAt, acc.length).set(acc);
  const out = h.alloc(groups * 2);
  const k = h.build('rq', (fn) => {
    const [g, pa, po, hp] = fn.locals('i32', 4);
    const [a0, a1, res] = fn.locals('v128', 3);
    fn.i32Const(hdr).localSet(hp);
    fn.forRange(
      g,
      (b) => b.i32Const(0),
      (b) => b.i32Const(groups),
      1,
      () => {
        fn.localGet(g).i32Const(32).i32Mul().i32Const(accAt).i32Add().localTee(pa).v128Load(0).localSet(a0);
        fn.localGet(pa).v128Load(16).localSet(a1);
        emitRequantize(fn, a0, a1, hp, 0, lo, hi, res, packed);
        fn.localGet(g).i32Const(8).i32Mul().i32Const(out).i32Add().localTee(po).localGet(res);
        fn.v128Store64Lane(0, 0, 0);
      },
    );
  });
  k.run(0, 1);
  return new Int8Array(h.memory.buffer, out, acc.length).slice();
}

test('requantize: magic-number rounding equals nearest-even + zero point + clamp, ties and extremes included', () => {
  const accs: number[] = [0, 1, -1, 2, -2, 3, -3, 5, -5, 7, 127, -128, 1000, -1000];
  for (const big of [2 ** 22, 2 ** 23, 2 ** 24, 2 ** 30, 2 ** 31 - 1]) accs.push(big, -big, big - 1, 1 - big);
  let s = 12345;
  for (let i = 0; i < 400; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    accs.push((s % 200001) - 100000);
  }
  while (accs.length % 8) accs.push(0);
  const acc = Int32Array.from(accs);
  // 0.5 makes odd accumulators exact ties; 1e3 and 3e4 push |y| past 2^22 and the float sum below -1.5 * 2^23.
  const mults = [0.5, 0.25, 0.0123, 1, 1e3, 3e4];
  const clamps: [number, number][] = [
    [-128, 127],
    [0, 127],
    [-3, 6],
  ];
  let checked = 0;
  for (const m of mults)
    for (const z of [0, 1, -7, 127, -128])
      for (const [lo, hi] of clamps)
        for (const [withBias, packed] of [
          [false, false],
          [true, false],
          [false, true],
          [true, true],
        ]) {
          const q: Qs8Quant = { inScale: m, inZero: 0, weightScales: Float32Array.of(1), outScale: 1, outZero: z };
          const biasF = Float32Array.from({ length: 8 }, (_, j) => (withBias ? j * 0.75 - 2.5 : 0));
          const got = run(acc, q, biasF, lo, hi, packed!);
          for (let i = 0; i < acc.length; i++) {
            const want = expected(acc[i]!, Math.fround(m), biasF[i % 8]!, z, lo, hi);
            assert.equal(
              got[i],
              want,
              `acc ${acc[i]} mult ${m} zero ${z} clamp [${lo}, ${hi}]${packed ? ' packed' : ''} biasF ${biasF[i % 8]}`,
            );
            checked++;
          }
        }
  assert.ok(checked > 140000);
});
