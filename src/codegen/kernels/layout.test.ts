import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Attribute, Node } from '../../ir/graph.js';
import { f32 } from '../../ir/tensor.js';
import { getOp } from '../../ops/registry.js';
import { firstWriteOutsideSlice, fromNhwc, randomFloats, runKernel, toNhwc } from './kernel-harness.js';
import {
  type ChannelShuffleSpec,
  type DepthSpaceKind,
  type DepthSpaceSpec,
  type LayoutSpec,
  type TransposeSpec,
  channelShuffle,
  depthSpace,
  layout,
  transpose,
} from './layout.js';

const SHAPES: [number, number, number, number][] = [
  [1, 3, 5, 7],
  [2, 5, 3, 4],
  [1, 1, 1, 1],
  [1, 8, 2, 9],
  [1, 13, 4, 4],
  [1, 4, 3, 3],
  [1, 2, 6, 1],
  [1, 3, 224, 5],
];

for (const shape of SHAPES) {
  const [N, C, H, W] = shape;
  test(`NCHW <-> NHWC ${shape.join('x')} round trip is exact, into and out of channel slices`, () => {
    const x = randomFloats(N * C * H * W, C + H);
    const stride = C + 3;
    for (const v of layout.variants) {
      const to: LayoutSpec = { direction: 'to-nhwc', batch: N, channels: C, height: H, width: W };
      const run = runKernel(
        { x: { floats: x.length, init: x }, y: { floats: N * H * W * stride } },
        layout.parallelExtent(to, v),
        (fn, a) => layout.emit(fn, to, v, { nchw: a['x']!, nhwc: { addrBytes: a['y']! + 8, pixelStride: stride } }),
        3,
      );
      assert.deepEqual(run.guardViolations, []);
      const y = run.buffers['y']!;
      assert.equal(firstWriteOutsideSlice(y, N * H * W, stride, 2, C), -1, 'to-nhwc wrote outside its slice');
      assert.deepEqual(fromNhwc(y, shape, stride, 2), x);

      const back: LayoutSpec = { ...to, direction: 'to-nchw' };
      const run2 = runKernel(
        { y: { floats: y.length, init: y }, z: { floats: x.length } },
        layout.parallelExtent(back, v),
        (fn, a) => layout.emit(fn, back, v, { nchw: a['z']!, nhwc: { addrBytes: a['y']! + 8, pixelStride: stride } }),
        2,
      );
      assert.deepEqual(run2.guardViolations, []);
      assert.deepEqual(run2.buffers['z']!, x);
    }
  });
}

function shuffleReference(x: Float32Array, shape: [number, number, number, number], g: number): Float32Array {
  const [N, C, H, W] = shape;
  const node: Node = {
    name: 't',
    opType: 'Transpose',
    domain: '',
    inputs: ['x'],
    outputs: ['y'],
    attributes: new Map([['perm', { kind: 'ints', value: [0, 2, 1, 3, 4] }]]),
  };
  return getOp('', 'Transpose')!.reference([f32([N, g, C / g, H, W], x)], { node, opset: 13 })[0]!.data as Float32Array;
}

for (const [g, C] of [
  [2, 2],
  [2, 6],
  [2, 10],
  [2, 16],
  [2, 40],
  [2, 48],
  [2, 58],
  [3, 9],
  [4, 8],
  [1, 5],
] as const) {
  test(`channel shuffle g=${g} C=${C} matches Reshape-Transpose-Reshape`, () => {
    const shape: [number, number, number, number] = [1, C, 3, 5];
    const x = randomFloats(C * 15, C);
    const want = shuffleReference(x, shape, g);
    const spec: ChannelShuffleSpec = { pixels: 15, channels: C, groups: g };
    for (const v of channelShuffle.variants) {
      assert.ok(channelShuffle.supports(spec, v));
      const run = runKernel(
        { x: { floats: 15 * (C + 1), init: toNhwc(x, shape, C + 1, 1) }, y: { floats: 15 * (C + 2) } },
        channelShuffle.parallelExtent(spec, v),
        (fn, a) =>
          channelShuffle.emit(fn, spec, v, {
            input: { addrBytes: a['x']! + 4, pixelStride: C + 1 },
            output: { addrBytes: a['y']!, pixelStride: C + 2 },
          }),
        2,
      );
      assert.deepEqual(run.guardViolations, []);
      assert.equal(firstWriteOutsideSlice(run.buffers['y']!, 15, C + 2, 0, C), -1, 'wrote outside its slice');
      assert.deepEqual(fromNhwc(run.buffers['y']!, shape, C + 2), want);
    }
  });
}

test('channel shuffle refuses channel counts that do not split into the groups', () => {
  assert.equal(channelShuffle.supports({ pixels: 4, channels: 10, groups: 3 }, channelShuffle.variants[0]!), false);
});

const TRANSPOSES: [number[], number[]][] = [
  [
    [2, 3, 4, 5],
    [0, 2, 1, 3],
  ],
  [
    [2, 3, 4, 5],
    [0, 1, 3, 2],
  ],
  [
    [2, 3, 4, 5],
    [3, 2, 1, 0],
  ],
  [
    [1, 3, 6, 9],
    [0, 2, 3, 1],
  ],
  [[7], [0]],
  [
    [5, 1],
    [1, 0],
  ],
  [
    [1, 40, 8, 13],
    [0, 2, 1, 3],
  ],
  [
    [2, 3, 5, 4, 3],
    [0, 3, 1, 4, 2],
  ],
  [
    [2, 1, 3, 2, 2, 3],
    [5, 4, 3, 2, 1, 0],
  ],
];

for (const [shape, perm] of TRANSPOSES) {
  test(`transpose ${shape.join('x')} perm ${perm.join(',')} matches the reference exactly`, () => {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomFloats(n, n);
    const node: Node = {
      name: 't',
      opType: 'Transpose',
      domain: '',
      inputs: ['x'],
      outputs: ['y'],
      attributes: new Map([['perm', { kind: 'ints', value: perm }]]),
    };
    const want = getOp('', 'Transpose')!.reference([f32(shape, x)], { node, opset: 13 })[0]!;
    const spec: TransposeSpec = { shape, perm };
    for (const v of transpose.variants) {
      assert.ok(transpose.supports(spec, v));
      const run = runKernel(
        { x: { floats: n, init: x }, y: { floats: n } },
        transpose.parallelExtent(spec, v),
        (fn, a) => transpose.emit(fn, spec, v, { input: a['x']!, output: a['y']! }),
        3,
      );
      assert.deepEqual(run.guardViolations, []);
      assert.deepEqual(run.buffers['y']!, want.data);
    }
  });
}

test('transpose refuses a perm that is not a permutation', () => {
  assert.equal(transpose.supports({ shape: [2, 3], perm: [0, 0] }, transpose.variants[0]!), false);
  assert.equal(
    transpose.supports({ shape: [2, 3, 1, 1, 1, 1, 1], perm: [0, 1, 2, 3, 4, 5, 6] }, transpose.variants[0]!),
    false,
  );
});

const DEPTH_SPACE: { kind: DepthSpaceKind; b: number; shape: [number, number, number, number] }[] = [
  { kind: 'depth-to-space-dcr', b: 2, shape: [1, 12, 3, 4] },
  { kind: 'depth-to-space-dcr', b: 3, shape: [2, 18, 2, 3] },
  { kind: 'depth-to-space-crd', b: 2, shape: [1, 20, 3, 2] },
  { kind: 'depth-to-space-crd', b: 3, shape: [1, 9, 2, 2] },
  { kind: 'space-to-depth', b: 2, shape: [1, 5, 4, 6] },
  { kind: 'space-to-depth', b: 3, shape: [2, 3, 6, 3] },
];

for (const c of DEPTH_SPACE) {
  test(`${c.kind} b=${c.b} ${c.shape.join('x')} matches the reference on channel-slice views`, () => {
    const [N, C, H, W] = c.shape;
    const x = randomFloats(N * C * H * W, C * H);
    const opType = c.kind === 'space-to-depth' ? 'SpaceToDepth' : 'DepthToSpace';
    const attributes = new Map<string, Attribute>([['blocksize', { kind: 'int', value: c.b }]]);
    if (c.kind !== 'space-to-depth')
      attributes.set('mode', { kind: 'string', value: c.kind === 'depth-to-space-crd' ? 'CRD' : 'DCR' });
    const node: Node = { name: 'd', opType, domain: '', inputs: ['x'], outputs: ['y'], attributes };
    const want = getOp('', opType)!.reference([f32(c.shape, x)], { node, opset: 13 })[0]!;
    const [, oC, oH, oW] = want.shape as [number, number, number, number];
    const spec: DepthSpaceSpec = { kind: c.kind, blocksize: c.b, batch: N, channels: C, height: H, width: W };
    for (const v of depthSpace.variants) {
      assert.ok(depthSpace.supports(spec, v));
      const run = runKernel(
        {
          x: { floats: N * H * W * (C + 1), init: toNhwc(x, c.shape, C + 1, 1) },
          y: { floats: N * oH * oW * (oC + 2) },
        },
        depthSpace.parallelExtent(spec, v),
        (fn, a) =>
          depthSpace.emit(fn, spec, v, {
            input: { addrBytes: a['x']! + 4, pixelStride: C + 1 },
            output: { addrBytes: a['y']! + 4, pixelStride: oC + 2 },
          }),
        2,
      );
      assert.deepEqual(run.guardViolations, []);
      const y = run.buffers['y']!;
      assert.equal(firstWriteOutsideSlice(y, N * oH * oW, oC + 2, 1, oC), -1, 'wrote outside its slice');
      assert.deepEqual(fromNhwc(y, [N, oC, oH, oW], oC + 2, 1), want.data);
    }
  });
}
