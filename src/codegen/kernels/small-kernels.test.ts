/**
 * Contract checks over every small kernel family (pools, eltwise, layout, copy, softmax, resize): non-empty
 * variant lists, ids in the `<dtype>-<family>[-<epilogue>]-<tile>-<isa>` grammar and distinct per variant;
 * and the harness's own detectors (guards, slice gaps), so that the kernel tests relying on them can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, pad, spatialSlice } from './copy.js';
import { vbinary, vunary } from './eltwise.js';
import { SENTINEL_BITS, firstWriteOutsideSlice, runKernel } from './kernel-harness.js';
import { channelShuffle, depthSpace, layout, transpose } from './layout.js';
import { channelPool, globalPool, pool } from './pool.js';
import { resize } from './resize.js';
import { softmax } from './softmax.js';
import type { KernelFamily, KernelVariant } from './types.js';

const ID = /^f32-[a-z0-9]+(-[a-z0-9.]+)*-(wasmsimd|wasmrelaxed)$/;

function check<S, V extends KernelVariant>(family: KernelFamily<S, V, unknown, unknown>, spec: S): void {
  assert.ok(family.variants.length > 0, `${family.family} has no variants`);
  const ids = family.variants.map((v) => family.id(spec, v));
  for (const id of ids) assert.match(id, ID, `${family.family}: id ${id}`);
  assert.equal(new Set(ids).size, ids.length, `${family.family}: variants share an id: ${ids.join(', ')}`);
  for (const v of family.variants) {
    assert.ok(family.supports(spec, v), `${family.family} ${family.id(spec, v)} refuses its sample spec`);
    assert.ok(family.parallelExtent(spec, v) >= 1);
    assert.equal(family.zeroBytes(spec, v), 0);
  }
}

test('every small family has variants, grammatical and distinct ids, and supports a plain spec', () => {
  const px = { pixels: 12, channels: 5, dense: true };
  check(pool, {
    kind: 'max',
    batch: 1,
    inH: 8,
    inW: 8,
    channels: 5,
    outH: 4,
    outW: 4,
    kernelH: 3,
    kernelW: 3,
    strideH: 2,
    strideW: 2,
    padTop: 1,
    padLeft: 1,
    padBottom: 0,
    padRight: 0,
    dilationH: 1,
    dilationW: 1,
    countIncludePad: false,
  });
  check(globalPool, { kind: 'avg', batch: 1, pixels: 49, channels: 5 });
  check(channelPool, { kind: 'max', pixels: 49, channels: 5 });
  check(vunary, { op: 'sigmoid', ...px });
  check(vbinary, {
    op: 'add',
    broadcast: 'channel',
    swapped: false,
    constantB: true,
    ...px,
    dense: false,
    activation: { kind: 'relu' },
  });
  check(layout, { direction: 'to-nhwc', batch: 1, channels: 3, height: 4, width: 4 });
  check(channelShuffle, { pixels: 4, channels: 8, groups: 2 });
  check(transpose, { shape: [1, 4, 3, 8], perm: [0, 2, 1, 3] });
  check(depthSpace, { kind: 'depth-to-space-crd', blocksize: 2, batch: 1, channels: 8, height: 3, width: 3 });
  check(copy, px);
  check(pad, {
    mode: 'reflect',
    value: 0,
    batch: 1,
    inH: 4,
    inW: 4,
    channels: 5,
    padTop: 1,
    padLeft: 1,
    outH: 6,
    outW: 6,
  });
  check(spatialSlice, {
    batch: 1,
    inH: 8,
    inW: 8,
    channels: 3,
    outH: 4,
    outW: 4,
    startH: 1,
    startW: 0,
    stepH: 2,
    stepW: 2,
  });
  check(softmax, { rows: 1, cols: 1000 });
  check(resize, {
    mode: 'linear',
    coord: 'half_pixel',
    nearest: 'round_prefer_floor',
    batch: 1,
    inH: 4,
    inW: 4,
    channels: 5,
    outH: 8,
    outW: 8,
    scaleH: 2,
    scaleW: 2,
  });
});

test('the harness reports a kernel that writes past its buffer or into a slice gap', () => {
  // stores one float at byte offset `at` from buffer y
  const storeAt = (at: number) => (fn: Parameters<Parameters<typeof runKernel>[2]>[0], a: Record<string, number>) => {
    fn.i32Const(a['y']! + at)
      .f32Const(1)
      .f32Store(0, 2);
  };
  assert.deepEqual(runKernel({ y: { floats: 8 } }, 1, storeAt(28)).guardViolations, []);
  assert.deepEqual(runKernel({ y: { floats: 8 } }, 1, storeAt(32)).guardViolations, ['y']);
  assert.deepEqual(runKernel({ y: { floats: 8 } }, 1, storeAt(-4)).guardViolations, ['y']);
  // a view of 3 channels at offset 1 in 5-float pixels: float 4 (pixel 0's last) is a gap
  const y = runKernel({ y: { floats: 10 } }, 1, storeAt(16)).buffers['y']!;
  assert.equal(firstWriteOutsideSlice(y, 2, 5, 1, 3), 4);
  const untouched = runKernel({ y: { floats: 10 } }, 1, storeAt(8)).buffers['y']!;
  assert.equal(firstWriteOutsideSlice(untouched, 2, 5, 1, 3), -1);
  assert.equal(new Uint32Array(untouched.buffer)[0], SENTINEL_BITS);
});

test('emitting a spec a family does not support throws a named internal error instead of generating code', () => {
  const never = null as never;
  const ref = { addrBytes: 0, pixelStride: 4 };
  assert.throws(
    () =>
      pool.emit(
        never,
        {
          kind: 'avg',
          batch: 1,
          inH: 4,
          inW: 4,
          channels: 4,
          outH: 2,
          outW: 2,
          kernelH: 0,
          kernelW: 3,
          strideH: 1,
          strideW: 1,
          padTop: 0,
          padLeft: 0,
          padBottom: 0,
          padRight: 0,
          dilationH: 1,
          dilationW: 1,
          countIncludePad: false,
        },
        pool.variants[0]!,
        { input: ref, output: ref },
      ),
    /avgpool-0x3s1.*unsupported spec/,
  );
  assert.throws(
    () =>
      vunary.emit(never, { op: 'gelu' as never, pixels: 4, channels: 4, dense: true }, vunary.variants[0]!, {
        input: ref,
        output: ref,
      }),
    /unsupported spec/,
  );
  assert.throws(
    () => copy.emit(never, { pixels: 0, channels: 4, dense: true }, copy.variants[0]!, { input: ref, output: ref }),
    /unsupported spec/,
  );
  assert.throws(
    () => softmax.emit(never, { rows: 1, cols: 0 }, softmax.variants[0]!, { input: ref, output: ref }),
    /unsupported spec/,
  );
  assert.throws(
    () =>
      channelShuffle.emit(never, { pixels: 4, channels: 10, groups: 3 }, channelShuffle.variants[0]!, {
        input: ref,
        output: ref,
      }),
    /bad spec/,
  );
});
