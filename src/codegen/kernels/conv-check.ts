/**
 * Shared checker for convolution kernel families (conv, dwconv): builds a spec from ONNX-style parameters,
 * runs a variant in a KernelHarness on NHWC views that are channel slices of wider tensors (pixel stride > C,
 * non-zero channel offset), and compares with the naive ONNX Conv reference (`getOp('', 'Conv').reference`,
 * NCHW) plus residual and activation. Writes outside the output slice are detected through the sentinel.
 */
import assert from 'node:assert/strict';
import { getOp } from '../../ops/registry.js';
import type { Node } from '../../ir/graph.js';
import { f32 } from '../../ir/tensor.js';
import { KernelHarness, SENTINEL_BITS, randomFloats } from './harness.js';
import { applyActivationScalar } from './epilogue.js';
import {
  type Activation,
  type ConvAddresses,
  type ConvSpec,
  type ConvWeights,
  type KernelFamily,
  type KernelVariant,
  convOutputSize,
} from './types.js';

export interface ConvCase {
  batch?: number;
  inC: number;
  outC: number;
  inH: number;
  inW: number;
  kernel: [number, number];
  stride?: [number, number];
  /** [top, left, bottom, right] */
  pads?: [number, number, number, number];
  dilation?: [number, number];
  group?: number;
  act?: Activation;
  residual?: boolean;
  bias?: boolean;
}

export function convSpecOf(c: ConvCase): ConvSpec {
  const [sH, sW] = c.stride ?? [1, 1];
  const [dH, dW] = c.dilation ?? [1, 1];
  const [pt, pl, pb, pr] = c.pads ?? [0, 0, 0, 0];
  return {
    batch: c.batch ?? 1,
    inH: c.inH,
    inW: c.inW,
    inC: c.inC,
    outH: convOutputSize(c.inH, c.kernel[0], sH, pt, pb, dH),
    outW: convOutputSize(c.inW, c.kernel[1], sW, pl, pr, dW),
    outC: c.outC,
    kernelH: c.kernel[0],
    kernelW: c.kernel[1],
    strideH: sH,
    strideW: sW,
    padTop: pt,
    padLeft: pl,
    dilationH: dH,
    dilationW: dW,
    group: c.group ?? 1,
    epilogue: { activation: c.act ?? { kind: 'none' }, residual: !!c.residual },
  };
}

function convNode(c: ConvCase): Node {
  const s = convSpecOf(c);
  const [pt, pl, pb, pr] = c.pads ?? [0, 0, 0, 0];
  return {
    name: 'conv_under_test',
    opType: 'Conv',
    domain: '',
    inputs: ['X', 'W', 'B'],
    outputs: ['Y'],
    attributes: new Map([
      ['kernel_shape', { kind: 'ints', value: [s.kernelH, s.kernelW] }],
      ['strides', { kind: 'ints', value: [s.strideH, s.strideW] }],
      ['pads', { kind: 'ints', value: [pt, pl, pb, pr] }],
      ['dilations', { kind: 'ints', value: [s.dilationH, s.dilationW] }],
      ['group', { kind: 'int', value: s.group }],
    ]),
  };
}

/**
 * Run one case through `family`/`variant` and assert agreement with the reference. The step runs over its
 * parallel extent in two uneven calls ([0, extent/3), [extent/3, extent)), or in `chunks` nearly equal ones.
 */
export function checkConvCase<V extends KernelVariant>(
  family: KernelFamily<ConvSpec, V, ConvAddresses, ConvWeights>,
  vr: V,
  c: ConvCase,
  seed = 1,
  chunks?: number,
): void {
  const spec = convSpecOf(c);
  const { batch: N, inH, inW, inC, outH, outW, outC } = spec;
  const icPerGroup = inC / spec.group;
  const x = randomFloats(N * inC * inH * inW, seed);
  const w = randomFloats(outC * icPerGroup * spec.kernelH * spec.kernelW, seed + 1);
  const bias = c.bias === false ? undefined : randomFloats(outC, seed + 2);
  const ref = getOp('', 'Conv')!.reference(
    [
      f32([N, inC, inH, inW], x),
      f32([outC, icPerGroup, spec.kernelH, spec.kernelW], w),
      bias ? f32([outC], bias) : undefined,
    ],
    { node: convNode(c), opset: 13 },
  )[0]!;
  const refData = ref.data as Float32Array;

  const h = new KernelHarness(
    Math.ceil(((N * inH * inW * (inC + 3) + 3 * N * outH * outW * (outC + 6)) * 4) / 65536) + 4,
  );
  // Input: a channel slice at offset 1 of a tensor with pixel stride inC + 3.
  const psIn = inC + 3;
  const inBuf = h.alloc(N * inH * inW * psIn);
  const inView = h.f32(inBuf, N * inH * inW * psIn);
  for (let n = 0; n < N; n++)
    for (let ch = 0; ch < inC; ch++)
      for (let p = 0; p < inH * inW; p++)
        inView[(n * inH * inW + p) * psIn + 1 + ch] = x[(n * inC + ch) * inH * inW + p]!;
  const psOut = outC + 5;
  const outOff = 2;
  const outBuf = h.alloc(N * outH * outW * psOut);
  const psRes = outC + 1;
  const res = c.residual ? randomFloats(N * outH * outW * psRes, seed + 3) : undefined;
  const resBuf = res ? h.put(res) : undefined;
  const packed = h.put(family.pack(spec, vr, { weights: w, ...(bias ? { bias } : {}) }));
  const zb = family.zeroBytes(spec, vr);
  const zero = zb > 0 ? h.allocZero(zb) : undefined;
  const sb = family.scratchBytes?.(spec, vr) ?? 0;
  const scratch = sb > 0 ? h.alloc(Math.ceil(sb / 4)) : undefined;
  const id = family.id(spec, vr);
  const k = h.build(id, (fn) =>
    family.emit(fn, spec, vr, {
      input: { addrBytes: inBuf + 4, pixelStride: psIn },
      packedWeights: packed,
      output: { addrBytes: outBuf + outOff * 4, pixelStride: psOut },
      ...(resBuf !== undefined ? { residual: { addrBytes: resBuf, pixelStride: psRes } } : {}),
      ...(zero !== undefined ? { zero } : {}),
      ...(scratch !== undefined ? { scratch } : {}),
    }),
  );
  const extent = family.parallelExtent(spec, vr);
  if (chunks === undefined) {
    const mid = Math.floor(extent / 3);
    k.run(0, mid);
    k.run(mid, extent);
  } else {
    for (let i = 0; i < chunks; i++) k.run(Math.floor((i * extent) / chunks), Math.floor(((i + 1) * extent) / chunks));
  }

  const got = h.f32(outBuf, N * outH * outW * psOut);
  const bits = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const K = icPerGroup * spec.kernelH * spec.kernelW;
  const what = `${id} ${JSON.stringify(c)}`;
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < outH * outW; p++) {
      const pix = n * outH * outW + p;
      for (let j = 0; j < psOut; j++) {
        const idx = pix * psOut + j;
        const ch = j - outOff;
        if (ch < 0 || ch >= outC) {
          assert.equal(
            bits[idx],
            SENTINEL_BITS,
            `${what}: wrote outside the output slice at pixel ${pix} channel slot ${j}`,
          );
          continue;
        }
        let want = refData[(n * outC + ch) * outH * outW + p]!;
        if (res) want += res[pix * psRes + ch]!;
        want = applyActivationScalar(spec.epilogue.activation, want);
        const g = got[idx]!;
        if (!(Math.abs(g - want) <= 1e-5 * (Math.sqrt(K) + Math.abs(want)))) {
          assert.fail(`${what}: y[n=${n}, c=${ch}, pixel ${p}] = ${g}, want ${want}`);
        }
      }
    }
  }
}
