import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Attribute, Node } from '../../ir/graph.js';
import { type Tensor, f32 } from '../../ir/tensor.js';
import { getOp } from '../../ops/registry.js';
import { applyActivationScalar } from './epilogue.js';
import {
  BINARY_OPS,
  type BinarySpec,
  ExpEmitter,
  type Broadcast,
  UNARY_ONNX,
  UNARY_OPS,
  type UnaryOp,
  type UnarySpec,
  vbinary,
  vunary,
} from './eltwise.js';
import {
  firstWriteOutsideSlice,
  fromNhwc,
  maxToleranceRatio,
  randomFloats,
  runKernel,
  toNhwc,
} from './kernel-harness.js';
import type { Activation } from './types.js';

function node(opType: string, floats: Record<string, number> = {}): Node {
  const attributes = new Map<string, Attribute>();
  for (const [k, v] of Object.entries(floats)) attributes.set(k, { kind: 'float', value: v });
  return { name: `test_${opType}`, opType, domain: '', inputs: ['a', 'b'], outputs: ['y'], attributes };
}

/** Runs vunary densely over `xs` (any length) and returns the outputs. */
function runUnaryDense(op: UnaryOp, xs: Float32Array, extra: Partial<UnarySpec> = {}): Float32Array {
  const spec: UnarySpec = { op, pixels: xs.length, channels: 1, dense: true, ...extra };
  const v = vunary.variants[0]!;
  const run = runKernel(
    { x: { floats: xs.length, init: xs }, y: { floats: xs.length } },
    vunary.parallelExtent(spec, v),
    (fn, a) =>
      vunary.emit(fn, spec, v, {
        input: { addrBytes: a['x']!, pixelStride: 1 },
        output: { addrBytes: a['y']!, pixelStride: 1 },
      }),
  );
  assert.deepEqual(run.guardViolations, []);
  return run.buffers['y']!;
}

const FLT_MIN = 1.1754943508222875e-38;

test('vector exp: relative error < 1e-6 over [-104, 89], exact saturation, NaN/Inf behaviour', () => {
  const n = 200003;
  const xs = new Float32Array(n + 12);
  for (let i = 0; i < n; i++) xs[i] = -104 + (193 * i) / n;
  xs.set([88, -88, 88.72, 88.73, -87.33, 200, -200, Infinity, -Infinity, NaN, 0, -0], n);
  const got = runUnaryDense('exp', xs);
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const want = Math.exp(xs[i]!);
    const g = got[i]!;
    const wantF = Math.fround(want);
    if (wantF === Infinity) {
      assert.equal(g, Infinity, `exp(${xs[i]})`);
      continue;
    }
    // below FLT_MIN the result is denormal: allow one unit of the denormal spacing on top
    const err = Math.abs(g - want) / (want >= FLT_MIN ? want : FLT_MIN);
    if (want >= FLT_MIN) worst = Math.max(worst, err);
    else assert.ok(Math.abs(g - want) <= 1e-6 * want + 1.5e-45, `exp(${xs[i]}) = ${g}, want ${want}`);
  }
  assert.ok(worst < 1e-6, `max relative error ${worst}`);
  const tail = [...got.subarray(n)];
  assert.ok(Math.abs(tail[0]! / Math.exp(88) - 1) < 1e-6);
  assert.ok(Math.abs(tail[1]! / Math.exp(-88) - 1) < 1e-5, `exp(-88) = ${tail[1]}`); // denormal: ~22 bits
  assert.ok(Number.isFinite(tail[2]!) && tail[3] === Infinity, `exp(88.72) = ${tail[2]}, exp(88.73) = ${tail[3]}`);
  assert.deepEqual(tail.slice(5), [Infinity, 0, Infinity, 0, NaN, 1, 1]);
});

test('vector tanh: relative error < 1e-6 everywhere, odd, saturates, NaN stays NaN', () => {
  const n = 100001;
  const xs = new Float32Array(n + 8);
  for (let i = 0; i < n; i++) xs[i] = -12 + (24 * i) / n;
  xs.set([1e-30, -1e-30, 1e-6, 0.624999, 0.625, 50, -Infinity, NaN], n);
  const got = runUnaryDense('tanh', xs);
  let worst = 0;
  for (let i = 0; i < xs.length - 1; i++) {
    const want = Math.tanh(xs[i]!);
    const err = want === 0 ? Math.abs(got[i]!) : Math.abs(got[i]! - want) / Math.abs(want);
    worst = Math.max(worst, err);
  }
  assert.ok(worst < 1e-6, `max relative error ${worst}`);
  assert.equal(got[n + 5], 1);
  assert.equal(got[n + 6], -1);
  assert.ok(Number.isNaN(got[n + 7]!));
});

/** Reference for a unary op through the op table (Silu composed as x * sigmoid(x)). */
function unaryReference(op: UnaryOp, x: Tensor, attrs: Record<string, number>, clip?: [number, number]): Float32Array {
  if (op === 'mish') {
    const sp = getOp('', 'Softplus')!.reference([x], { node: node('Softplus'), opset: 13 })[0]!;
    const t = getOp('', 'Tanh')!.reference([sp], { node: node('Tanh'), opset: 13 })[0]!;
    return getOp('', 'Mul')!.reference([x, t], { node: node('Mul'), opset: 13 })[0]!.data as Float32Array;
  }
  if (op === 'affine') {
    const m = getOp('', 'Mul')!.reference([x, f32([], [attrs['alpha']!])], { node: node('Mul'), opset: 13 })[0]!;
    return getOp('', 'Add')!.reference([m, f32([], [attrs['beta']!])], { node: node('Add'), opset: 13 })[0]!
      .data as Float32Array;
  }
  if (op === 'silu') {
    const s = getOp('', 'Sigmoid')!.reference([x], { node: node('Sigmoid'), opset: 13 })[0]!;
    return getOp('', 'Mul')!.reference([x, s], { node: node('Mul'), opset: 13 })[0]!.data as Float32Array;
  }
  const inputs: (Tensor | undefined)[] = [x];
  if (clip) inputs.push(f32([], [clip[0]]), f32([], [clip[1]]));
  const o = getOp('', UNARY_ONNX[op])!;
  return o.reference(inputs, { node: node(o.opType, attrs), opset: 14 })[0]!.data as Float32Array;
}

const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [1, 3, 5, 7],
  [2, 5, 3, 3],
  [1, 13, 4, 5],
  [1, 16, 2, 2],
  [1, 37, 3, 1],
  [1, 64, 2, 3],
];

for (const op of UNARY_OPS) {
  test(`unary ${op} matches the reference (dense and strided views, every variant, chunked)`, () => {
    const attrs: Record<string, number> = {};
    const extra: Partial<UnarySpec> = {};
    let clip: [number, number] | undefined;
    if (op === 'leakyrelu') extra.alpha = attrs['alpha'] = 0.13;
    if (op === 'elu') extra.alpha = attrs['alpha'] = 0.7;
    if (op === 'selu') {
      extra.alpha = attrs['alpha'] = 1.5;
      extra.gamma = attrs['gamma'] = 1.1;
    }
    if (op === 'affine') {
      extra.alpha = attrs['alpha'] = -1.3;
      extra.beta = attrs['beta'] = 0.21;
    }
    if (op === 'hardsigmoid') {
      extra.alpha = attrs['alpha'] = 0.25;
      extra.beta = attrs['beta'] = 0.4;
    }
    if (op === 'clip') {
      clip = [-0.5, 1.25];
      extra.min = clip[0];
      extra.max = clip[1];
    }
    const positive = op === 'sqrt' || op === 'reciprocal';
    for (const shape of SHAPES) {
      const [N, C, H, W] = shape;
      const x = randomFloats(N * C * H * W, 11 + C, positive ? 0.01 : -6, 6);
      const want = unaryReference(op, f32(shape, x), attrs, clip);
      for (const v of vunary.variants) {
        for (const dense of [true, false]) {
          const inStride = dense ? C : C + 2;
          const outStride = dense ? C : C + 1;
          const spec: UnarySpec = { op, pixels: N * H * W, channels: C, dense, ...extra };
          const run = runKernel(
            {
              x: { floats: N * H * W * inStride, init: toNhwc(x, shape, inStride, dense ? 0 : 1) },
              y: { floats: N * H * W * outStride },
            },
            vunary.parallelExtent(spec, v),
            (fn, a) =>
              vunary.emit(fn, spec, v, {
                input: { addrBytes: a['x']! + (dense ? 0 : 4), pixelStride: inStride },
                output: { addrBytes: a['y']!, pixelStride: outStride },
              }),
            3,
          );
          const id = `${vunary.id(spec, v)} ${shape.join('x')} ${dense ? 'dense' : 'strided'}`;
          assert.deepEqual(run.guardViolations, [], id);
          assert.equal(
            firstWriteOutsideSlice(run.buffers['y']!, N * H * W, outStride, 0, C),
            -1,
            `${id} wrote outside its slice`,
          );
          const got = fromNhwc(run.buffers['y']!, shape, outStride, 0);
          const r = maxToleranceRatio(got, want, 1e-6, 2e-6);
          assert.ok(r <= 1, `${id}: error ratio ${r}`);
        }
      }
    }
  });
}

const ONNX_BINARY: Record<string, string> = {
  add: 'Add',
  sub: 'Sub',
  mul: 'Mul',
  div: 'Div',
  max: 'Max',
  min: 'Min',
  prelu: 'PRelu',
};
const ACTS: Activation[] = [{ kind: 'none' }, { kind: 'relu' }, { kind: 'sigmoid' }, { kind: 'clip', min: 0, max: 6 }];

for (const broadcast of ['none', 'channel', 'scalar', 'pixel'] as Broadcast[]) {
  test(`binary ops with broadcast '${broadcast}' match the reference (swapped, constant, fused activation, views)`, () => {
    const cases: [number, number, number, number][] = [
      [1, 5, 3, 3],
      [2, 13, 2, 3],
      [1, 16, 1, 5],
      [1, 35, 2, 2],
      [1, 1, 3, 3],
    ];
    for (const shape of cases) {
      const [N, C, H, W] = shape;
      const P = N * H * W;
      const a = randomFloats(N * C * H * W, 5 + C);
      const bShapes: Record<Broadcast, number[]> = {
        none: shape,
        channel: [N, C, 1, 1],
        scalar: [1],
        pixel: [N, 1, H, W],
      };
      const bShape = bShapes[broadcast];
      let b = randomFloats(
        bShape.reduce((x, y) => x * y, 1),
        9 + C,
        0.5,
        3,
      );
      // PRelu slopes of both signs
      const slopes = randomFloats(b.length, 19 + C, -1, 1);
      for (const op of BINARY_OPS) {
        for (const swapped of broadcast === 'none' || op === 'prelu' ? [false] : [false, true]) {
          for (const constantB of broadcast === 'none' || broadcast === 'pixel' ? [false] : [false, true]) {
            // a constant per-channel B is one vector for all images
            const bs = constantB && broadcast === 'channel' ? [1, C, 1, 1] : bShape;
            const bAll = op === 'prelu' ? slopes : b;
            const bData = constantB && broadcast === 'channel' ? bAll.subarray(0, C) : bAll;
            const o = getOp('', ONNX_BINARY[op]!)!;
            const ins = swapped ? [f32(bs, bData), f32(shape, a)] : [f32(shape, a), f32(bs, bData)];
            const base = o.reference(ins, { node: node(o.opType), opset: 14 })[0]!.data as Float32Array;
            for (const act of ACTS) {
              const want = base.map((x) => applyActivationScalar(act, x));
              for (const v of vbinary.variants) {
                for (const dense of broadcast === 'channel' || broadcast === 'pixel' ? [false] : [true, false]) {
                  const spec: BinarySpec = {
                    op,
                    broadcast,
                    swapped,
                    constantB,
                    pixels: P,
                    channels: C,
                    dense,
                    activation: act,
                    ...(broadcast === 'channel' && !constantB ? { imagePixels: H * W } : {}),
                  };
                  assert.ok(vbinary.supports(spec, v));
                  const sa = dense ? C : C + 3;
                  const so = dense ? C : C + 1;
                  const sb = broadcast === 'channel' ? C + 2 : broadcast === 'pixel' ? 3 : sa;
                  const bufs: Record<string, { floats: number; init?: Float32Array }> = {
                    a: { floats: P * sa, init: toNhwc(a, shape, sa) },
                    y: { floats: P * so },
                  };
                  if (constantB) {
                    const packed = vbinary.pack(spec, v, { values: bData });
                    bufs['w'] = { floats: packed.length, init: packed };
                  } else if (broadcast === 'scalar') bufs['b'] = { floats: 1, init: bData };
                  else bufs['b'] = { floats: (broadcast === 'channel' ? N : P) * sb, init: toNhwc(bData, bs, sb) };
                  const run = runKernel(
                    bufs,
                    vbinary.parallelExtent(spec, v),
                    (fn, ad) =>
                      vbinary.emit(fn, spec, v, {
                        a: { addrBytes: ad['a']!, pixelStride: sa },
                        output: { addrBytes: ad['y']!, pixelStride: so },
                        ...(constantB ? { packedB: ad['w']! } : { b: { addrBytes: ad['b']!, pixelStride: sb } }),
                      }),
                    3,
                  );
                  const id = `${vbinary.id(spec, v)} ${shape.join('x')}${dense ? ' dense' : ''}${constantB ? ' const' : ''}`;
                  assert.deepEqual(run.guardViolations, [], id);
                  assert.equal(
                    firstWriteOutsideSlice(run.buffers['y']!, P, so, 0, C),
                    -1,
                    `${id} wrote outside its slice`,
                  );
                  const got = fromNhwc(run.buffers['y']!, shape, so);
                  const r = maxToleranceRatio(got, want, 1e-6, 2e-6);
                  assert.ok(r <= 1, `${id}: error ratio ${r}`);
                }
              }
            }
          }
        }
      }
      b = b.slice();
    }
  });
}

test('vector log: relative error < 1e-6 from 1e-37 to 3e38, and log(0), log(inf), log(<0), log(NaN)', () => {
  const n = 100002;
  const xs = new Float32Array(n + 6);
  for (let i = 0; i < n; i++) xs[i] = Math.exp(-85 + (173 * i) / n);
  xs.set([0, Infinity, -1, NaN, 1, 1.0000001], n);
  const run = runKernel({ x: { floats: xs.length, init: xs }, y: { floats: xs.length } }, xs.length / 4, (fn, a) => {
    const ex = new ExpEmitter(fn, false, true);
    const [i, p] = fn.locals('i32', 2);
    const v = fn.local('v128');
    fn.forRange(
      i,
      (b) => b.localGet(fn.param(0)),
      (b) => b.localGet(fn.param(1)),
      1,
      () => {
        fn.localGet(i).i32Const(16).i32Mul().localSet(p);
        fn.localGet(p).v128Load(a['x']!).localSet(v);
        ex.log(v, v);
        fn.localGet(p).localGet(v).v128Store(a['y']!);
      },
    );
  });
  const got = run.buffers['y']!;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const want = Math.log(xs[i]!);
    worst = Math.max(worst, Math.abs(got[i]! - want) / Math.max(Math.abs(want), 1e-3));
  }
  assert.ok(worst < 1e-6, `max relative error ${worst}`);
  assert.deepEqual([...got.subarray(n, n + 5)], [-Infinity, Infinity, NaN, NaN, 0]);
  assert.ok(Math.abs(got[n + 5]! / Math.log(Math.fround(1.0000001)) - 1) < 1e-6);
});

test('softplus and mish over a wide range (no overflow, tiny results keep their precision)', () => {
  const n = 20001;
  const xs = new Float32Array(n);
  for (let i = 0; i < n; i++) xs[i] = -90 + (190 * i) / (n - 1);
  const sp = runUnaryDense('softplus', xs);
  const mish = runUnaryDense('mish', xs);
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    const want = Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    assert.ok(Math.abs(sp[i]! - want) <= 1e-6 * want + 1.5e-45, `softplus(${x}) = ${sp[i]}, want ${want}`);
    const wm = x * Math.tanh(want);
    // below x = -87 softplus(x) is denormal, so x * tanh(it) carries |x| denormal spacings of error
    assert.ok(
      Math.abs(mish[i]! - wm) <= 1e-6 * Math.abs(wm) + Math.abs(x) * 3e-45,
      `mish(${x}) = ${mish[i]}, want ${wm}`,
    );
  }
});

test('binary kernels may write in place over A', () => {
  const P = 7;
  const C = 13;
  const a = randomFloats(P * C, 3);
  const b = randomFloats(C, 4);
  const spec: BinarySpec = {
    op: 'mul',
    broadcast: 'channel',
    swapped: false,
    constantB: false,
    pixels: P,
    channels: C,
    dense: false,
    activation: { kind: 'none' },
  };
  const v = vbinary.variants[0]!;
  const run = runKernel(
    { a: { floats: P * C, init: a }, b: { floats: C, init: b } },
    vbinary.parallelExtent(spec, v),
    (fn, ad) =>
      vbinary.emit(fn, spec, v, {
        a: { addrBytes: ad['a']!, pixelStride: C },
        b: { addrBytes: ad['b']!, pixelStride: C },
        output: { addrBytes: ad['a']!, pixelStride: C },
      }),
  );
  const got = run.buffers['a']!;
  for (let i = 0; i < P * C; i++) assert.equal(got[i], Math.fround(a[i]! * b[i % C]!));
});

test('specs the kernels cannot compute are refused', () => {
  const v = vbinary.variants[0]!;
  const base: BinarySpec = {
    op: 'add',
    broadcast: 'channel',
    swapped: false,
    constantB: false,
    pixels: 10,
    channels: 4,
    dense: false,
    activation: { kind: 'none' },
  };
  assert.equal(vbinary.supports({ ...base, dense: true }, v), false);
  assert.equal(vbinary.supports({ ...base, imagePixels: 3 }, v), false);
  assert.throws(() => vbinary.pack(base, v, { values: new Float32Array(3) }), /expected 4/);
  assert.throws(
    () =>
      vbinary.emit(null as never, { ...base, dense: true }, v, {
        a: { addrBytes: 0, pixelStride: 4 },
        output: { addrBytes: 0, pixelStride: 4 },
      }),
    /unsupported/,
  );
});
