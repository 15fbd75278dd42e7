/**
 * Copies between NHWC views: a strided channel-slice copy (Concat/Split when a view cannot be used), and
 * spatial Pad (constant, edge, reflect) over H and W. Dense copies are one `memory.copy` of the item range;
 * strided ones sweep each pixel's channels 16 at a time with lane-exact tails (never writing past the slice).
 * Pad's parallel dimension is output rows; each output pixel maps to a source pixel (or to the constant):
 * edge clamps the index, reflect mirrors it without repeating the border, as ONNX Pad defines.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { lanesOf, loadVec, MEMORY_BOUND, requireSupported, storeVec, sweepChannels } from './simd-loops.js';
import type { ActivationRef, KernelFamily, KernelVariant } from './types.js';

export interface CopySpec {
  pixels: number;
  channels: number;
  /** Both views are dense (pixel stride == channels): one memory.copy. */
  dense: boolean;
}

export interface CopyAddresses {
  input: ActivationRef;
  output: ActivationRef;
}

export interface CopyVariant extends KernelVariant {
  readonly blockVectors: number;
}

const COPY_VARIANTS: readonly CopyVariant[] = [{ tile: '16c', isa: 'wasmsimd', blockVectors: 4 }];

function checkView(what: string, r: ActivationRef, channels: number, dense: boolean): void {
  if (r.addrBytes % 4 !== 0 || r.pixelStride < channels || (dense && r.pixelStride !== channels)) {
    throw new EdgecnnError(`${what}: view ${JSON.stringify(r)} does not fit ${channels} channels`, 'internal');
  }
}

/** Copy the channel slice of every pixel from one view to another (out of place). */
export const copy: KernelFamily<CopySpec, CopyVariant, CopyAddresses, undefined> = {
  family: 'copy',
  variants: COPY_VARIANTS,
  supports(s) {
    return s.pixels >= 1 && s.channels >= 1;
  },
  id(s, v) {
    return `f32-copy${s.dense ? '-dense' : ''}-${v.tile}-${v.isa}`;
  },
  parallelExtent(s) {
    return s.pixels;
  },
  ...MEMORY_BOUND,
  emit(fn, s, v, a) {
    const id = requireSupported(this, s, v);
    checkView(id, a.input, s.channels, s.dense);
    checkView(id, a.output, s.channels, s.dense);
    const start = fn.param(0);
    const end = fn.param(1);
    const pixB = s.channels * 4;
    if (s.dense) {
      fn.localGet(start).i32Const(pixB).i32Mul().i32Const(a.output.addrBytes).i32Add();
      fn.localGet(start).i32Const(pixB).i32Mul().i32Const(a.input.addrBytes).i32Add();
      fn.localGet(end).localGet(start).i32Sub().i32Const(pixB).i32Mul().memoryCopy();
      return;
    }
    const [p, ip, op] = fn.locals('i32', 3);
    const tmp = fn.locals('v128', v.blockVectors);
    fn.localGet(start)
      .i32Const(a.input.pixelStride * 4)
      .i32Mul()
      .i32Const(a.input.addrBytes)
      .i32Add()
      .localSet(ip);
    fn.localGet(start)
      .i32Const(a.output.pixelStride * 4)
      .i32Mul()
      .i32Const(a.output.addrBytes)
      .i32Add()
      .localSet(op);
    fn.forRange(
      p,
      (b) => b.localGet(start),
      (b) => b.localGet(end),
      1,
      () => {
        copyPixel(fn, s.channels, v.blockVectors, ip, op, tmp);
        fn.localGet(ip)
          .i32Const(a.input.pixelStride * 4)
          .i32Add()
          .localSet(ip);
        fn.localGet(op)
          .i32Const(a.output.pixelStride * 4)
          .i32Add()
          .localSet(op);
      },
    );
  },
};

function copyPixel(
  fn: FunctionBuilder,
  channels: number,
  blockVectors: number,
  ip: Local,
  op: Local,
  tmp: Local[],
): void {
  sweepChannels(fn, channels, blockVectors, (blk, off, constOff) => {
    for (let j = 0; j < blk.vectors; j++) loadVec(fn, tmp[j]!, ip, off, constOff + 16 * j);
    for (let j = 0; j < blk.vectors; j++) storeVec(fn, tmp[j]!, op, off, constOff + 16 * j, lanesOf(blk, j));
  });
}

/**
 * The loop nest pad and slice share: each output row `row` (= b * outH + oy) of the step's [start, end), with
 * b set, `rowStart` run and `op` at the row's first output pixel; then `pixel` for ox in [0, outW), after
 * which op steps to the next output pixel.
 */
function forEachOutputRow(
  fn: FunctionBuilder,
  s: { outH: number; outW: number },
  output: ActivationRef,
  l: { row: Local; b: Local; op: Local; ox: Local },
  rowStart: () => void,
  pixel: () => void,
): void {
  const opsB = output.pixelStride * 4;
  fn.forRange(
    l.row,
    (bb) => bb.localGet(fn.param(0)),
    (bb) => bb.localGet(fn.param(1)),
    1,
    () => {
      fn.localGet(l.row).i32Const(s.outH).i32DivU().localSet(l.b);
      rowStart();
      fn.localGet(l.row)
        .i32Const(s.outW * opsB)
        .i32Mul()
        .i32Const(output.addrBytes)
        .i32Add()
        .localSet(l.op);
      fn.forRange(
        l.ox,
        (bb) => bb.i32Const(0),
        (bb) => bb.i32Const(s.outW),
        1,
        () => {
          pixel();
          fn.localGet(l.op).i32Const(opsB).i32Add().localSet(l.op);
        },
      );
    },
  );
}

// ---- Pad ----------------------------------------------------------------------------------------------------

export const PAD_MODES = ['constant', 'edge', 'reflect'] as const;
export type PadMode = (typeof PAD_MODES)[number];

/** ONNX Pad over the spatial axes of an NHWC tensor (pads on N and C must be zero). Negative pads crop. */
export interface PadSpec {
  mode: PadMode;
  /** The constant for mode 'constant'. */
  value: number;
  batch: number;
  inH: number;
  inW: number;
  channels: number;
  padTop: number;
  padLeft: number;
  outH: number;
  outW: number;
}

/** Spatial padding. */
export const pad: KernelFamily<PadSpec, CopyVariant, CopyAddresses, undefined> = {
  family: 'pad',
  variants: COPY_VARIANTS,
  supports(s) {
    if (!(s.batch >= 1 && s.channels >= 1 && s.outH >= 1 && s.outW >= 1 && s.inH >= 1 && s.inW >= 1)) return false;
    const padBottom = s.outH - s.inH - s.padTop;
    const padRight = s.outW - s.inW - s.padLeft;
    // reflect needs pads < size (no repeated border); edge/reflect never read outside because of clamping
    if (s.mode === 'reflect') {
      return Math.max(s.padTop, padBottom) < s.inH && Math.max(s.padLeft, padRight) < s.inW;
    }
    return true;
  },
  id(s, v) {
    return `f32-pad-${s.mode}-${v.tile}-${v.isa}`;
  },
  parallelExtent(s) {
    return s.batch * s.outH;
  },
  ...MEMORY_BOUND,
  emit(fn, s, v, a) {
    const id = requireSupported(this, s, v);
    checkView(id, a.input, s.channels, false);
    checkView(id, a.output, s.channels, false);
    const psB = a.input.pixelStride * 4;
    const [row, b, iy, ix, ox, inRow, ip, op, rowOk] = fn.locals('i32', 9);
    const tmp = fn.locals('v128', v.blockVectors);
    const fill = fn.local('v128');
    fn.v128ConstF32(s.value).localSet(fill);
    // idx (local, holding o - pad) -> source index in [0, n), or -1 when it falls in constant padding
    const mapIndex = (idx: Local, n: number): void => {
      if (s.mode === 'edge') {
        fn.i32Const(0).localGet(idx).localGet(idx).i32Const(0).i32LtS().select().localSet(idx);
        fn.i32Const(n - 1)
          .localGet(idx)
          .localGet(idx)
          .i32Const(n - 1)
          .i32GtS()
          .select()
          .localSet(idx);
      } else if (s.mode === 'reflect') {
        fn.i32Const(0).localGet(idx).i32Sub().localGet(idx).localGet(idx).i32Const(0).i32LtS().select().localSet(idx);
        fn.i32Const(2 * (n - 1))
          .localGet(idx)
          .i32Sub()
          .localGet(idx)
          .localGet(idx)
          .i32Const(n - 1)
          .i32GtS()
          .select();
        fn.localSet(idx);
      }
    };
    forEachOutputRow(
      fn,
      s,
      a.output,
      { row, b, op, ox },
      () => {
        fn.localGet(row).localGet(b).i32Const(s.outH).i32Mul().i32Sub().i32Const(s.padTop).i32Sub().localSet(iy);
        mapIndex(iy, s.inH);
        // rowOk = 0 <= iy < inH (always true after edge/reflect mapping)
        fn.localGet(iy).i32Const(s.inH).i32LtU().localSet(rowOk);
        fn.localGet(b)
          .i32Const(s.inH)
          .i32Mul()
          .localGet(iy)
          .i32Add()
          .i32Const(s.inW * psB)
          .i32Mul();
        fn.i32Const(a.input.addrBytes).i32Add().localSet(inRow);
      },
      () => {
        fn.localGet(ox).i32Const(s.padLeft).i32Sub().localSet(ix);
        mapIndex(ix, s.inW);
        fn.localGet(rowOk).localGet(ix).i32Const(s.inW).i32LtU().i32And().if();
        fn.localGet(ix).i32Const(psB).i32Mul().localGet(inRow).i32Add().localSet(ip);
        copyPixel(fn, s.channels, v.blockVectors, ip, op, tmp);
        fn.else();
        sweepChannels(fn, s.channels, v.blockVectors, (blk, off, constOff) => {
          for (let j = 0; j < blk.vectors; j++) storeVec(fn, fill, op, off, constOff + 16 * j, lanesOf(blk, j));
        });
        fn.end();
      },
    );
  },
};

// ---- spatial Slice ---------------------------------------------------------------------------------------------

/**
 * ONNX Slice over H and W of an NHWC tensor with resolved starts and steps (negative steps walk backwards):
 * output pixel (y, x) is input pixel (startH + y * stepH, startW + x * stepW). Channel slices are views and
 * need no kernel; e.g. YOLOv5's Focus takes x[:, :, ::2, ::2] and its three phase-shifted siblings.
 */
export interface SpatialSliceSpec {
  batch: number;
  inH: number;
  inW: number;
  channels: number;
  outH: number;
  outW: number;
  startH: number;
  startW: number;
  stepH: number;
  stepW: number;
}

/** Spatial slice with steps (a strided pixel gather). */
export const spatialSlice: KernelFamily<SpatialSliceSpec, CopyVariant, CopyAddresses, undefined> = {
  family: 'slice',
  variants: COPY_VARIANTS,
  supports(s) {
    if (!(s.batch >= 1 && s.channels >= 1 && s.outH >= 1 && s.outW >= 1 && s.stepH !== 0 && s.stepW !== 0))
      return false;
    const inside = (start: number, step: number, n: number, len: number): boolean =>
      start >= 0 && start < len && start + (n - 1) * step >= 0 && start + (n - 1) * step < len;
    return inside(s.startH, s.stepH, s.outH, s.inH) && inside(s.startW, s.stepW, s.outW, s.inW);
  },
  id(s, v) {
    return `f32-slice-s${s.stepH}x${s.stepW}-${v.tile}-${v.isa}`;
  },
  parallelExtent(s) {
    return s.batch * s.outH;
  },
  ...MEMORY_BOUND,
  emit(fn, s, v, a) {
    const id = requireSupported(this, s, v);
    checkView(id, a.input, s.channels, false);
    checkView(id, a.output, s.channels, false);
    const psB = a.input.pixelStride * 4;
    const [row, b, ip, op, ox] = fn.locals('i32', 5);
    const tmp = fn.locals('v128', v.blockVectors);
    forEachOutputRow(
      fn,
      s,
      a.output,
      { row, b, op, ox },
      () => {
        // ip = pixel (b, startH + oy * stepH, startW)
        fn.localGet(b).i32Const(s.inH).i32Mul();
        fn.localGet(row).localGet(b).i32Const(s.outH).i32Mul().i32Sub().i32Const(s.stepH).i32Mul().i32Add();
        fn.i32Const(s.startH).i32Add().i32Const(s.inW).i32Mul().i32Const(s.startW).i32Add().i32Const(psB).i32Mul();
        fn.i32Const(a.input.addrBytes).i32Add().localSet(ip);
      },
      () => {
        copyPixel(fn, s.channels, v.blockVectors, ip, op, tmp);
        fn.localGet(ip)
          .i32Const(s.stepW * psB)
          .i32Add()
          .localSet(ip);
      },
    );
  },
};
