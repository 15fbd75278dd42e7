import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from '../../ir/graph.js';
import { f32, i64 } from '../../ir/tensor.js';
import { getOp } from '../../ops/registry.js';
import { type CopySpec, PAD_MODES, type PadSpec, type SpatialSliceSpec, copy, pad, spatialSlice } from './copy.js';
import { firstWriteOutsideSlice, fromNhwc, randomFloats, runKernel, toNhwc } from './kernel-harness.js';

for (const C of [1, 3, 5, 13, 16, 17, 64, 100]) {
  test(`channel-slice copy of ${C} channels between views (strided and dense, chunked) is exact`, () => {
    const P = 11;
    const x = randomFloats(P * C, C);
    for (const v of copy.variants) {
      for (const dense of [false, true]) {
        const si = dense ? C : C + 5;
        const so = dense ? C : C + 3;
        const spec: CopySpec = { pixels: P, channels: C, dense };
        const run = runKernel(
          { x: { floats: P * si, init: toNhwc(x, [1, C, 1, P], si, dense ? 0 : 4) }, y: { floats: P * so } },
          copy.parallelExtent(spec, v),
          (fn, a) =>
            copy.emit(fn, spec, v, {
              input: { addrBytes: a['x']! + (dense ? 0 : 16), pixelStride: si },
              output: { addrBytes: a['y']! + (dense ? 0 : 12), pixelStride: so },
            }),
          3,
        );
        const id = `${copy.id(spec, v)} C=${C}`;
        assert.deepEqual(run.guardViolations, [], id);
        const y = run.buffers['y']!;
        assert.equal(firstWriteOutsideSlice(y, P, so, dense ? 0 : 3, C), -1, `${id} wrote outside its slice`);
        assert.deepEqual(fromNhwc(y, [1, C, 1, P], so, dense ? 0 : 3), x, id);
      }
    }
  });
}

test('a dense copy with mismatched views is refused', () => {
  const v = copy.variants[0]!;
  assert.throws(
    () =>
      copy.emit(null as never, { pixels: 2, channels: 4, dense: true }, v, {
        input: { addrBytes: 0, pixelStride: 5 },
        output: { addrBytes: 64, pixelStride: 4 },
      }),
    /does not fit/,
  );
});

const PAD_CASES: { shape: [number, number, number, number]; pads: [number, number, number, number] }[] = [
  { shape: [1, 3, 4, 5], pads: [1, 1, 1, 1] },
  { shape: [2, 13, 3, 4], pads: [2, 0, 1, 3] },
  { shape: [1, 17, 5, 5], pads: [0, 2, 2, 0] },
  { shape: [1, 5, 4, 6], pads: [-1, 1, 1, -2] },
  { shape: [1, 1, 3, 3], pads: [2, 2, 2, 2] },
];

for (const mode of PAD_MODES) {
  for (const c of PAD_CASES) {
    const [N, C, H, W] = c.shape;
    const [pt, pl, pb, pr] = c.pads;
    test(`Pad ${mode} ${c.shape.join('x')} pads ${c.pads} matches the reference`, (t) => {
      const spec: PadSpec = {
        mode,
        value: 0.75,
        batch: N,
        inH: H,
        inW: W,
        channels: C,
        padTop: pt,
        padLeft: pl,
        outH: H + pt + pb,
        outW: W + pl + pr,
      };
      const v = pad.variants[0]!;
      if (!pad.supports(spec, v)) {
        assert.equal(mode, 'reflect', 'only reflect refuses pads >= the size');
        assert.ok(Math.max(pt, pb) >= H || Math.max(pl, pr) >= W);
        t.skip('reflect pads must be smaller than the axis');
        return;
      }
      const x = randomFloats(N * C * H * W, C + 1);
      const node: Node = {
        name: 'p',
        opType: 'Pad',
        domain: '',
        inputs: ['x', 'p', 'v'],
        outputs: ['y'],
        attributes: new Map([['mode', { kind: 'string', value: mode }]]),
      };
      const want = getOp('', 'Pad')!.reference(
        [f32(c.shape, x), i64([8], [0, 0, pt, pl, 0, 0, pb, pr]), f32([], [0.75])],
        { node, opset: 13 },
      )[0]!;
      const outShape = want.shape as [number, number, number, number];
      assert.deepEqual(outShape, [N, C, spec.outH, spec.outW]);
      const so = C + 2;
      const run = runKernel(
        {
          x: { floats: N * H * W * (C + 1), init: toNhwc(x, c.shape, C + 1, 1) },
          y: { floats: N * spec.outH * spec.outW * so },
        },
        pad.parallelExtent(spec, v),
        (fn, a) =>
          pad.emit(fn, spec, v, {
            input: { addrBytes: a['x']! + 4, pixelStride: C + 1 },
            output: { addrBytes: a['y']! + 8, pixelStride: so },
          }),
        3,
      );
      assert.deepEqual(run.guardViolations, []);
      const y = run.buffers['y']!;
      assert.equal(firstWriteOutsideSlice(y, N * spec.outH * spec.outW, so, 2, C), -1, 'wrote outside its slice');
      assert.deepEqual(fromNhwc(y, outShape, so, 2), want.data);
    });
  }
}

const SLICES: {
  shape: [number, number, number, number];
  starts: [number, number];
  ends: [number, number];
  steps: [number, number];
}[] = [
  { shape: [1, 3, 8, 8], starts: [0, 0], ends: [8, 8], steps: [2, 2] },
  { shape: [1, 3, 8, 8], starts: [1, 0], ends: [8, 8], steps: [2, 2] },
  { shape: [2, 13, 7, 9], starts: [1, 2], ends: [6, 9], steps: [1, 3] },
  { shape: [1, 5, 6, 7], starts: [5, 6], ends: [-10, 0], steps: [-2, -1] },
  { shape: [1, 17, 4, 5], starts: [3, 1], ends: [4, 2], steps: [1, 1] },
];

for (const c of SLICES) {
  test(`spatial Slice ${c.shape.join('x')} starts ${c.starts} ends ${c.ends} steps ${c.steps} matches the reference`, () => {
    const [N, C, H, W] = c.shape;
    const x = randomFloats(N * C * H * W, C + H);
    const node: Node = {
      name: 's',
      opType: 'Slice',
      domain: '',
      inputs: ['x', 'b', 'e', 'a', 't'],
      outputs: ['y'],
      attributes: new Map(),
    };
    const want = getOp('', 'Slice')!.reference(
      [f32(c.shape, x), i64([2], c.starts), i64([2], c.ends), i64([2], [2, 3]), i64([2], c.steps)],
      { node, opset: 13 },
    )[0]!;
    const [, , outH, outW] = want.shape as [number, number, number, number];
    const spec: SpatialSliceSpec = {
      batch: N,
      inH: H,
      inW: W,
      channels: C,
      outH,
      outW,
      startH: c.starts[0],
      startW: c.starts[1],
      stepH: c.steps[0],
      stepW: c.steps[1],
    };
    const v = spatialSlice.variants[0]!;
    assert.ok(spatialSlice.supports(spec, v));
    const run = runKernel(
      {
        x: { floats: N * H * W * (C + 1), init: toNhwc(x, c.shape, C + 1, 1) },
        y: { floats: N * outH * outW * (C + 3) },
      },
      spatialSlice.parallelExtent(spec, v),
      (fn, a) =>
        spatialSlice.emit(fn, spec, v, {
          input: { addrBytes: a['x']! + 4, pixelStride: C + 1 },
          output: { addrBytes: a['y']! + 8, pixelStride: C + 3 },
        }),
      2,
    );
    assert.deepEqual(run.guardViolations, []);
    const y = run.buffers['y']!;
    assert.equal(firstWriteOutsideSlice(y, N * outH * outW, C + 3, 2, C), -1, 'wrote outside its slice');
    assert.deepEqual(fromNhwc(y, [N, C, outH, outW], C + 3, 2), want.data);
  });
}

test('a spatial slice reaching outside the input is refused', () => {
  const s: SpatialSliceSpec = {
    batch: 1,
    inH: 4,
    inW: 4,
    channels: 2,
    outH: 3,
    outW: 2,
    startH: 0,
    startW: 0,
    stepH: 2,
    stepW: 1,
  };
  assert.equal(spatialSlice.supports(s, spatialSlice.variants[0]!), false);
  assert.equal(spatialSlice.supports({ ...s, outH: 2 }, spatialSlice.variants[0]!), true);
});
