import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from '../../ir/graph.js';
import { makeTensor } from '../../ir/tensor.js';
import { DequantizeLinear, QuantizeLinear } from '../../ops/quantize.js';
import {
  QS8_ELTWISE_VARIANTS,
  type Qs8EltwiseSpec,
  type Qs8QuantizeNchwSpec,
  packLut,
  qs8Eltwise,
  qs8QuantizeNchw,
} from './qs8-eltwise.js';
import { randomInt8, runBytes } from './qs8-testing.js';

const v = QS8_ELTWISE_VARIANTS[0]!;
const node = (opType: string): Node => ({
  name: 'ref',
  opType,
  domain: '',
  inputs: [],
  outputs: ['y'],
  attributes: new Map(),
});
const ctx = (opType: string) => ({ node: node(opType), opset: 13 });
const f = (x: number) => makeTensor('float32', [], new Float32Array([x]));
const z8 = (x: number) => makeTensor('int8', [], new Int8Array([x]));
const refQ = (x: Float32Array, s: number, z: number): Int8Array =>
  QuantizeLinear.reference([makeTensor('float32', [x.length], x), f(s), z8(z)], ctx('QuantizeLinear'))[0]!
    .data as Int8Array;
const refDQ = (q: Int8Array, s: number, z: number): Float32Array =>
  DequantizeLinear.reference([makeTensor('int8', [q.length], q), f(s), z8(z)], ctx('DequantizeLinear'))[0]!
    .data as Float32Array;

/** Gather pixel-strided channels into a dense array. */
const dense = <T extends Int8Array | Float32Array>(
  buf: T,
  pixels: number,
  c: number,
  stride: number,
  make: (n: number) => T,
): T => {
  const out = make(pixels * c);
  for (let p = 0; p < pixels; p++) for (let i = 0; i < c; i++) out[p * c + i] = buf[p * stride + i]!;
  return out;
};
const f32Of = (b: Int8Array) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);

const SHAPES: [number, number, number][] = [
  [1, 1, 0],
  [3, 5, 2],
  [4, 8, 0],
  [5, 13, 3],
  [2, 36, 4],
];

test('qs8 quantize matches QuantizeLinear exactly (ties, saturation, strides)', () => {
  for (const [pixels, c, extra] of SHAPES) {
    const s: Qs8EltwiseSpec = { op: 'quantize', pixels, channels: c, scaleA: 0.1, zeroA: -3 };
    const x = Float32Array.from(
      { length: pixels * (c + extra) },
      (_, i) => ((i * 37) % 101) * 0.25 - 12.55 + (i % 7 === 0 ? 30 : 0),
    );
    for (let i = 0; i < x.length; i += 5) x[i] = Math.round(x[i]! * 10) / 10 + 0.05; // near-ties
    const run = runBytes(
      {
        x: { bytes: x.length * 4, init: new Int8Array(x.buffer) },
        y: { bytes: pixels * (c + extra), init: new Int8Array(pixels * (c + extra)).fill(42) },
      },
      pixels,
      (fn, a) =>
        qs8Eltwise.emit(fn, s, v, {
          a: { addrBytes: a['x']!, pixelStride: c + extra },
          out: { addrBytes: a['y']!, pixelStride: c + extra },
        }),
      2,
    );
    assert.deepEqual(run.guardViolations, []);
    const want = refQ(
      dense(x, pixels, c, c + extra, (n) => new Float32Array(n)),
      0.1,
      -3,
    );
    assert.deepEqual(
      dense(run.buffers['y']!, pixels, c, c + extra, (n) => new Int8Array(n)),
      want,
    );
    for (let p = 0; p < pixels; p++)
      for (let i = c; i < c + extra; i++) assert.equal(run.buffers['y']![p * (c + extra) + i], 42);
  }
});

test('qs8 dequantize matches DequantizeLinear exactly', () => {
  for (const [pixels, c, extra] of SHAPES) {
    const s: Qs8EltwiseSpec = { op: 'dequantize', pixels, channels: c, scaleA: 0.037, zeroA: 11 };
    const q = randomInt8(pixels * (c + extra), pixels + c);
    const run = runBytes(
      { q: { bytes: q.length, init: q }, y: { bytes: pixels * (c + extra) * 4 } },
      pixels,
      (fn, a) =>
        qs8Eltwise.emit(fn, s, v, {
          a: { addrBytes: a['q']!, pixelStride: c + extra },
          out: { addrBytes: a['y']!, pixelStride: c + extra },
        }),
      3,
    );
    assert.deepEqual(run.guardViolations, []);
    const want = refDQ(
      dense(q, pixels, c, c + extra, (n) => new Int8Array(n)),
      0.037,
      11,
    );
    assert.deepEqual(
      dense(f32Of(run.buffers['y']!), pixels, c, c + extra, (n) => new Float32Array(n)),
      want,
    );
  }
});

test('qs8 add matches DequantizeLinear + Add + QuantizeLinear exactly, with a ReLU clamp', () => {
  for (const [pixels, c, extra] of SHAPES) {
    for (const relu of [false, true]) {
      const s: Qs8EltwiseSpec = {
        op: 'add',
        pixels,
        channels: c,
        scaleA: 0.05,
        zeroA: 4,
        scaleB: 0.031,
        zeroB: -9,
        scaleOut: 0.07,
        zeroOut: -2,
        ...(relu ? { outMin: -2, outMax: 127 } : {}),
      };
      const qa = randomInt8(pixels * (c + extra), 3 * c);
      const qb = randomInt8(pixels * (c + extra), 5 * c + 1);
      const run = runBytes(
        { a: { bytes: qa.length, init: qa }, b: { bytes: qb.length, init: qb }, y: { bytes: qa.length } },
        pixels,
        (fn, ad) =>
          qs8Eltwise.emit(fn, s, v, {
            a: { addrBytes: ad['a']!, pixelStride: c + extra },
            b: { addrBytes: ad['b']!, pixelStride: c + extra },
            out: { addrBytes: ad['y']!, pixelStride: c + extra },
          }),
        2,
      );
      assert.deepEqual(run.guardViolations, []);
      const da = refDQ(
        dense(qa, pixels, c, c + extra, (n) => new Int8Array(n)),
        0.05,
        4,
      );
      const db = refDQ(
        dense(qb, pixels, c, c + extra, (n) => new Int8Array(n)),
        0.031,
        -9,
      );
      const sum = Float32Array.from(da, (x, i) => (relu ? Math.max(0, x + db[i]!) : x + db[i]!));
      const want = refQ(sum, 0.07, -2);
      assert.deepEqual(
        dense(run.buffers['y']!, pixels, c, c + extra, (n) => new Int8Array(n)),
        want,
      );
    }
  }
});

test('qs8 mul matches DequantizeLinear + Mul + QuantizeLinear (exactly full size, within 1 LSB for the SE broadcast)', () => {
  for (const [pixels, c, extra] of SHAPES) {
    for (const perImage of [undefined, 1, pixels]) {
      if (perImage !== undefined && (pixels === 0 || pixels % perImage !== 0)) continue;
      const s: Qs8EltwiseSpec = {
        op: 'mul',
        pixels,
        channels: c,
        scaleA: 0.05,
        zeroA: 4,
        scaleB: 1 / 255,
        zeroB: -128,
        scaleOut: 0.04,
        zeroOut: -7,
        ...(perImage !== undefined ? { bBroadcastPixels: perImage } : {}),
      };
      const bPixels = perImage === undefined ? pixels : pixels / perImage;
      const qa = randomInt8(pixels * (c + extra), 7 * c);
      const qb = randomInt8(bPixels * (c + extra), 11 * c + 1);
      const run = runBytes(
        { a: { bytes: qa.length, init: qa }, b: { bytes: qb.length, init: qb }, y: { bytes: qa.length } },
        pixels,
        (fn, ad) =>
          qs8Eltwise.emit(fn, s, v, {
            a: { addrBytes: ad['a']!, pixelStride: c + extra },
            b: { addrBytes: ad['b']!, pixelStride: c + extra },
            out: { addrBytes: ad['y']!, pixelStride: c + extra },
          }),
        3,
      );
      assert.deepEqual(run.guardViolations, []);
      const da = refDQ(
        dense(qa, pixels, c, c + extra, (n) => new Int8Array(n)),
        0.05,
        4,
      );
      const db = refDQ(
        dense(qb, bPixels, c, c + extra, (n) => new Int8Array(n)),
        1 / 255,
        -128,
      );
      const prod = Float32Array.from(da, (x, i) => {
        const p = Math.floor(i / c);
        const bi = (perImage === undefined ? p : Math.floor(p / perImage)) * c + (i % c);
        return Math.fround(x * db[bi]!);
      });
      const got = dense(run.buffers['y']!, pixels, c, c + extra, (n) => new Int8Array(n));
      const want = refQ(prod, 0.04, -7);
      if (perImage === undefined) {
        assert.deepEqual(got, want);
      } else {
        // The broadcast form premultiplies s_a / s_out: a rounding tie may land 1 LSB away, rarely.
        const off = want.filter((w, i) => w !== got[i]).length;
        assert.ok(
          want.every((w, i) => Math.abs(w - got[i]!) <= 1),
          'more than 1 LSB away',
        );
        assert.ok(off <= Math.max(1, want.length / 50), `${off} of ${want.length} values 1 LSB away`);
      }
    }
  }
});

test('qs8 lut maps every byte through its 256-entry table (dense runs, strided views, chunk edges)', () => {
  const table = randomInt8(256, 99);
  const packed = packLut(table);
  for (const [pixels, c, extra] of [
    ...SHAPES,
    [9, 37, 0] as [number, number, number],
    [3, 70, 5] as [number, number, number],
  ]) {
    const s: Qs8EltwiseSpec = { op: 'lut', pixels, channels: c, scaleA: 1, zeroA: 0 };
    const q = randomInt8(pixels * (c + extra), 13 * c + pixels);
    const run = runBytes(
      {
        q: { bytes: q.length, init: q },
        t: { bytes: 256, init: packed },
        y: { bytes: q.length, init: new Int8Array(q.length).fill(42) },
      },
      pixels,
      (fn, a) =>
        qs8Eltwise.emit(fn, s, v, {
          a: { addrBytes: a['q']!, pixelStride: c + extra },
          out: { addrBytes: a['y']!, pixelStride: c + extra },
          table: a['t']!,
        }),
      3,
    );
    assert.deepEqual(run.guardViolations, []);
    for (let p = 0; p < pixels; p++)
      for (let i = 0; i < c + extra; i++) {
        const k = p * (c + extra) + i;
        assert.equal(run.buffers['y']![k], i < c ? table[q[k]! + 128] : 42, `pixel ${p} channel ${i}`);
      }
  }
});

test('qs8 quantize from NCHW writes QuantizeLinear of every element to its NHWC byte (partial quads, batches)', () => {
  for (const [N, C, H, W, extra] of [
    [1, 3, 4, 4, 0],
    [2, 3, 5, 3, 1],
    [1, 1, 7, 1, 0],
    [3, 5, 2, 3, 2],
  ] as const) {
    const s: Qs8QuantizeNchwSpec = { batch: N, channels: C, pixels: H * W, scale: 0.02, zero: -7 };
    const x = Float32Array.from(
      { length: N * C * H * W },
      (_, i) => ((i * 29) % 97) * 0.05 - 2.4 + (i % 11 === 0 ? 9 : 0),
    );
    for (let i = 0; i < x.length; i += 4) x[i] = Math.round(x[i]! * 50) / 50 + 0.01; // ties
    const stride = C + extra;
    const run = runBytes(
      {
        x: { bytes: x.length * 4, init: new Int8Array(x.buffer) },
        y: { bytes: N * H * W * stride, init: new Int8Array(N * H * W * stride).fill(42) },
      },
      qs8QuantizeNchw.parallelExtent(s),
      (fn, a) => qs8QuantizeNchw.emit(fn, s, { input: a['x']!, output: { addrBytes: a['y']!, pixelStride: stride } }),
      3,
    );
    assert.deepEqual(run.guardViolations, []);
    const want = refQ(x, 0.02, -7);
    for (let b = 0; b < N; b++)
      for (let c = 0; c < stride; c++)
        for (let p = 0; p < H * W; p++) {
          const got = run.buffers['y']![(b * H * W + p) * stride + c];
          assert.equal(got, c < C ? want[(b * C + c) * H * W + p] : 42, `image ${b} channel ${c} pixel ${p}`);
        }
  }
});
