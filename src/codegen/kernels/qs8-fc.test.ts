import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from '../../ir/graph.js';
import { makeTensor } from '../../ir/tensor.js';
import { Gemm } from '../../ops/matmul.js';
import { QS8_FC_VARIANTS, type Qs8FcSpec, type Qs8FcVariant, qs8Fc } from './qs8-fc.js';
import { randomInt8, runBytes } from './qs8-testing.js';

test('qs8 fully connected with a float output matches the Gemm reference on the dequantized operands, every variant', () => {
  // [batch, inputs, outputs, extra input stride, zero point]: below, at and above the 16-input block and the 4-
  // and 8-row groups; the outputs of every variant are bit-identical (the same i32 sums, the same float epilogue).
  for (const [N, K, M, extra, z] of [
    [1, 5, 3, 0, -11],
    [1, 16, 4, 0, 0],
    [2, 37, 9, 3, -128],
    [1, 8, 13, 0, 127],
    [1, 576, 1000, 0, -11],
    [3, 1024, 10, 1, 5],
    [1, 1280, 1000, 0, -128],
  ] as const) {
    let first: Float32Array | undefined;
    for (const v of QS8_FC_VARIANTS) {
      for (const chunks of [1, 2, 3]) {
        // The first run is checked against the reference; every other one must equal it bit for bit.
        const got = runFc(N, K, M, extra, z, v, chunks, !first);
        if (first) assert.deepEqual(got, first, `${v.tile} [${N}, ${K}, ${M}] in ${chunks} chunks`);
        else first = got;
      }
    }
  }
});

function runFc(
  N: number,
  K: number,
  M: number,
  extra: number,
  z: number,
  v: Qs8FcVariant,
  chunks: number,
  checkReference: boolean,
): Float32Array {
  const s: Qs8FcSpec = { batch: N, inputs: K, outputs: M, inZero: z };
  const inScale = 0.021;
  const wScales = Float32Array.from({ length: M }, (_, m) => 0.004 + 0.001 * (m % 7));
  const w = randomInt8(M * K, K + M, -127, 127);
  const bias = Float32Array.from({ length: M }, (_, m) => ((m * 37) % 11) * 0.1 - 0.5);
  const x = randomInt8(N * (K + extra), 3 * K);
  const packed = qs8Fc.pack(s, v, {
    weights: w,
    scales: Float32Array.from(wScales, (ws) => Math.fround(inScale * ws)),
    bias,
  });
  const run = runBytes(
    { x: { bytes: x.length, init: x }, w: { bytes: packed.length, init: packed }, y: { bytes: N * M * 4 } },
    qs8Fc.parallelExtent(s, v),
    (fn, a) =>
      qs8Fc.emit(fn, s, v, {
        input: { addrBytes: a['x']!, pixelStride: K + extra },
        outputAddr: a['y']!,
        packedWeights: a['w']!,
      }),
    chunks,
  );
  assert.deepEqual(run.guardViolations, []);
  const got = new Float32Array(run.buffers['y']!.buffer.slice(0, N * M * 4));
  if (!checkReference) return got;
  const dx = Float32Array.from({ length: N * K }, (_, i) => {
    const b = Math.floor(i / K);
    return (x[b * (K + extra) + (i % K)]! - z) * inScale;
  });
  const dw = Float32Array.from(w, (q, i) => q * wScales[Math.floor(i / K)]!);
  const node: Node = {
    name: 'g',
    opType: 'Gemm',
    domain: '',
    inputs: [],
    outputs: ['y'],
    attributes: new Map([['transB', { kind: 'int', value: 1 }]]),
  };
  const want = Gemm.reference(
    [makeTensor('float32', [N, K], dx), makeTensor('float32', [M, K], dw), makeTensor('float32', [M], bias)],
    { node, opset: 13 },
  )[0]!.data as Float32Array;
  const big = Math.max(...Array.from(want, Math.abs));
  for (let i = 0; i < want.length; i++)
    assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5 * big + 1e-6, `${v.tile} output ${i}: ${got[i]} vs ${want[i]}`);
  return got;
}
