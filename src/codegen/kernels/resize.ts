/**
 * Resize (nearest and bilinear) over NHWC views, any scales. Per axis, every output index gets its taps at
 * compile time (`pack`: i0, i1 as i32 bits and the weight w of i1, three 4-byte words per output row, then per
 * output column), computed with ONNX's coordinate_transformation_mode and nearest_mode; the kernel walks
 * output rows (the parallel dimension), reads two source rows (one for nearest) and per output pixel blends
 * the four source pixels' channels: top = a + wx (b - a), bottom likewise, out = top + wy (bottom - top).
 * An optional fused addend (an FPN's upsample-then-add) is added before the store; it may alias the output.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { lanesOf, loadVec, MEMORY_BOUND, requireSupported, storeVec, sweepChannels } from './simd-loops.js';
import type { ActivationRef, KernelFamily, KernelVariant } from './types.js';

export const RESIZE_MODES = ['nearest', 'linear'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];
export const RESIZE_COORD_MODES = [
  'half_pixel',
  'half_pixel_symmetric',
  'pytorch_half_pixel',
  'align_corners',
  'asymmetric',
  'tf_half_pixel_for_nn',
] as const;
export type ResizeCoordMode = (typeof RESIZE_COORD_MODES)[number];
/** `legacy` = opset-10 Resize / Upsample rounding (ceil when downsampling, floor otherwise). */
export const RESIZE_NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil', 'legacy'] as const;
export type ResizeNearestMode = (typeof RESIZE_NEAREST_MODES)[number];

export interface ResizeSpec {
  mode: ResizeMode;
  coord: ResizeCoordMode;
  nearest: ResizeNearestMode;
  batch: number;
  inH: number;
  inW: number;
  channels: number;
  outH: number;
  outW: number;
  /** The scales the coordinate formulas divide by (given scales, or out/in when sizes were given). */
  scaleH: number;
  scaleW: number;
  /** in * scale, the float resized length ONNX's formulas use (defaults to outH / outW). */
  lengthH?: number;
  lengthW?: number;
  /** Fused residual: out = resize(x) + addend (an output-shaped view), e.g. an FPN's upsample-and-add. */
  addend?: boolean;
}

export interface ResizeAddresses {
  input: ActivationRef;
  output: ActivationRef;
  /** The packed tap tables. */
  tables: number;
  /** Required when `spec.addend`. */
  addend?: ActivationRef;
}

export interface ResizeVariant extends KernelVariant {
  readonly blockVectors: number;
}

const RESIZE_VARIANTS: readonly ResizeVariant[] = [
  { tile: '16c', isa: 'wasmsimd', blockVectors: 4 },
  { tile: '8c', isa: 'wasmsimd', blockVectors: 2 },
];

/** One output index's taps: out = (1 - w) * in[i0] + w * in[i1]. */
export interface AxisTap {
  i0: number;
  i1: number;
  w: number;
}

/** The taps of every output index of one axis (ONNX Resize semantics for the supported modes). */
export function resizeAxisTaps(
  inLen: number,
  outLen: number,
  scale: number,
  length: number,
  mode: ResizeMode,
  coord: ResizeCoordMode,
  nearest: ResizeNearestMode,
): AxisTap[] {
  const last = inLen - 1;
  const clamp = (i: number): number => Math.min(last, Math.max(0, i));
  const taps: AxisTap[] = [];
  for (let x = 0; x < outLen; x++) {
    let xo: number;
    switch (coord) {
      case 'half_pixel':
        xo = (x + 0.5) / scale - 0.5;
        break;
      case 'half_pixel_symmetric':
        xo = (inLen / 2) * (1 - outLen / length) + (x + 0.5) / scale - 0.5;
        break;
      case 'pytorch_half_pixel':
        xo = length > 1 ? (x + 0.5) / scale - 0.5 : 0;
        break;
      case 'align_corners':
        xo = length === 1 ? 0 : (x * (inLen - 1)) / (length - 1);
        break;
      case 'asymmetric':
        xo = x / scale;
        break;
      case 'tf_half_pixel_for_nn':
        xo = (x + 0.5) / scale;
        break;
    }
    if (mode === 'nearest') {
      let i: number;
      switch (nearest) {
        case 'round_prefer_floor':
          i = xo - Math.floor(xo) === 0.5 ? Math.floor(xo) : Math.round(xo);
          break;
        case 'round_prefer_ceil':
          i = Math.round(xo);
          break;
        case 'floor':
          i = Math.floor(xo);
          break;
        case 'ceil':
          i = Math.ceil(xo);
          break;
        case 'legacy':
          i = scale < 1 ? Math.ceil(xo) : Math.floor(xo);
          break;
      }
      taps.push({ i0: clamp(i), i1: clamp(i), w: 0 });
    } else {
      const c = Math.min(last, Math.max(0, xo));
      const i0 = Math.floor(c);
      taps.push({ i0, i1: clamp(i0 + 1), w: c - i0 });
    }
  }
  return taps;
}

/**
 * ONNX maps every axis, including N and C at scale 1. All modes map those to themselves except
 * tf_half_pixel_for_nn (x + 0.5): rounding up picks the next channel, linear blends two; the kernel only
 * resizes H and W, so it refuses those specs (the reference fallback computes them).
 */
function shiftsUnscaledAxes(s: ResizeSpec): boolean {
  if (s.coord !== 'tf_half_pixel_for_nn') return false;
  return s.mode === 'linear' || s.nearest === 'round_prefer_ceil' || s.nearest === 'ceil';
}

/** Resize over H and W. */
export const resize: KernelFamily<ResizeSpec, ResizeVariant, ResizeAddresses, undefined> = {
  family: 'resize',
  variants: RESIZE_VARIANTS,
  supports(s) {
    return (
      s.batch >= 1 &&
      s.channels >= 1 &&
      s.inH >= 1 &&
      s.inW >= 1 &&
      s.outH >= 1 &&
      s.outW >= 1 &&
      s.scaleH > 0 &&
      s.scaleW > 0 &&
      (RESIZE_MODES as readonly string[]).includes(s.mode) &&
      (RESIZE_COORD_MODES as readonly string[]).includes(s.coord) &&
      !shiftsUnscaledAxes(s)
    );
  },
  id(s, v) {
    const m = s.mode === 'nearest' ? 'nearest' : 'bilinear';
    const sc = Number.isInteger(s.scaleH) && s.scaleH === s.scaleW ? `${s.scaleH}x` : 'any';
    return `f32-resize-${m}${s.addend ? '-add' : ''}-${sc}-${v.tile}-${v.isa}`;
  },
  parallelExtent(s) {
    return s.batch * s.outH;
  },
  ...MEMORY_BOUND,
  pack(s) {
    const ys = resizeAxisTaps(s.inH, s.outH, s.scaleH, s.lengthH ?? s.outH, s.mode, s.coord, s.nearest);
    const xs = resizeAxisTaps(s.inW, s.outW, s.scaleW, s.lengthW ?? s.outW, s.mode, s.coord, s.nearest);
    const out = new Float32Array(3 * (s.outH + s.outW));
    const bits = new Int32Array(out.buffer);
    [...ys, ...xs].forEach((t, k) => {
      bits[3 * k] = t.i0;
      bits[3 * k + 1] = t.i1;
      out[3 * k + 2] = t.w;
    });
    return out;
  },
  emit(fn, s, v, a) {
    const id = requireSupported(this, s, v);
    if (s.addend && !a.addend) throw new EdgecnnError(`${id}: missing the addend view`, 'internal');
    for (const r of s.addend ? [a.input, a.output, a.addend!] : [a.input, a.output]) {
      if (r.addrBytes % 4 !== 0 || r.pixelStride < s.channels) {
        throw new EdgecnnError(`${id}: view ${JSON.stringify(r)} does not fit ${s.channels} channels`, 'internal');
      }
    }
    emitResize(fn, s, v, a);
  },
};

function emitResize(fn: FunctionBuilder, s: ResizeSpec, v: ResizeVariant, a: ResizeAddresses): void {
  const linear = s.mode === 'linear';
  const psB = a.input.pixelStride * 4;
  const opsB = a.output.pixelStride * 4;
  const xTable = a.tables + 12 * s.outH;
  const [row, b, ytab, row0, row1, ox, xtab, p00, p01, p10, p11, op, ap] = fn.locals('i32', 13);
  const apsB = s.addend ? a.addend!.pixelStride * 4 : 0;
  const wx = fn.local('v128');
  const wy = fn.local('v128');
  const va = fn.locals('v128', v.blockVectors);
  const [vb, vc, vd] = fn.locals('v128', 3);

  fn.forRange(
    row,
    (bb) => bb.localGet(fn.param(0)),
    (bb) => bb.localGet(fn.param(1)),
    1,
    () => {
      fn.localGet(row).i32Const(s.outH).i32DivU().localSet(b);
      // ytab = &table[oy]
      fn.localGet(row).localGet(b).i32Const(s.outH).i32Mul().i32Sub().i32Const(12).i32Mul().i32Const(a.tables).i32Add();
      fn.localSet(ytab);
      const rowAddr = (word: number, dst: Local): void => {
        fn.localGet(b)
          .i32Const(s.inH)
          .i32Mul()
          .localGet(ytab)
          .i32Load(word, 2)
          .i32Add()
          .i32Const(s.inW * psB)
          .i32Mul();
        fn.i32Const(a.input.addrBytes).i32Add().localSet(dst);
      };
      rowAddr(0, row0);
      if (linear) {
        rowAddr(4, row1);
        fn.localGet(ytab).v128Load32Splat(8, 2).localSet(wy);
      }
      fn.localGet(row)
        .i32Const(s.outW * opsB)
        .i32Mul()
        .i32Const(a.output.addrBytes)
        .i32Add()
        .localSet(op);
      if (s.addend)
        fn.localGet(row)
          .i32Const(s.outW * apsB)
          .i32Mul()
          .i32Const(a.addend!.addrBytes)
          .i32Add()
          .localSet(ap);
      fn.i32Const(xTable).localSet(xtab);
      fn.forRange(
        ox,
        (bb) => bb.i32Const(0),
        (bb) => bb.i32Const(s.outW),
        1,
        () => {
          fn.localGet(xtab).i32Load(0, 2).i32Const(psB).i32Mul().localTee(p00).localGet(row0).i32Add().localSet(p00);
          if (linear) {
            fn.localGet(p00).localGet(row0).i32Sub().localGet(row1).i32Add().localSet(p10);
            fn.localGet(xtab).i32Load(4, 2).i32Const(psB).i32Mul().localTee(p01).localGet(row0).i32Add().localSet(p01);
            fn.localGet(p01).localGet(row0).i32Sub().localGet(row1).i32Add().localSet(p11);
            fn.localGet(xtab).v128Load32Splat(8, 2).localSet(wx);
          }
          sweepChannels(fn, s.channels, v.blockVectors, (blk, off, constOff) => {
            for (let j = 0; j < blk.vectors; j++) {
              const o = constOff + 16 * j;
              const x = va[j]!;
              loadVec(fn, x, p00, off, o);
              if (linear) {
                const lerp = (lo: Local, hi: Local, w: Local): void => {
                  fn.localGet(lo).localGet(w).localGet(hi).localGet(lo).f32x4Sub().f32x4Mul().f32x4Add().localSet(lo);
                };
                loadVec(fn, vb, p01, off, o);
                loadVec(fn, vc, p10, off, o);
                loadVec(fn, vd, p11, off, o);
                lerp(x, vb, wx);
                lerp(vc, vd, wx);
                lerp(x, vc, wy);
              }
              if (s.addend) {
                loadVec(fn, vb, ap, off, o);
                fn.localGet(x).localGet(vb).f32x4Add().localSet(x);
              }
              storeVec(fn, x, op, off, o, lanesOf(blk, j));
            }
          });
          fn.localGet(op).i32Const(opsB).i32Add().localSet(op);
          if (s.addend) fn.localGet(ap).i32Const(apsB).i32Add().localSet(ap);
          fn.localGet(xtab).i32Const(12).i32Add().localSet(xtab);
        },
      );
    },
  );
}
