/**
 * Lowering of the memory-bound kernel families from graph nodes: elementwise unary/binary (with the broadcasts
 * CNNs use), pooling and global pooling (incl. ReduceMean over H, W), Resize/Upsample, Softmax, and data moves
 * (copies into concat slices, the channel shuffle, edge layout conversions, NHWC <-> flat reshapes). Reads ONNX
 * attributes and broadcast shapes, builds the family's spec, picks a variant and wraps it as a LoweredKernel.
 * Values are seen as [pixels, channels] (NHWC: pixels = N*H*W; flat: channels = last dim). A node whose
 * attributes or broadcasts no family covers returns undefined (reference fallback).
 */
import { type Node, attrFloat, attrInt, attrInts } from '../../ir/graph.js';
import { EdgecnnError } from '../../ir/errors.js';
import { sizeOf } from '../../ir/tensor.js';
import { windowAxis } from '../../ops/nn-util.js';
import { type BinaryOp, type BinarySpec, type UnaryOp, type UnarySpec, vbinary, vunary } from '../kernels/eltwise.js';
import { type CopySpec, type PadSpec, copy, pad } from '../kernels/copy.js';
import { type ResizeCoordMode, type ResizeSpec, RESIZE_COORD_MODES, resize } from '../kernels/resize.js';
import { type SoftmaxSpec, softmax } from '../kernels/softmax.js';
import { type ChannelShuffleSpec, type LayoutSpec, channelShuffle, layout } from '../kernels/layout.js';
import { type GlobalPoolSpec, type PoolSpec, globalPool, pool } from '../kernels/pool.js';
import type { ActivationRef, KernelFamily, KernelVariant } from '../kernels/types.js';
import type { ValueLayout } from './assign-layouts.js';
import type { KernelAddresses, LoweredKernel, SelectContext } from '../select.js';

const UNARY_OF: Record<string, UnaryOp> = {
  Relu: 'relu',
  Clip: 'clip',
  LeakyRelu: 'leakyrelu',
  HardSigmoid: 'hardsigmoid',
  HardSwish: 'hardswish',
  'edgecnn:HardSwish': 'hardswish',
  Sigmoid: 'sigmoid',
  'edgecnn:Silu': 'silu',
  Tanh: 'tanh',
  Exp: 'exp',
  Sqrt: 'sqrt',
  Abs: 'abs',
  Neg: 'neg',
  Floor: 'floor',
  Ceil: 'ceil',
  Reciprocal: 'reciprocal',
  Elu: 'elu',
};

/** Two-input Sum/Max/Min are binary ops too (more inputs fall back). */
const BINARY_OF: Record<string, BinaryOp> = {
  Add: 'add',
  Sub: 'sub',
  Mul: 'mul',
  Div: 'div',
  Max: 'max',
  Min: 'min',
  Sum: 'add',
};

/** The op key used by the tables above: ONNX op name, or `edgecnn:Name`. */
export function opKeyOf(node: Node): string {
  return node.domain === 'edgecnn' ? `edgecnn:${node.opType}` : node.opType;
}

export function isSmallOp(key: string): boolean {
  return (
    key in UNARY_OF ||
    key in BINARY_OF ||
    key in POOLS ||
    key in MOVES ||
    ['Resize', 'Upsample', 'Softmax', 'Pad'].includes(key)
  );
}

const RESHAPES = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);

const MOVES: Record<string, true> = {
  Identity: true,
  Reshape: true,
  Flatten: true,
  Squeeze: true,
  Unsqueeze: true,
  'edgecnn:ChannelShuffle': true,
  'edgecnn:ToNHWC': true,
  'edgecnn:ToNCHW': true,
};

const POOLS: Record<string, true> = {
  MaxPool: true,
  AveragePool: true,
  GlobalAveragePool: true,
  GlobalMaxPool: true,
  ReduceMean: true,
};

/** [pixels, channels] of an arena value. */
function geometry(l: ValueLayout): { pixels: number; channels: number } {
  const s = l.type.shape;
  if (l.layout === 'nhwc') return { pixels: s[0]! * s[2]! * s[3]!, channels: s[1]! };
  const channels = s.length === 0 ? 1 : s[s.length - 1]!;
  return { pixels: channels === 0 ? 0 : sizeOf(s) / channels, channels };
}

function strideOf(l: ValueLayout): number {
  return l.layout === 'nhwc' ? l.pixelStride : geometry(l).channels;
}

function isDense(l: ValueLayout): boolean {
  return strideOf(l) === geometry(l).channels;
}

function arena(ctx: SelectContext, name: string | undefined): ValueLayout | undefined {
  const l = name ? ctx.operand(name).layout : undefined;
  return l && l.layout !== 'js' ? l : undefined;
}

function refOf(node: Node, l: ValueLayout, addr: number | undefined): ActivationRef {
  if (addr === undefined) throw new EdgecnnError(`node '${node.name}': value '${l.name}' has no address`, 'internal');
  return { addrBytes: addr, pixelStride: strideOf(l) };
}

/** The first variant the family supports (small kernels are memory-bound; the list is ordered by preference). */
function firstVariant<S, V extends KernelVariant>(
  f: KernelFamily<S, V, unknown, unknown>,
  spec: S,
  relaxed: boolean,
): V | undefined {
  return f.variants.find((v) => (v.isa === 'wasmsimd' || relaxed) && f.supports(spec, v));
}

function wrap<S, V extends KernelVariant, A, W>(
  family: KernelFamily<S, V, A, W>,
  spec: S,
  v: V,
  bytesMoved: number,
  inPlaceInputs: number[],
  addresses: (a: KernelAddresses) => A,
  weights?: W,
  packWithoutWeights = false,
): LoweredKernel {
  const packed = weights === undefined && !packWithoutWeights ? undefined : family.pack(spec, v, weights as W);
  return {
    id: family.id(spec, v),
    parallelExtent: family.parallelExtent(spec, v),
    macs: family.macs(spec),
    bytesMoved: bytesMoved + (packed?.byteLength ?? 0),
    fused: false,
    weights: packed && packed.length > 0 ? [new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength)] : [],
    scratchBytes: 0,
    zeroBytes: family.zeroBytes(spec, v),
    inPlaceInputs,
    usesRelaxedSimd: v.isa === 'wasmrelaxed',
    emit(fn, a) {
      family.emit(fn, spec, v, addresses(a));
    },
  };
}

/** Lower a unary, binary or pooling node; undefined when no small family covers it. */
export function lowerSmall(node: Node, ctx: SelectContext): LoweredKernel | undefined {
  const key = opKeyOf(node);
  if (key in UNARY_OF) return lowerUnary(node, UNARY_OF[key]!, ctx);
  if (key in BINARY_OF) return lowerBinary(node, BINARY_OF[key]!, ctx);
  if (key === 'MaxPool' || key === 'AveragePool') return lowerPool(node, ctx);
  if (key === 'GlobalAveragePool' || key === 'GlobalMaxPool' || key === 'ReduceMean') return lowerGlobalPool(node, ctx);
  if (key in MOVES) return lowerMove(node, ctx);
  if (key === 'Resize' || key === 'Upsample') return lowerResize(node, ctx);
  if (key === 'Softmax') return lowerSoftmax(node, ctx);
  if (key === 'Pad') return lowerPad(node, ctx);
  return undefined;
}

function constantNumber(ctx: SelectContext, name: string | undefined): number | undefined | null {
  if (!name) return undefined;
  const c = ctx.operand(name).constant;
  if (!c || c.data.length !== 1) return null;
  return Number(c.data[0]);
}

function lowerUnary(node: Node, op: UnaryOp, ctx: SelectContext): LoweredKernel | undefined {
  const x = arena(ctx, node.inputs[0]);
  const y = arena(ctx, node.outputs[0]);
  if (!x || !y || x.layout !== y.layout || x.type.shape.join() !== y.type.shape.join()) return undefined;
  const g = geometry(x);
  const spec: UnarySpec = { op, ...g, dense: isDense(x) && isDense(y) };
  if (op === 'clip') {
    if (ctx.opset(node) >= 11) {
      const min = constantNumber(ctx, node.inputs[1]);
      const max = constantNumber(ctx, node.inputs[2]);
      if (min === null || max === null) return undefined; // runtime bounds
      if (min !== undefined) spec.min = min;
      if (max !== undefined) spec.max = max;
    } else {
      spec.min = attrFloat(node, 'min', -3.4028234663852886e38);
      spec.max = attrFloat(node, 'max', 3.4028234663852886e38);
    }
  } else if (op === 'leakyrelu') {
    spec.alpha = attrFloat(node, 'alpha', 0.01);
  } else if (op === 'hardsigmoid') {
    spec.alpha = attrFloat(node, 'alpha', 0.2);
    spec.beta = attrFloat(node, 'beta', 0.5);
  } else if (op === 'elu') {
    spec.alpha = attrFloat(node, 'alpha', 1);
  }
  const v = firstVariant(vunary, spec, ctx.relaxedSimd);
  if (!v) return undefined;
  return wrap(vunary, spec, v, 8 * g.pixels * g.channels, [0], (a) => ({
    input: refOf(node, x, a.inputs[0]),
    output: refOf(node, y, a.outputs[0]),
  }));
}

function lowerBinary(node: Node, op: BinaryOp, ctx: SelectContext): LoweredKernel | undefined {
  if (node.inputs.length !== 2) return undefined;
  const y = arena(ctx, node.outputs[0]);
  if (!y) return undefined;
  const yShape = y.type.shape.join();
  const sides = node.inputs.map((name) => ({ name, info: ctx.operand(name), l: arena(ctx, name) }));
  // The full-size operand A: a runtime value with the output's shape and layout.
  const ai = sides.findIndex((s) => s.l && s.l.layout === y.layout && s.l.type.shape.join() === yShape);
  if (ai < 0) return undefined;
  const A = sides[ai]!.l!;
  const other = sides[1 - ai]!;
  const g = geometry(y);
  const base = { op, ...g, activation: { kind: 'none' } as const, swapped: ai === 1 };
  const bytes = 12 * g.pixels * g.channels;
  const yRef = (a: KernelAddresses): ActivationRef => refOf(node, y, a.outputs[0]);
  const aRef = (a: KernelAddresses): ActivationRef => refOf(node, A, a.inputs[ai]);

  const c = other.info.constant;
  if (c) {
    if (c.dtype !== 'float32') return undefined;
    const values = c.data as Float32Array;
    const cShape = [...c.shape];
    let spec: BinarySpec | undefined;
    if (values.length === 1) {
      spec = { ...base, broadcast: 'scalar', constantB: true, dense: isDense(A) && isDense(y) };
    } else if (values.length === g.channels && isChannelVector(cShape, y)) {
      spec = { ...base, broadcast: 'channel', constantB: true, dense: false };
    }
    if (!spec) return undefined;
    const v = firstVariant(vbinary, spec, ctx.relaxedSimd);
    if (!v) return undefined;
    const s = spec;
    return wrap(vbinary, s, v, bytes, [ai], (a) => ({ a: aRef(a), packedB: a.weights[0]!, output: yRef(a) }), {
      values,
    });
  }
  const B = other.l;
  if (!B) return undefined;
  let spec: BinarySpec;
  if (B.layout === y.layout && B.type.shape.join() === yShape) {
    spec = {
      ...base,
      swapped: false,
      broadcast: 'none',
      constantB: false,
      dense: isDense(A) && isDense(B) && isDense(y),
    };
    // Same shapes: keep ONNX operand order (matters for sub and div).
    const v = firstVariant(vbinary, spec, ctx.relaxedSimd);
    if (!v) return undefined;
    const first = sides[0]!.l!;
    const second = sides[1]!.l!;
    return wrap(vbinary, spec, v, bytes, [0, 1], (a) => ({
      a: refOf(node, first, a.inputs[0]),
      b: refOf(node, second, a.inputs[1]),
      output: yRef(a),
    }));
  }
  // A runtime per-image channel vector (squeeze-excite): B is [N, C, 1, 1] NHWC (or flat [N, C]) against NHWC A.
  if (y.layout !== 'nhwc') return undefined;
  const [N, C, H, W] = y.type.shape as [number, number, number, number];
  const bs = B.type.shape;
  const bOk = B.layout === 'nhwc' ? bs[0] === N && bs[1] === C && bs[2] === 1 && bs[3] === 1 : false;
  if (!bOk) return undefined;
  spec = { ...base, broadcast: 'channel', constantB: false, dense: false, imagePixels: H * W };
  const v = firstVariant(vbinary, spec, ctx.relaxedSimd);
  if (!v) return undefined;
  const bi = 1 - ai;
  return wrap(vbinary, spec, v, bytes, [ai], (a) => ({ a: aRef(a), b: refOf(node, B, a.inputs[bi]), output: yRef(a) }));
}

/** A constant broadcasting along channels only: [C,1,1] or [1,C,1,1] against NCHW; [K] or [1,..,K] against flat [..,K]. */
function isChannelVector(shape: number[], y: ValueLayout): boolean {
  const ys = y.type.shape;
  const keep = y.layout === 'nhwc' ? 3 : 1;
  while (shape.length > keep && shape[0] === 1) shape.shift();
  if (y.layout === 'nhwc') return shape.length === 3 && shape[0] === ys[1] && shape[1] === 1 && shape[2] === 1;
  return ys.length >= 1 && shape.length === 1 && shape[0] === ys[ys.length - 1];
}

function lowerPool(node: Node, ctx: SelectContext): LoweredKernel | undefined {
  const x = arena(ctx, node.inputs[0]);
  const y = arena(ctx, node.outputs[0]);
  if (!x || !y) return undefined;
  const spec = poolSpecOf(node, x, y);
  const v = spec && firstVariant(pool, spec, ctx.relaxedSimd);
  if (!spec || !v) return undefined;
  return wrap(pool, spec, v, 4 * (sizeOf(x.type.shape) + sizeOf(y.type.shape)), [], (a) => ({
    input: refOf(node, x, a.inputs[0]),
    output: refOf(node, y, a.outputs[0]),
  }));
}

/** The window of a MaxPool/AveragePool between two NHWC values (undefined for what the pool kernels do not take). */
export function poolSpecOf(node: Node, x: ValueLayout, y: ValueLayout): PoolSpec | undefined {
  if (x.layout !== 'nhwc' || y.layout !== 'nhwc') return undefined;
  if (node.outputs.length > 1 && node.outputs[1]) return undefined; // MaxPool indices
  const [N, C, H, W] = x.type.shape as [number, number, number, number];
  const kernel = attrInts(node, 'kernel_shape');
  if (!kernel || kernel.length !== 2) return undefined;
  const strides = attrInts(node, 'strides', [1, 1]);
  const dil = attrInts(node, 'dilations', [1, 1]);
  const pads = attrInts(node, 'pads', [0, 0, 0, 0]);
  const autoPadAttr = node.attributes.get('auto_pad');
  const autoPad = autoPadAttr?.kind === 'string' && autoPadAttr.value !== '' ? autoPadAttr.value : 'NOTSET';
  if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) return undefined;
  const ceil = attrInt(node, 'ceil_mode', 0) === 1;
  const ax = [0, 1].map((i) =>
    windowAxis([H, W][i]!, kernel[i]!, strides[i]!, dil[i]!, autoPad as 'NOTSET', pads[i]!, pads[i + 2]!, ceil),
  );
  const [ah, aw] = ax as [ReturnType<typeof windowAxis>, ReturnType<typeof windowAxis>];
  if (ah.out !== y.type.shape[2] || aw.out !== y.type.shape[3]) return undefined;
  const spec: PoolSpec = {
    kind: node.opType === 'MaxPool' ? 'max' : 'avg',
    batch: N,
    inH: H,
    inW: W,
    channels: C,
    outH: ah.out,
    outW: aw.out,
    kernelH: kernel[0]!,
    kernelW: kernel[1]!,
    strideH: strides[0]!,
    strideW: strides[1]!,
    padTop: ah.padBegin,
    padLeft: aw.padBegin,
    padBottom: ah.padEnd,
    padRight: aw.padEnd,
    dilationH: dil[0]!,
    dilationW: dil[1]!,
    countIncludePad: attrInt(node, 'count_include_pad', 0) === 1,
  };
  return spec;
}

function lowerGlobalPool(node: Node, ctx: SelectContext): LoweredKernel | undefined {
  const x = arena(ctx, node.inputs[0]);
  const y = arena(ctx, node.outputs[0]);
  if (!x || !y || x.layout !== 'nhwc') return undefined;
  const [N, C, H, W] = x.type.shape as [number, number, number, number];
  if (node.opType === 'ReduceMean') {
    // Only the mean over H and W (ReduceMean-18 takes axes as an input).
    let axes = attrInts(node, 'axes');
    if (!axes && node.inputs[1]) {
      const t = ctx.operand(node.inputs[1]).constant;
      axes = t ? Array.from(t.data as BigInt64Array, Number) : undefined;
    }
    if (
      !axes ||
      axes
        .map((a) => (a < 0 ? a + 4 : a))
        .sort()
        .join() !== '2,3'
    )
      return undefined;
  }
  // Output: [N, C, 1, 1] NHWC, or [N, C] flat (ReduceMean keepdims=0); either way C floats per image.
  if (sizeOf(y.type.shape) !== N * C || (y.layout === 'flat' && y.type.shape.length !== 2)) return undefined;
  const spec: GlobalPoolSpec = {
    kind: node.opType === 'GlobalMaxPool' ? 'max' : 'avg',
    batch: N,
    pixels: H * W,
    channels: C,
  };
  const v = firstVariant(globalPool, spec, ctx.relaxedSimd);
  if (!v) return undefined;
  return wrap(globalPool, spec, v, 4 * (sizeOf(x.type.shape) + N * C), [], (a) => ({
    input: refOf(node, x, a.inputs[0]),
    output: { addrBytes: a.outputs[0]!, pixelStride: y.layout === 'nhwc' ? y.pixelStride : C },
  }));
}

/** Identity that is not an alias (a copy into a concat slice) and the channel shuffle: out-of-place moves. */
function lowerMove(node: Node, ctx: SelectContext): LoweredKernel | undefined {
  const x = arena(ctx, node.inputs[0]);
  const y = arena(ctx, node.outputs[0]);
  if (!x || !y || sizeOf(x.type.shape) !== sizeOf(y.type.shape)) return undefined;
  if (RESHAPES.has(node.opType)) {
    // Not an alias (assign-layouts made those views): row-major order of the NCHW tensor <-> NHWC.
    if (x.layout === 'nhwc' && y.layout === 'flat') return lowerEdge(node, x, y, ctx);
    if (x.layout === 'flat' && y.layout === 'nhwc') return lowerEdge(node, x, y, ctx);
    return undefined;
  }
  if (x.type.shape.join() !== y.type.shape.join()) return undefined;
  if (node.opType === 'ToNHWC' || node.opType === 'ToNCHW') return lowerEdge(node, x, y, ctx);
  if (x.layout !== y.layout) return undefined;
  const g = geometry(x);
  const bytes = 8 * g.pixels * g.channels;
  const addrs = (a: KernelAddresses): { input: ActivationRef; output: ActivationRef } => ({
    input: refOf(node, x, a.inputs[0]),
    output: refOf(node, y, a.outputs[0]),
  });
  if (node.opType === 'Identity') {
    const spec: CopySpec = { ...g, dense: isDense(x) && isDense(y) };
    const v = firstVariant(copy, spec, ctx.relaxedSimd);
    return v && wrap(copy, spec, v, bytes, [], addrs);
  }
  if (x.layout !== 'nhwc') return undefined;
  const spec: ChannelShuffleSpec = { ...g, groups: attrInt(node, 'group', 1) };
  const v = firstVariant(channelShuffle, spec, ctx.relaxedSimd);
  return v && wrap(channelShuffle, spec, v, bytes, [], addrs);
}

/**
 * The edge conversions added by edge-layouts.ts (dense NCHW staging <-> the NHWC value), and reshapes between
 * an NHWC value and a flat one (whose row-major order is the NCHW order).
 */
function lowerEdge(node: Node, x: ValueLayout, y: ValueLayout, ctx: SelectContext): LoweredKernel | undefined {
  const toNhwc = y.layout === 'nhwc';
  const nhwc = toNhwc ? y : x;
  const [N, C, H, W] = nhwc.type.shape as [number, number, number, number];
  const spec: LayoutSpec = { direction: toNhwc ? 'to-nhwc' : 'to-nchw', batch: N, channels: C, height: H, width: W };
  const v = firstVariant(layout, spec, ctx.relaxedSimd);
  if (!v) return undefined;
  return wrap(layout, spec, v, 8 * N * C * H * W, [], (a) => ({
    nchw: (toNhwc ? a.inputs[0] : a.outputs[0])!,
    nhwc: toNhwc ? refOf(node, y, a.outputs[0]) : refOf(node, x, a.inputs[0]),
  }));
}

/** Numbers of a constant input ('' or an empty tensor: absent; non-constant: null). */
function constantList(ctx: SelectContext, name: string | undefined): number[] | undefined | null {
  if (!name) return undefined;
  const c = ctx.operand(name).constant;
  if (!c) return null;
  if (c.data.length === 0) return undefined;
  return Array.from(c.data as ArrayLike<number | bigint>, Number);
}

/**
 * Resize/Upsample over H and W of an NHWC value: nearest or linear, constant scales or sizes, no cropping
 * roi, no antialias, no axes (opset 18 features fall back). Opset-10 Resize and Upsample use asymmetric
 * coordinates with legacy nearest rounding, as the reference does.
 */
function lowerResize(node: Node, ctx: SelectContext): LoweredKernel | undefined {
  const x = arena(ctx, node.inputs[0]);
  const y = arena(ctx, node.outputs[0]);
  if (!x || !y || x.layout !== 'nhwc' || y.layout !== 'nhwc') return undefined;
  const opset = ctx.opset(node);
  const str = (name: string, dflt: string): string => {
    const a = node.attributes.get(name);
    return a?.kind === 'string' ? a.value : dflt;
  };
  if (attrInt(node, 'antialias', 0) !== 0 || node.attributes.has('axes')) return undefined;
  if (str('keep_aspect_ratio_policy', 'stretch') !== 'stretch') return undefined;
  let mode = str('mode', 'nearest');
  if (mode === 'bilinear') mode = 'linear';
  if (mode !== 'nearest' && mode !== 'linear') return undefined;
  const legacy = node.opType === 'Upsample' || opset < 11;
  const coord = legacy ? 'asymmetric' : str('coordinate_transformation_mode', 'half_pixel');
  if (!(RESIZE_COORD_MODES as readonly string[]).includes(coord)) return undefined;
  const nearest = legacy ? 'legacy' : str('nearest_mode', 'round_prefer_floor');
  if (!['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil', 'legacy'].includes(nearest)) return undefined;
  let scales: number[] | undefined | null;
  let sizes: number[] | undefined | null;
  if (node.opType === 'Upsample')
    scales = opset >= 9 ? constantList(ctx, node.inputs[1]) : attrFloatList(node, 'scales');
  else if (opset < 11) scales = constantList(ctx, node.inputs[1]);
  else {
    scales = constantList(ctx, node.inputs[2]);
    sizes = constantList(ctx, node.inputs[3]);
  }
  if (scales === null || sizes === null) return undefined;
  const [N, C, H, W] = x.type.shape as [number, number, number, number];
  const [, , OH, OW] = y.type.shape as [number, number, number, number];
  let scaleH: number;
  let scaleW: number;
  let lengthH: number;
  let lengthW: number;
  if (sizes) {
    if (sizes.length !== 4 || sizes[0] !== N || sizes[1] !== C) return undefined;
    [scaleH, scaleW, lengthH, lengthW] = [sizes[2]! / H, sizes[3]! / W, sizes[2]!, sizes[3]!];
  } else if (scales) {
    if (scales.length !== 4 || scales[0] !== 1 || scales[1] !== 1) return undefined;
    [scaleH, scaleW, lengthH, lengthW] = [scales[2]!, scales[3]!, H * scales[2]!, W * scales[3]!];
  } else {
    return undefined;
  }
  const spec: ResizeSpec = {
    mode,
    coord: coord as ResizeCoordMode,
    nearest: nearest as ResizeSpec['nearest'],
    batch: N,
    inH: H,
    inW: W,
    channels: C,
    outH: OH,
    outW: OW,
    scaleH,
    scaleW,
    lengthH,
    lengthW,
  };
  const v = firstVariant(resize, spec, ctx.relaxedSimd);
  if (!v) return undefined;
  return wrap(
    resize,
    spec,
    v,
    4 * (sizeOf(x.type.shape) + sizeOf(y.type.shape)),
    [],
    (a) => ({ input: refOf(node, x, a.inputs[0]), output: refOf(node, y, a.outputs[0]), tables: a.weights[0]! }),
    undefined,
    true,
  );
}

function attrFloatList(node: Node, name: string): number[] | undefined {
  const a = node.attributes.get(name);
  return a && (a.kind === 'floats' || a.kind === 'ints') ? a.value : undefined;
}

/**
 * Softmax along the innermost memory axis: the last axis of a flat value (opset < 13 coerces to 2-D at
 * `axis`, the same thing when axis is the last one), or the channel axis of an NHWC value (opset >= 13).
 */
function lowerSoftmax(node: Node, ctx: SelectContext): LoweredKernel | undefined {
  const x = arena(ctx, node.inputs[0]);
  const y = arena(ctx, node.outputs[0]);
  if (!x || !y || x.layout !== y.layout || x.type.shape.join() !== y.type.shape.join()) return undefined;
  const rank = x.type.shape.length;
  const opset = ctx.opset(node);
  let axis = attrInt(node, 'axis', opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  const ok = x.layout === 'flat' ? axis === rank - 1 : opset >= 13 && axis === 1;
  if (!ok) return undefined;
  const g = geometry(x);
  const spec: SoftmaxSpec = { rows: g.pixels, cols: g.channels };
  const v = firstVariant(softmax, spec, ctx.relaxedSimd);
  if (!v) return undefined;
  return wrap(softmax, spec, v, 8 * g.pixels * g.channels, [0], (a) => ({
    input: refOf(node, x, a.inputs[0]),
    output: refOf(node, y, a.outputs[0]),
  }));
}

/** Pad over H and W of an NHWC value (constant, edge, reflect; N and C pads zero; no `axes` input). */
function lowerPad(node: Node, ctx: SelectContext): LoweredKernel | undefined {
  const x = arena(ctx, node.inputs[0]);
  const y = arena(ctx, node.outputs[0]);
  if (!x || !y || x.layout !== 'nhwc' || y.layout !== 'nhwc') return undefined;
  const str = (name: string, dflt: string): string => {
    const a = node.attributes.get(name);
    return a?.kind === 'string' ? a.value : dflt;
  };
  const mode = str('mode', 'constant');
  if (mode !== 'constant' && mode !== 'edge' && mode !== 'reflect') return undefined;
  let pads: number[] | undefined | null;
  let value = 0;
  if (ctx.opset(node) < 11) {
    pads = attrInts(node, 'pads');
    value = attrFloat(node, 'value', 0);
  } else {
    if (node.inputs[3]) return undefined; // axes (opset 18)
    pads = constantList(ctx, node.inputs[1]);
    const v = constantList(ctx, node.inputs[2]);
    if (v === null || (v && v.length !== 1)) return undefined;
    value = v?.[0] ?? 0;
  }
  if (!pads || pads.length !== 8 || pads[0] !== 0 || pads[1] !== 0 || pads[4] !== 0 || pads[5] !== 0) return undefined;
  const [N, C, H, W] = x.type.shape as [number, number, number, number];
  const spec: PadSpec = {
    mode,
    value,
    batch: N,
    inH: H,
    inW: W,
    channels: C,
    padTop: pads[2]!,
    padLeft: pads[3]!,
    outH: H + pads[2]! + pads[6]!,
    outW: W + pads[3]! + pads[7]!,
  };
  if (spec.outH !== y.type.shape[2] || spec.outW !== y.type.shape[3]) return undefined;
  const v = firstVariant(pad, spec, ctx.relaxedSimd);
  if (!v) return undefined;
  return wrap(pad, spec, v, 4 * (sizeOf(x.type.shape) + sizeOf(y.type.shape)), [], (a) => ({
    input: refOf(node, x, a.inputs[0]),
    output: refOf(node, y, a.outputs[0]),
  }));
}
