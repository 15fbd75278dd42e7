/**
 * Kernel for `edgecnn:FakeQuantize` (see fuse-fake-quant.ts): y = (clamp(nearest(x / s1) + z1, qmin, qmax) - z2)
 * * s2 per element, f32x4.nearest rounding half to even exactly as QuantizeLinear does, the division done in
 * float32 like the reference. Work items are pixels (NHWC views with pixel strides), channels swept in blocks
 * of 16. In place is safe. Id: `f32-fakequant-16c-wasmsimd`.
 * TODO(kernels): this belongs in kernels/eltwise.ts as a unary op; it lives here until that family has it.
 */
import { EdgecnnError } from '../../ir/errors.js';
import { type Node, attrFloat } from '../../ir/graph.js';
import { lanesOf, loadVec, storeVec, sweepChannels } from '../kernels/simd-loops.js';
import type { LoweredKernel, SelectContext } from '../select.js';

const BLOCK_VECTORS = 4;

export function lowerFakeQuantize(node: Node, ctx: SelectContext): LoweredKernel | undefined {
  const x = ctx.operand(node.inputs[0]!).layout;
  const y = ctx.operand(node.outputs[0]!).layout;
  if (!x || !y || x.layout === 'js' || x.layout !== y.layout || x.type.shape.join() !== y.type.shape.join())
    return undefined;
  const shape = x.type.shape;
  const channels = x.layout === 'nhwc' ? shape[1]! : shape.length > 0 ? shape[shape.length - 1]! : 1;
  const pixels = channels === 0 ? 0 : shape.reduce((a, b) => a * b, 1) / channels;
  const strideOf = (l: typeof x): number => (l.layout === 'nhwc' ? l.pixelStride : channels);
  const [s1, z1, s2, z2, lo, hi] = ['scale_q', 'zero_q', 'scale_dq', 'zero_dq', 'qmin', 'qmax'].map((a) =>
    attrFloat(node, a, NaN),
  ) as [number, number, number, number, number, number];
  if ([s1, z1, s2, z2, lo, hi].some(Number.isNaN) || pixels < 1) return undefined;
  return {
    id: 'f32-fakequant-16c-wasmsimd',
    parallelExtent: pixels,
    macs: 0,
    bytesMoved: 8 * pixels * channels,
    fused: true,
    weights: [],
    scratchBytes: 0,
    zeroBytes: 0,
    inPlaceInputs: [0],
    usesRelaxedSimd: false,
    emit(fn, a) {
      const inAddr = a.inputs[0];
      const outAddr = a.outputs[0];
      if (inAddr === undefined || outAddr === undefined) {
        throw new EdgecnnError(`node '${node.name}': missing address`, 'internal');
      }
      const [start, end] = [fn.param(0), fn.param(1)];
      const [p, ip, op] = fn.locals('i32', 3);
      const [vs1, vz1, vs2, vz2, vlo, vhi] = fn.locals('v128', 6);
      const t = fn.locals('v128', BLOCK_VECTORS);
      for (const [l, v] of [
        [vs1, s1],
        [vz1, z1],
        [vs2, s2],
        [vz2, z2],
        [vlo, lo],
        [vhi, hi],
      ] as const) {
        fn.v128ConstF32(v).localSet(l);
      }
      const inStride = strideOf(x) * 4;
      const outStride = strideOf(y) * 4;
      fn.localGet(start).i32Const(inStride).i32Mul().i32Const(inAddr).i32Add().localSet(ip);
      fn.localGet(start).i32Const(outStride).i32Mul().i32Const(outAddr).i32Add().localSet(op);
      fn.forRange(
        p,
        (b) => b.localGet(start),
        (b) => b.localGet(end),
        1,
        () => {
          sweepChannels(fn, channels, BLOCK_VECTORS, (blk, off, constOff) => {
            for (let j = 0; j < blk.vectors; j++) {
              const v = t[j]!;
              loadVec(fn, v, ip, off, constOff + 16 * j);
              fn.localGet(v).localGet(vs1).f32x4Div().f32x4Nearest().localGet(vz1).f32x4Add();
              fn.localGet(vlo).f32x4Max().localGet(vhi).f32x4Min();
              fn.localGet(vz2).f32x4Sub().localGet(vs2).f32x4Mul().localSet(v);
              storeVec(fn, v, op, off, constOff + 16 * j, lanesOf(blk, j));
            }
          });
          fn.localGet(ip).i32Const(inStride).i32Add().localSet(ip);
          fn.localGet(op).i32Const(outStride).i32Add().localSet(op);
        },
      );
    },
  };
}
