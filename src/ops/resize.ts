/**
 * Resize and Upsample references. Interpolation is separable: for every axis and output index we compute a short
 * list of taps (input index, weight) -- 1 for nearest, 2 for linear, 4 for cubic -- from the output coordinate
 * mapped into the input by the coordinate_transformation_mode; an output element is the sum over the cartesian
 * product of its axes' taps. Out-of-range taps are clamped to the edge (cubic with exclude_outside drops and
 * renormalizes them instead); tf_crop_and_resize coordinates outside the input give extrapolation_value;
 * antialias (opset 18) stretches the linear/cubic kernel over 1/scale samples when downsampling. Integer tensors
 * are interpolated in doubles and truncated toward zero. Opset 10 Resize and Upsample use asymmetric coordinates
 * and onnxruntime's legacy nearest rounding.
 */
import { attrFloat, attrFloats, attrInt, attrInts, attrString, type Dim } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import {
  fmtShape,
  nodeError,
  normalizeAxis,
  numbersOf,
  requireInput,
  tensorFromNumbers,
  unsupported,
} from './nn-util.js';
import type { OpContext, OpDef, ValueType } from './types.js';

const MODES = ['nearest', 'linear', 'cubic'] as const;
type Mode = (typeof MODES)[number];
const COORD_MODES = [
  'half_pixel',
  'half_pixel_symmetric',
  'pytorch_half_pixel',
  'align_corners',
  'asymmetric',
  'tf_half_pixel_for_nn',
  'tf_crop_and_resize',
] as const;
type CoordMode = (typeof COORD_MODES)[number];
/** 'legacy' is onnxruntime's rounding for opset-10 Resize and Upsample: ceil when downsampling, floor otherwise. */
const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil', 'legacy'] as const;
type NearestMode = (typeof NEAREST_MODES)[number];

interface ResizeAttrs {
  mode: Mode;
  coord: CoordMode;
  nearest: NearestMode;
  cubicA: number;
  excludeOutside: boolean;
  extrapolation: number;
  /** Resize-18 antialias: linear/cubic kernels widen by 1/scale when downsampling. */
  antialias: boolean;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string, ctx: OpContext): T {
  if (!(allowed as readonly string[]).includes(value))
    throw unsupported(ctx, `${what} '${value}' is not one of ${allowed.join('/')}`);
  return value as T;
}

function readAttrs(ctx: OpContext): ResizeAttrs {
  const n = ctx.node;
  let modeName = attrString(n, 'mode', 'nearest');
  // Upsample-7 exporters sometimes wrote 'bilinear'; its meaning is linear.
  if (modeName === 'bilinear') modeName = 'linear';
  const mode = oneOf(modeName, MODES, 'mode', ctx);
  const legacy = n.opType === 'Upsample' || ctx.opset < 11;
  if (legacy) {
    if (mode === 'cubic') throw unsupported(ctx, `mode 'cubic' needs Resize opset 11 or later`);
    return {
      mode,
      coord: 'asymmetric',
      nearest: 'legacy',
      cubicA: -0.75,
      excludeOutside: false,
      extrapolation: 0,
      antialias: false,
    };
  }
  return {
    mode,
    coord: oneOf(
      attrString(n, 'coordinate_transformation_mode', 'half_pixel'),
      COORD_MODES,
      'coordinate_transformation_mode',
      ctx,
    ),
    nearest: oneOf(attrString(n, 'nearest_mode', 'round_prefer_floor'), NEAREST_MODES.slice(0, 4), 'nearest_mode', ctx),
    cubicA: attrFloat(n, 'cubic_coeff_a', -0.75),
    excludeOutside: attrInt(n, 'exclude_outside', 0) !== 0,
    extrapolation: attrFloat(n, 'extrapolation_value', 0),
    antialias: ctx.opset >= 18 && attrInt(n, 'antialias', 0) !== 0 && mode !== 'nearest',
  };
}

/** Per-axis plan: output length, the scale used by the coordinate mapping, and the roi for tf_crop_and_resize. */
interface AxisPlan {
  inLen: number;
  outLen: number;
  /**
   * The resized length the coordinate formulas use: in * scale (times the crop for tf_crop_and_resize), which
   * is not an integer when scales do not divide evenly. ONNX's reference uses this float length on purpose
   * (onnx/onnx#2462) and its test data follows it; onnxruntime uses outLen instead, so they differ there.
   */
  lengthResized: number;
  scale: number;
  roiStart: number;
  roiEnd: number;
}

/** Which of the node's inputs hold roi, scales and sizes, by operator version. */
function inputSlots(ctx: OpContext): { roi?: number; scales?: number; sizes?: number } {
  if (ctx.node.opType === 'Upsample') return ctx.opset >= 9 ? { scales: 1 } : {};
  if (ctx.opset < 11) return { scales: 1 };
  return { roi: 1, scales: 2, sizes: 3 };
}

function present(t: Tensor | ValueType | undefined): boolean {
  if (t === undefined) return false;
  const s = t.shape;
  // An empty tensor stands for "not given" (opset 11 had to pass empty scales alongside sizes).
  return !(s !== undefined && s.some((d) => d === 0));
}

/** The axes that scales/sizes/roi refer to: `axes` (opset 18+) or all of them. */
function resizeAxes(rank: number, ctx: OpContext): number[] {
  const axes = ctx.node.opType === 'Resize' && ctx.opset >= 18 ? attrInts(ctx.node, 'axes') : undefined;
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const norm = axes.map((a) => normalizeAxis(a, rank, ctx, 'axes entry'));
  if (new Set(norm).size !== norm.length) throw nodeError(ctx, `axes [${axes.join(',')}] repeats an axis`);
  return norm;
}

function planAxes(
  inShape: readonly number[],
  scalesIn: ArrayLike<number> | undefined,
  sizesIn: ArrayLike<number> | undefined,
  roiIn: ArrayLike<number> | undefined,
  attrs: ResizeAttrs,
  ctx: OpContext,
): AxisPlan[] {
  const rank = inShape.length;
  const axes = resizeAxes(rank, ctx);
  const scales = new Array<number>(rank).fill(1);
  const sizes: number[] = [...inShape];
  const lengths: number[] = [...inShape];
  const roiStart = new Array<number>(rank).fill(0);
  const roiEnd = new Array<number>(rank).fill(1);
  if (roiIn !== undefined && attrs.coord === 'tf_crop_and_resize') {
    if (roiIn.length !== 2 * axes.length)
      throw nodeError(ctx, `roi has ${roiIn.length} values, expected ${2 * axes.length}`);
    axes.forEach((a, i) => {
      roiStart[a] = roiIn[i]!;
      roiEnd[a] = roiIn[axes.length + i]!;
    });
  }
  if (sizesIn !== undefined) {
    if (scalesIn !== undefined) throw nodeError(ctx, 'only one of scales and sizes may be given');
    if (sizesIn.length !== axes.length)
      throw nodeError(ctx, `sizes has ${sizesIn.length} values, expected ${axes.length}`);
    axes.forEach((a, i) => {
      sizes[a] = sizesIn[i]!;
      lengths[a] = sizesIn[i]!;
      scales[a] = sizesIn[i]! / inShape[a]!;
    });
    const policy = ctx.opset >= 18 ? attrString(ctx.node, 'keep_aspect_ratio_policy', 'stretch') : 'stretch';
    if (policy !== 'stretch') {
      if (policy !== 'not_larger' && policy !== 'not_smaller')
        throw unsupported(ctx, `keep_aspect_ratio_policy '${policy}'`);
      const picked = axes.map((a) => scales[a]!);
      const s = policy === 'not_larger' ? Math.min(...picked) : Math.max(...picked);
      for (const a of axes) {
        scales[a] = s;
        // The spec rounds half up here (not to even).
        sizes[a] = Math.floor(s * inShape[a]! + 0.5);
        lengths[a] = s * inShape[a]!;
      }
    }
  } else if (scalesIn !== undefined) {
    if (scalesIn.length !== axes.length)
      throw nodeError(ctx, `scales has ${scalesIn.length} values, expected ${axes.length}`);
    axes.forEach((a, i) => {
      const s = scalesIn[i]!;
      if (!(s > 0)) throw nodeError(ctx, `scales must be > 0, got ${s} for axis ${a}`);
      scales[a] = s;
      const crop = attrs.coord === 'tf_crop_and_resize' ? roiEnd[a]! - roiStart[a]! : 1;
      lengths[a] = inShape[a]! * crop * s;
      sizes[a] = Math.floor(lengths[a]!);
    });
  } else {
    throw nodeError(ctx, 'one of scales and sizes must be given');
  }
  return inShape.map((inLen, a) => {
    if (!(sizes[a]! >= 1) && inLen > 0) throw nodeError(ctx, `output length of axis ${a} would be ${sizes[a]}`);
    return {
      inLen,
      outLen: sizes[a]!,
      lengthResized: lengths[a]!,
      scale: scales[a]!,
      roiStart: roiStart[a]!,
      roiEnd: roiEnd[a]!,
    };
  });
}

/** Output coordinate x mapped into the input axis. */
function originalCoord(x: number, p: AxisPlan, mode: CoordMode): number {
  const { inLen, outLen, scale } = p;
  const len = p.lengthResized;
  switch (mode) {
    case 'half_pixel':
      return (x + 0.5) / scale - 0.5;
    case 'half_pixel_symmetric': {
      const adjustment = outLen / len;
      const offset = (inLen / 2) * (1 - adjustment);
      return offset + (x + 0.5) / scale - 0.5;
    }
    case 'pytorch_half_pixel':
      return len > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case 'align_corners':
      return len === 1 ? 0 : (x * (inLen - 1)) / (len - 1);
    case 'asymmetric':
      return x / scale;
    case 'tf_half_pixel_for_nn':
      return (x + 0.5) / scale;
    case 'tf_crop_and_resize':
      return len > 1
        ? p.roiStart * (inLen - 1) + (x * (p.roiEnd - p.roiStart) * (inLen - 1)) / (len - 1)
        : 0.5 * (p.roiStart + p.roiEnd) * (inLen - 1);
  }
}

function nearestIndex(x: number, mode: NearestMode, scale: number): number {
  switch (mode) {
    case 'round_prefer_floor':
      return x - Math.floor(x) === 0.5 ? Math.floor(x) : Math.round(x);
    case 'round_prefer_ceil':
      return Math.round(x);
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    case 'legacy':
      return scale < 1 ? Math.ceil(x) : Math.floor(x);
  }
}

/** The Keys cubic convolution kernel with parameter A (support [-2, 2]). */
function cubicKernel(t: number, A: number): number {
  const a = Math.abs(t);
  if (a <= 1) return (A + 2) * a ** 3 - (A + 3) * a ** 2 + 1;
  if (a < 2) return A * a ** 3 - 5 * A * a ** 2 + 8 * A * a - 4 * A;
  return 0;
}

function cubicWeights(r: number, A: number): number[] {
  return [cubicKernel(r + 1, A), cubicKernel(r, A), cubicKernel(1 - r, A), cubicKernel(2 - r, A)];
}

/** Taps of one output index; null means "outside the crop: use extrapolation_value". */
type Taps = { idx: number[]; w: number[] } | null;

function axisTaps(x: number, p: AxisPlan, attrs: ResizeAttrs): Taps {
  const xo = originalCoord(x, p, attrs.coord);
  const last = p.inLen - 1;
  if (attrs.coord === 'tf_crop_and_resize' && (xo < 0 || xo > last)) return null;
  const clamp = (i: number): number => Math.min(last, Math.max(0, i));
  if (attrs.mode === 'nearest') return { idx: [clamp(nearestIndex(xo, attrs.nearest, p.scale))], w: [1] };
  if (attrs.antialias && p.scale < 1) return antialiasTaps(xo, p, attrs, clamp);
  if (attrs.mode === 'linear') {
    const c = Math.min(last, Math.max(0, xo));
    const i0 = Math.floor(c);
    const f = c - i0;
    return f === 0 ? { idx: [i0], w: [1] } : { idx: [i0, clamp(i0 + 1)], w: [1 - f, f] };
  }
  const i0 = Math.floor(xo);
  const w = cubicWeights(xo - i0, attrs.cubicA);
  const raw = [i0 - 1, i0, i0 + 1, i0 + 2];
  if (attrs.excludeOutside) {
    for (let k = 0; k < 4; k++) if (raw[k]! < 0 || raw[k]! > last) w[k] = 0;
    const sum = w.reduce((a, b) => a + b, 0);
    for (let k = 0; k < 4; k++) w[k]! /= sum;
  }
  const idx: number[] = [];
  const ws: number[] = [];
  for (let k = 0; k < 4; k++) {
    if (w[k] === 0) continue;
    idx.push(clamp(raw[k]!));
    ws.push(w[k]!);
  }
  return { idx, w: ws };
}

/**
 * Antialiased taps when downsampling (Resize-18): the linear or cubic kernel is stretched by 1/scale, so it spans
 * every input sample that maps inside its support, and the weights are renormalized to sum to 1. The taps sit at
 * i0 + start .. i0 + 1 - start around i0 = the sample just left of xo (xo - 1 when xo is an integer).
 */
function antialiasTaps(xo: number, p: AxisPlan, attrs: ResizeAttrs, clamp: (i: number) => number): Taps {
  const s = p.scale;
  const i0 = Number.isInteger(xo) ? xo - 1 : Math.floor(xo);
  const ratio = xo - i0;
  const support = attrs.mode === 'linear' ? 1 : 2;
  const start = Math.floor(-support / s) + 1;
  const raw: number[] = [];
  const w: number[] = [];
  for (let j = start; j <= 1 - start; j++) {
    const t = (j - ratio) * s;
    const v = attrs.mode === 'linear' ? Math.max(0, 1 - Math.abs(t)) : cubicKernel(t, attrs.cubicA);
    const i = i0 + j;
    raw.push(i);
    w.push(attrs.excludeOutside && (i < 0 || i > p.inLen - 1) ? 0 : v);
  }
  const sum = w.reduce((a, b) => a + b, 0);
  const idx: number[] = [];
  const ws: number[] = [];
  raw.forEach((i, k) => {
    if (w[k] === 0) return;
    idx.push(clamp(i));
    ws.push(w[k]! / sum);
  });
  return { idx, w: ws };
}

/** Scales and sizes are often runtime data: refuse sizes no typed array can hold rather than fail obscurely. */
const MAX_OUTPUT_ELEMS = 2 ** 31 - 1;

const INT_RANGE: Partial<Record<string, [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [-(2 ** 53), 2 ** 53],
  uint64: [0, 2 ** 53],
};

function constValues(t: Tensor | undefined): Float64Array | undefined {
  return t !== undefined && present(t) ? numbersOf(t) : undefined;
}

function resize(inputs: readonly (Tensor | undefined)[], ctx: OpContext): Tensor[] {
  const x = requireInput(inputs, 0, 'X', ctx);
  if (x.dtype === 'string' || x.dtype === 'bool') throw nodeError(ctx, `X of type ${x.dtype} cannot be resized`);
  const attrs = readAttrs(ctx);
  const slots = inputSlots(ctx);
  let scales = slots.scales === undefined ? undefined : constValues(inputs[slots.scales]);
  if (ctx.node.opType === 'Upsample' && ctx.opset < 9) {
    const s = attrFloats(ctx.node, 'scales');
    if (s === undefined) throw nodeError(ctx, 'the scales attribute is required');
    scales = Float64Array.from(s);
  }
  const sizes = slots.sizes === undefined ? undefined : constValues(inputs[slots.sizes]);
  const roi = slots.roi === undefined ? undefined : constValues(inputs[slots.roi]);
  if (attrs.coord === 'tf_crop_and_resize' && roi === undefined)
    throw nodeError(ctx, 'tf_crop_and_resize needs the roi input');
  const plans = planAxes(x.shape, scales, sizes, roi, attrs, ctx);
  const outElems = plans.reduce((a, p) => a * p.outLen, 1);
  if (outElems > MAX_OUTPUT_ELEMS) {
    throw nodeError(
      ctx,
      `output [${plans.map((p) => p.outLen).join(',')}] would have ${outElems} elements (limit ${MAX_OUTPUT_ELEMS})`,
    );
  }
  const taps: Taps[][] = plans.map((p) => Array.from({ length: p.outLen }, (_, i) => axisTaps(i, p, attrs)));
  const rank = x.shape.length;
  const inStrides = new Array<number>(rank);
  for (let a = rank - 1, s = 1; a >= 0; a--) {
    inStrides[a] = s;
    s *= x.shape[a]!;
  }
  const outShape = plans.map((p) => p.outLen);
  const total = outShape.reduce((a, b) => a * b, 1);
  const xv = numbersOf(x);
  const y = new Float64Array(total);
  const pos = new Array<number>(rank).fill(0);
  for (let o = 0; o < total; o++) {
    const axisTapsHere = pos.map((p, a) => taps[a]![p]!);
    if (axisTapsHere.some((t) => t === null)) {
      y[o] = attrs.extrapolation;
    } else {
      // Sum over the cartesian product of the axes' taps.
      const ts = axisTapsHere as { idx: number[]; w: number[] }[];
      const k = new Array<number>(rank).fill(0);
      let acc = 0;
      for (;;) {
        let off = 0;
        let w = 1;
        for (let a = 0; a < rank; a++) {
          off += ts[a]!.idx[k[a]!]! * inStrides[a]!;
          w *= ts[a]!.w[k[a]!]!;
        }
        acc += w * xv[off]!;
        let a = rank - 1;
        while (a >= 0 && ++k[a]! === ts[a]!.idx.length) k[a--] = 0;
        if (a < 0) break;
      }
      y[o] = acc;
    }
    for (let a = rank - 1; a >= 0 && ++pos[a]! === outShape[a]!; a--) pos[a] = 0;
  }
  // Integer outputs truncate toward zero (as onnxruntime and ONNX's reference cast), saturating so that a cubic
  // overshoot cannot wrap around.
  const range = INT_RANGE[x.dtype];
  if (range !== undefined)
    for (let i = 0; i < y.length; i++) y[i] = Math.min(range[1], Math.max(range[0], Math.trunc(Math.fround(y[i]!))));
  return [tensorFromNumbers(x.dtype, outShape, y)];
}

/** Output shape from known scales/sizes values; unknown dims stay null. */
function resizeTypes(inputs: readonly (ValueType | undefined)[], ctx: OpContext): ValueType[] {
  const t: ValueType = {};
  const x = inputs[0];
  if (x?.dtype !== undefined) t.dtype = x.dtype;
  const shape = x?.shape;
  if (shape === undefined) return [t];
  const unknown: Dim[] = shape.map(() => null);
  t.shape = unknown;
  if (shape.some((d) => typeof d !== 'number')) return [t];
  try {
    const slots = inputSlots(ctx);
    const val = (i: number | undefined): Float64Array | undefined => {
      const v = i === undefined ? undefined : inputs[i];
      return v?.value !== undefined && present(v.value) ? numbersOf(v.value) : undefined;
    };
    let scales = val(slots.scales);
    if (ctx.node.opType === 'Upsample' && ctx.opset < 9) scales = Float64Array.from(attrFloats(ctx.node, 'scales', []));
    const sizes = val(slots.sizes);
    const given = (i: number | undefined): boolean => i !== undefined && present(inputs[i]);
    if ((given(slots.scales) && scales === undefined) || (given(slots.sizes) && sizes === undefined)) return [t];
    const plans = planAxes(shape as number[], scales, sizes, val(slots.roi), readAttrs(ctx), ctx);
    t.shape = plans.map((p) => p.outLen);
  } catch {
    // Bad or unknown parameters: the reference reports them; inference keeps the rank only.
  }
  return [t];
}

/** ONNX Resize, opsets 10..21 (nearest/linear/cubic, all coordinate modes, scales or sizes, axes, aspect policy). */
export const Resize: OpDef = {
  opType: 'Resize',
  domain: '',
  sinceVersion: 10,
  reference: resize,
  inferTypes: resizeTypes,
};

/** ONNX Upsample, opsets 7 and 9 (scales attribute, then input; nearest and linear, asymmetric coordinates). */
export const Upsample: OpDef = {
  opType: 'Upsample',
  domain: '',
  sinceVersion: 7,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, 'X', ctx);
    if (x.shape.length === 0) throw nodeError(ctx, `X must have rank >= 1, got ${fmtShape(x.shape as number[])}`);
    return resize(inputs, ctx);
  },
  inferTypes: resizeTypes,
};
