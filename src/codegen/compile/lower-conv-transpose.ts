/**
 * Kernels for the ConvTranspose rewrite (fuse-conv-transpose.ts). `ConvTransposeGemm` is a GEMM over input
 * pixels with B[ci, (ky, kx, co)] = W[ci, co, ky, kx] and the bias repeated per tap. `PixelScatter` moves each
 * input pixel's kH*kW*C block to its kH x kW output pixels: the parallel item is an input row, channels are
 * swept in f32x4 blocks (partial vectors stored lane by lane, so neighbouring concat slices stay intact).
 * Id: `f32-pixelscatter-<kH>x<kW>-16c-wasmsimd`.
 * TODO(kernels): the scatter belongs with the layout kernels (it is DepthToSpace with the taps outermost).
 */
import { EdgecnnError } from '../../ir/errors.js';
import { type Node, attrInts } from '../../ir/graph.js';
import { gemm } from '../kernels/gemm.js';
import { lanesOf, loadVec, storeVec, sweepChannels } from '../kernels/simd-loops.js';
import type { GemmSpec } from '../kernels/types.js';
import { type LoweredKernel, type SelectContext, gemmCost, pickVariant } from '../select.js';

const BLOCK_VECTORS = 4;

export function lowerConvTransposeGemm(node: Node, ctx: SelectContext): LoweredKernel | undefined {
  const x = ctx.operand(node.inputs[0]!).layout;
  const wt = ctx.operand(node.inputs[1]!).constant;
  const cols = ctx.operand(node.outputs[0]!).layout;
  const bias = node.inputs[2] ? ctx.operand(node.inputs[2]).constant : undefined;
  if (!x || x.layout !== 'nhwc' || !cols || cols.layout !== 'flat' || !wt || wt.dtype !== 'float32') return undefined;
  const [cin, cout, kH, kW] = wt.shape as [number, number, number, number];
  const taps = kH * kW;
  const n = taps * cout;
  const w = wt.data as Float32Array;
  const b = new Float32Array(cin * n);
  for (let ci = 0; ci < cin; ci++) {
    for (let co = 0; co < cout; co++) {
      for (let t = 0; t < taps; t++) b[ci * n + t * cout + co] = w[(ci * cout + co) * taps + t]!;
    }
  }
  const bv = bias?.data as Float32Array | undefined;
  const biasCols = bv ? Float32Array.from({ length: n }, (_, j) => bv[j % cout]!) : undefined;
  const [N, , H, W] = x.type.shape as [number, number, number, number];
  const spec: GemmSpec = { m: N * H * W, n, k: cin, epilogue: { activation: { kind: 'none' }, residual: false } };
  const v = pickVariant(gemm, spec, ctx.relaxedSimd, gemmCost);
  if (!v) return undefined;
  const packed = gemm.pack(spec, v, biasCols ? { b, layout: 'kn', bias: biasCols } : { b, layout: 'kn' });
  return {
    id: gemm.id(spec, v),
    parallelExtent: gemm.parallelExtent(spec, v),
    macs: gemm.macs(spec),
    bytesMoved: 4 * (spec.m * (spec.k + spec.n)) + packed.byteLength,
    fused: false,
    weights: [new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength)],
    scratchBytes: 0,
    zeroBytes: 0,
    inPlaceInputs: [],
    usesRelaxedSimd: v.isa === 'wasmrelaxed',
    emit(fn, a) {
      const ai = a.inputs[0];
      const co = a.outputs[0];
      if (ai === undefined || co === undefined)
        throw new EdgecnnError(`node '${node.name}': missing address`, 'internal');
      gemm.emit(fn, spec, v, {
        a: { addrBytes: ai, pixelStride: x.pixelStride },
        packedB: a.weights[0]!,
        c: { addrBytes: co, pixelStride: n },
      });
    },
  };
}

export function lowerPixelScatter(node: Node, ctx: SelectContext): LoweredKernel | undefined {
  const cols = ctx.operand(node.inputs[0]!).layout;
  const y = ctx.operand(node.outputs[0]!).layout;
  const [kH, kW] = attrInts(node, 'kernel_shape', [1, 1]) as [number, number];
  if (!cols || cols.layout !== 'flat' || !y || y.layout !== 'nhwc') return undefined;
  const [N, C, OH, OW] = y.type.shape as [number, number, number, number];
  const H = OH / kH;
  const W = OW / kW;
  if (!Number.isInteger(H) || !Number.isInteger(W) || cols.type.shape.join() !== [N * H * W, kH * kW * C].join()) {
    return undefined;
  }
  return {
    id: `f32-pixelscatter-${kH}x${kW}-16c-wasmsimd`,
    parallelExtent: N * H,
    macs: 0,
    bytesMoved: 8 * N * C * OH * OW,
    fused: false,
    weights: [],
    scratchBytes: 0,
    zeroBytes: 0,
    inPlaceInputs: [],
    usesRelaxedSimd: false,
    emit(fn, a) {
      const src = a.inputs[0];
      const dst = a.outputs[0];
      if (src === undefined || dst === undefined)
        throw new EdgecnnError(`node '${node.name}': missing address`, 'internal');
      const [start, end] = [fn.param(0), fn.param(1)];
      const [row, w, sp, dp, img, h] = fn.locals('i32', 6);
      const t = fn.locals('v128', BLOCK_VECTORS);
      const psB = y.pixelStride * 4;
      const srcPixB = kH * kW * C * 4;
      fn.localGet(start)
        .i32Const(W * srcPixB)
        .i32Mul()
        .i32Const(src)
        .i32Add()
        .localSet(sp);
      fn.forRange(
        row,
        (b) => b.localGet(start),
        (b) => b.localGet(end),
        1,
        () => {
          // Output pixel (img, h*kH, 0) for input row `row` = img*H + h.
          fn.localGet(row).i32Const(H).i32DivU().localSet(img);
          fn.localGet(row).i32Const(H).i32RemU().localSet(h);
          fn.localGet(img).i32Const(OH).i32Mul().localGet(h).i32Const(kH).i32Mul().i32Add();
          fn.i32Const(OW * psB)
            .i32Mul()
            .i32Const(dst)
            .i32Add()
            .localSet(dp);
          fn.forRange(
            w,
            (b) => b.i32Const(0),
            (b) => b.i32Const(W),
            1,
            () => {
              for (let ky = 0; ky < kH; ky++) {
                for (let kx = 0; kx < kW; kx++) {
                  const srcOff = (ky * kW + kx) * C * 4;
                  const dstOff = (ky * OW + kx) * psB;
                  sweepChannels(fn, C, BLOCK_VECTORS, (blk, off, constOff) => {
                    for (let j = 0; j < blk.vectors; j++) loadVec(fn, t[j]!, sp, off, srcOff + constOff + 16 * j);
                    for (let j = 0; j < blk.vectors; j++) {
                      storeVec(fn, t[j]!, dp, off, dstOff + constOff + 16 * j, lanesOf(blk, j));
                    }
                  });
                }
              }
              fn.localGet(sp).i32Const(srcPixB).i32Add().localSet(sp);
              fn.localGet(dp)
                .i32Const(kW * psB)
                .i32Add()
                .localSet(dp);
            },
          );
        },
      );
    },
  };
}
