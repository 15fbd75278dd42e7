/**
 * A ConvTranspose whose kernel equals its stride (no padding, dilation 1, one group: the upsampling heads of
 * segmentation/detection nets) gives every output pixel exactly one input pixel and tap, so it is a GEMM plus
 * a scatter: cols[pixel, (ky, kx, co)] = X[pixel, :] . W[:, co, ky, kx] + B[co], then
 * Y[n, h*sH + ky, w*sW + kx, co] = cols[(n, h, w), (ky, kx, co)]. This rewrite replaces the node by
 * `edgecnn:ConvTransposeGemm` (X, W, B?) -> cols (flat [N*H*W, kH*kW*Cout]) and `edgecnn:PixelScatter`
 * (cols) -> Y (attributes `kernel_shape`), both computed by kernels (lower-conv-transpose.ts).
 */
import { type Node, attrInt, attrInts, attrString } from '../../ir/graph.js';
import type { PreparedGraph } from './prepare.js';

/** The rewritten node list and the types of the new intermediate values (added to `prep.types`). */
export function fuseConvTranspose(prep: PreparedGraph, nodes: readonly Node[]): Node[] {
  const out: Node[] = [];
  for (const n of nodes) {
    const rewritten = n.opType === 'ConvTranspose' && n.domain === '' ? rewrite(prep, n) : undefined;
    if (rewritten) out.push(...rewritten);
    else out.push(n);
  }
  return out;
}

function rewrite(prep: PreparedGraph, n: Node): Node[] | undefined {
  const x = prep.types.get(n.inputs[0]!);
  const w = prep.constants.get(n.inputs[1]!);
  const y = prep.types.get(n.outputs[0]!);
  if (!x || !w || !y || x.dtype !== 'float32' || w.dtype !== 'float32' || x.shape.length !== 4) return undefined;
  if (n.inputs[2] && prep.constants.get(n.inputs[2])?.dtype !== 'float32') return undefined;
  const [N, , H, W] = x.shape as [number, number, number, number];
  const [, cout, kH, kW] = w.shape as [number, number, number, number];
  const strides = attrInts(n, 'strides', [1, 1]);
  const same = (a: number[] | undefined, b: number[]): boolean => a === undefined || a.join() === b.join();
  if (attrInt(n, 'group', 1) !== 1 || strides.join() !== `${kH},${kW}`) return undefined;
  if (!same(attrInts(n, 'pads'), [0, 0, 0, 0]) || !same(attrInts(n, 'dilations'), [1, 1])) return undefined;
  if (!same(attrInts(n, 'output_padding'), [0, 0]) || !['NOTSET', ''].includes(attrString(n, 'auto_pad', 'NOTSET'))) {
    return undefined;
  }
  if (y.shape.join() !== [N, cout, H * kH, W * kW].join()) return undefined; // output_shape asking for more
  let cols = `${n.outputs[0]}__cols`;
  while (prep.types.has(cols)) cols += '_';
  prep.types.set(cols, { dtype: 'float32', shape: [N * H * W, kH * kW * cout] });
  return [
    {
      name: `${n.name}__gemm`,
      opType: 'ConvTransposeGemm',
      domain: 'edgecnn',
      inputs: n.inputs.slice(0, 3),
      outputs: [cols],
      attributes: new Map(),
    },
    {
      name: n.name,
      opType: 'PixelScatter',
      domain: 'edgecnn',
      inputs: [cols],
      outputs: [n.outputs[0]!],
      attributes: new Map([['kernel_shape', { kind: 'ints', value: [kH, kW] }]]),
    },
  ];
}
