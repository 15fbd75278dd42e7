/**
 * int8 lowering of QDQ graphs. `lowerInt8Graph` (a lowering rewrite, before fuseFakeQuantize) turns
 *   DequantizeLinear(v) -> Conv(W = DequantizeLinear(int8 const, zero zero point)) [-> Relu|Clip] -> QuantizeLinear
 *   DequantizeLinear(a) + DequantizeLinear(b) [-> Relu|Clip] -> QuantizeLinear
 *   DequantizeLinear(v) -> a unary elementwise op (HardSwish, Sigmoid, ...) -> QuantizeLinear   (a 256-byte table)
 *   DequantizeLinear(a) * DequantizeLinear(b) -> QuantizeLinear   (b the same shape or [N,C,1,1]: the SE scale)
 *   DequantizeLinear(v) -> GlobalAveragePool -> QuantizeLinear
 * into `edgecnn:Qs8Conv` / `Qs8Add` / `Qs8Lut` / `Qs8Mul` / `Qs8GlobalAveragePool` on int8 tensors that live in the
 * arena, and moves data in int8 where dequantize -> op -> quantize with the same parameters is exactly the op on
 * the integers: channel Concat, Slice and Split (views), ChannelShuffle, MaxPool. A QuantizeLinear feeding them
 * becomes `edgecnn:Qs8Quantize`, a DequantizeLinear still read by float nodes `edgecnn:Qs8Dequantize`. uint8
 * tensors are stored as int8 (q - 128, zero point - 128: same real values). Arena int8 values have dtype int8
 * (1 byte per element, `prep.arenaInt8`); `lowerInt8` picks the kernel for every node that touches them.
 */
import { EdgecnnError } from '../../ir/errors.js';
import { type Attribute, type Node, attrFloat, attrFloats, attrInt, attrTensor } from '../../ir/graph.js';
import { type Tensor, makeTensor } from '../../ir/tensor.js';
import { nodeOpset } from '../../ops/reference-executor.js';
import { getOp } from '../../ops/registry.js';
import { convGeometry } from '../../ops/conv.js';
import { pickQs8Im2colVariant, qs8Conv, qs8ConvIm2col } from '../kernels/qs8-conv.js';
import { qs8Dwconv } from '../kernels/qs8-dwconv.js';
import { candidateQs8DwconvRdotVariants, qs8DwconvRdot } from '../kernels/qs8-dwconv-rdot.js';
import { type Qs8FcSpec, qs8Fc } from '../kernels/qs8-fc.js';
import { type Qs8MoveSpec, qs8Move } from '../kernels/qs8-move.js';
import { type Qs8GlobalPoolSpec, qs8GlobalAvgPool, qs8MaxPool } from '../kernels/qs8-pool.js';
import type { FunctionBuilder } from '../wasm/index.js';
import { poolSpecOf } from './lower-small.js';
import {
  QS8_ELTWISE_VARIANTS,
  type Qs8EltwiseSpec,
  type Qs8QuantizeNchwSpec,
  packLut,
  qs8Eltwise,
  qs8QuantizeNchw,
} from '../kernels/qs8-eltwise.js';
import { type Qs8ConvSpec, candidateQs8GemmVariants, isPointwise, qs8Gemm } from '../kernels/qs8-gemm.js';
import { candidateQs8GemmRdotVariants, qs8ConvRdot, qs8GemmRdot } from '../kernels/qs8-gemm-rdot.js';
import { QS8_WINOGRAD_VARIANTS, qs8Winograd } from '../kernels/qs8-winograd.js';
import { roundHalfEven } from '../../ops/tensor-util.js';
import { clampBounds } from '../kernels/requantize.js';
import type { ActivationRef } from '../kernels/types.js';
import { type KernelCandidate, type LoweredKernel, type SelectContext, chooseKernel, specKey } from '../select.js';
import { channelRanges } from './assign-layouts.js';
import type { PreparedGraph } from './prepare.js';

/** The edgecnn ops this file introduces (each has a kernel, none a reference). */
export const INT8_OPS = [
  'Qs8Conv',
  'Qs8Add',
  'Qs8Mul',
  'Qs8Lut',
  'Qs8GlobalAveragePool',
  'Qs8Fc',
  'Qs8Quantize',
  'Qs8Dequantize',
] as const;

/** Ops that only move or select values: on int8 they are the same op when input and output parameters agree. */
const MOVE_OPS = new Set(['Concat', 'Slice', 'Split', 'ChannelShuffle', 'MaxPool', 'Flatten']);

/** Unary elementwise ops (any further inputs constant) a Qs8Lut table replaces. */
const LUT_OPS = new Set([
  'Relu',
  'Clip',
  'LeakyRelu',
  'HardSigmoid',
  'HardSwish',
  'Sigmoid',
  'Silu',
  'Tanh',
  'Elu',
  'Softplus',
  'Neg',
  'Abs',
]);

/** y = Q(op(DQ(x))) for every int8 x, by the op's reference (exactly what the float graph computes). */
function lutOf(prep: PreparedGraph, n: Node, inp: QParams, out: QParams): Int8Array | undefined {
  const def = getOp(n.domain, n.opType);
  if (!def) return undefined;
  const xs = new Float32Array(256);
  for (let i = 0; i < 256; i++) xs[i] = Math.fround((i - 128 - inp.zero) * inp.scale);
  const args = n.inputs.map((x, k) =>
    k === 0 ? makeTensor('float32', [256], xs) : x ? prep.constants.get(x) : undefined,
  );
  const [y] = def.reference(args, { node: n, opset: nodeOpset(prep.model, n) });
  if (!y || y.dtype !== 'float32' || y.data.length !== 256) return undefined;
  return Int8Array.from(y.data as Float32Array, (v) =>
    Math.min(127, Math.max(-128, roundHalfEven(Math.fround(v / out.scale)) + out.zero)),
  );
}

const SHIFT: Record<string, number> = { uint8: -128, int8: 0 };

interface QParams {
  scale: number;
  /** Zero point in the signed int8 domain. */
  zero: number;
}

const f = (value: number): Attribute => ({ kind: 'float', value });

/** The quantization attributes of a two-input int8 elementwise node (its out_* come from its tail). */
function abAttributes(a: QParams, b: QParams): Map<string, Attribute> {
  return new Map<string, Attribute>([
    ['a_scale', f(a.scale)],
    ['a_zero', f(a.zero)],
    ['b_scale', f(b.scale)],
    ['b_zero', f(b.zero)],
  ]);
}

/** Scalar float scale and (u)int8 zero point of a Q/DQ node, in the signed domain; undefined otherwise. */
function qparams(prep: PreparedGraph, n: Node): QParams | undefined {
  const s = prep.constants.get(n.inputs[1] ?? '');
  const zName = n.inputs[2];
  const z = zName ? prep.constants.get(zName) : undefined;
  if (!s || s.dtype !== 'float32' || s.data.length !== 1 || (zName && !z)) return undefined;
  const zType = z?.dtype ?? 'uint8';
  const shift = SHIFT[zType];
  if (shift === undefined || (z && z.data.length !== 1)) return undefined;
  if (n.attributes.has('output_dtype') || n.attributes.has('block_size')) return undefined;
  return { scale: Number(s.data[0]), zero: (z ? Number(z.data[0]) : 0) + shift };
}

/** The int8 weights behind a Conv's folded float weight: per-tensor or axis-0 scales, all-zero zero point. */
function int8Weights(prep: PreparedGraph, wName: string): { q: Tensor; scales: Float32Array } | undefined {
  const dq = prep.model.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === wName);
  if (!dq) return undefined;
  const q = prep.constants.get(dq.inputs[0]!);
  const s = prep.constants.get(dq.inputs[1]!);
  const z = dq.inputs[2] ? prep.constants.get(dq.inputs[2]) : undefined;
  if (!q || q.dtype !== 'int8' || q.shape.length !== 4 || !s || s.dtype !== 'float32') return undefined;
  if (dq.inputs[2] && (!z || z.dtype !== 'int8' || Array.from(z.data as Int8Array).some((v) => v !== 0)))
    return undefined;
  const axis = dq.attributes.get('axis');
  const axisVal = axis && axis.kind === 'int' ? axis.value : 1;
  if (s.data.length !== 1 && !(s.data.length === q.shape[0] && axisVal === 0)) return undefined;
  return { q, scales: s.data as Float32Array };
}

/**
 * The int32 bias behind a Conv's folded float bias when its scale is inScale * wScale (as QDQ exporters write
 * it): then the kernels add it to the accumulators exactly, as QLinearConv does.
 */
function int32Bias(
  prep: PreparedGraph,
  bName: string,
  inScale: number,
  wScales: Float32Array,
  outC: number,
): Tensor | undefined {
  const dq = prep.model.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === bName);
  if (!dq) return undefined;
  const q = prep.constants.get(dq.inputs[0]!);
  const s = prep.constants.get(dq.inputs[1]!);
  const z = dq.inputs[2] ? prep.constants.get(dq.inputs[2]) : undefined;
  if (!q || q.dtype !== 'int32' || q.data.length !== outC || !s || s.dtype !== 'float32') return undefined;
  if (dq.inputs[2] && (!z || Array.from(z.data as Int32Array).some((v) => v !== 0))) return undefined;
  for (let n = 0; n < outC; n++) {
    const want = inScale * (wScales.length === 1 ? wScales[0]! : wScales[n]!);
    const got = Number(s.data.length === 1 ? s.data[0] : s.data[n]);
    if (!(Math.abs(got - want) <= 1e-6 * want)) return undefined;
  }
  return q;
}

/** Clamp of an optional Relu/Clip between the op and its QuantizeLinear. */
function activationOf(
  prep: PreparedGraph,
  n: Node | undefined,
): { kind: 'none' } | { kind: 'relu' } | { kind: 'clip'; min: number; max: number } | undefined {
  if (!n) return { kind: 'none' };
  if (n.opType === 'Relu') return { kind: 'relu' };
  if (n.opType !== 'Clip') return undefined;
  const c = (i: number, attr: string, dflt: number): number | undefined => {
    const name = n.inputs[i];
    if (name) {
      const t = prep.constants.get(name);
      return t && t.data.length === 1 ? Number(t.data[0]) : undefined;
    }
    return attrFloat(n, attr, dflt);
  };
  const min = c(1, 'min', -Infinity);
  const max = c(2, 'max', Infinity);
  return min === undefined || max === undefined ? undefined : { kind: 'clip', min, max };
}

/** The clamp of a FusedConv's Relu/Clip activation ({ kind: 'none' } without one; undefined for others). */
function fusedClamp(
  n: Node,
): { kind: 'none' } | { kind: 'relu' } | { kind: 'clip'; min: number; max: number } | undefined {
  const a = n.attributes.get('activation');
  const name = a?.kind === 'string' ? a.value : '';
  if (name === '') return { kind: 'none' };
  if (name === 'Relu') return { kind: 'relu' };
  if (name !== 'Clip') return undefined;
  const p = attrFloats(n, 'activation_params', []);
  return { kind: 'clip', min: p[0] ?? -Infinity, max: p[1] ?? Infinity };
}

/** The rewritten node list; new int8 values are added to `prep.types` (see the file header). */
export function lowerInt8Graph(prep: PreparedGraph, nodes: readonly Node[]): Node[] {
  const producer = new Map<string, Node>();
  const readers = new Map<string, Node[]>();
  for (const n of nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const x of n.inputs) if (x) readers.set(x, [...(readers.get(x) ?? []), n]);
  }
  const outputs = new Set(prep.outputNames);
  const isStdOp = (n: Node, op: string): boolean => n.opType === op && (n.domain === '' || n.domain === 'ai.onnx');
  // A type guard (narrows undefined away) for values' producers/readers.
  const isStd = (n: Node | undefined, op: string): n is Node => !!n && isStdOp(n, op);
  const only = (v: string): Node | undefined => {
    const r = readers.get(v) ?? [];
    return r.length === 1 && !outputs.has(v) ? r[0] : undefined;
  };
  /** v is an int8 candidate: rank 4, made by a QuantizeLinear with scalar params, read only by DQs. */
  const candidate = (v: string): boolean => {
    const t = prep.types.get(v);
    const q = producer.get(v);
    const rank = t?.shape.length;
    if (!t || (rank !== 4 && rank !== 2) || !isStd(q, 'QuantizeLinear') || !qparams(prep, q) || outputs.has(v))
      return false;
    const x = prep.types.get(q.inputs[0]!);
    if (!x || x.dtype !== 'float32' || x.shape.length !== rank) return false;
    return (readers.get(v) ?? []).every((r) => isStd(r, 'DequantizeLinear') && qparams(prep, r) !== undefined);
  };
  /** The int8 value and its DQ params behind a float value produced by a DQ of a candidate. */
  const dqSource = (d: string): { v: string; dq: Node; p: QParams } | undefined => {
    const dq = producer.get(d);
    if (!isStd(dq, 'DequantizeLinear') || !candidate(dq.inputs[0]!)) return undefined;
    return { v: dq.inputs[0]!, dq, p: qparams(prep, dq)! };
  };
  /** The QuantizeLinear (and optional activation) that alone consumes `y`. */
  const quantTail = (y: string) => {
    const r = only(y);
    const act = r && (isStd(r, 'Relu') || isStd(r, 'Clip')) ? r : undefined;
    const q = act ? only(act.outputs[0]!) : r;
    if (!isStd(q, 'QuantizeLinear') || !candidate(q.outputs[0]!)) return undefined;
    const a = activationOf(prep, act);
    return a ? { q, act, activation: a, p: qparams(prep, q)! } : undefined;
  };

  /** A Gemm's int8 weights as [M, K] (transposed when transB = 0) with per-M or per-tensor scales. */
  const gemmWeights = (n: Node): { q: Tensor; scales: Float32Array } | undefined => {
    if (attrInt(n, 'transA', 0) !== 0 || attrFloat(n, 'alpha', 1) !== 1 || attrFloat(n, 'beta', 1) !== 1)
      return undefined;
    // Weight dequantizers are constant-folded out of the runtime nodes: look in the model.
    const dq = prep.model.graph.nodes.find((d) => d.outputs[0] === n.inputs[1]);
    if (!isStd(dq, 'DequantizeLinear')) return undefined;
    const q = prep.constants.get(dq.inputs[0]!);
    const sc = prep.constants.get(dq.inputs[1]!);
    const z = dq.inputs[2] ? prep.constants.get(dq.inputs[2]) : undefined;
    if (!q || q.dtype !== 'int8' || q.shape.length !== 2 || !sc || sc.dtype !== 'float32') return undefined;
    if (dq.inputs[2] && (!z || Array.from(z.data as Int8Array).some((v) => v !== 0))) return undefined;
    const transB = attrInt(n, 'transB', 0) === 1;
    const [M, K] = transB ? [q.shape[0]!, q.shape[1]!] : [q.shape[1]!, q.shape[0]!];
    const dqAxis = dq.attributes.get('axis');
    const ax = dqAxis?.kind === 'int' ? dqAxis.value : 1;
    if (sc.data.length !== 1 && !(sc.data.length === M && ax === (transB ? 0 : 1))) return undefined;
    const data = q.data as Int8Array;
    const mk = transB ? data : Int8Array.from({ length: M * K }, (_, i) => data[(i % K) * M + Math.floor(i / K)]!);
    const scales = Float32Array.from({ length: M }, (_, m) => Number(sc.data.length === 1 ? sc.data[0] : sc.data[m]));
    return { q: makeTensor('int8', [M, K], mk), scales };
  };

  /**
   * A data-movement node whose data inputs are dequantized int8 values and whose outputs are each read only by a
   * QuantizeLinear, all with the same parameters: then the node on the integers is exact (Q(DQ(q)) = q). Only
   * shapes the int8 path computes: channel Concat/Slice/Split (views), Flatten of [N, C, 1, 1] (an alias), 2-D
   * MaxPool, ChannelShuffle.
   */
  const int8Move = (n: Node) => {
    const data = n.opType === 'Concat' ? n.inputs.map((_, k) => k) : [0];
    const srcs = data.map((k) => dqSource(n.inputs[k] ?? ''));
    if (srcs.length === 0 || srcs.some((x) => !x)) return undefined;
    const outs = n.outputs.filter((o) => o !== '');
    if (outs.length !== n.outputs.length) return undefined;
    const tails = outs.map((o) => {
      const q = only(o);
      return isStd(q, 'QuantizeLinear') && candidate(q.outputs[0]!) ? q : undefined;
    });
    if (tails.some((q) => !q)) return undefined;
    const p0 = srcs[0]!.p;
    const same = (p: QParams): boolean => p.scale === p0.scale && p.zero === p0.zero;
    if (!srcs.every((x) => same(x!.p)) || !tails.every((q) => same(qparams(prep, q!)!))) return undefined;
    const x = prep.types.get(n.inputs[0]!)!;
    if (n.opType === 'Concat') {
      const axis = n.attributes.get('axis');
      const ax = axis?.kind === 'int' ? axis.value : 0;
      if (ax !== 1 && ax !== -3) return undefined;
    } else if (n.opType === 'Slice' || n.opType === 'Split') {
      const l = { name: n.inputs[0]!, type: x, layout: 'nhwc' as const, pixelStride: x.shape[1]! };
      if (!channelRanges(n, l, prep.constants)) return undefined;
    } else if (n.opType === 'Flatten') {
      // [N, C, 1, 1] -> [N, C]: the same int8 bytes (an alias).
      const y = prep.types.get(n.outputs[0]!)!;
      if (x.shape.length !== 4 || x.shape[2] !== 1 || x.shape[3] !== 1 || y.shape.join() !== x.shape.slice(0, 2).join())
        return undefined;
    } else if (n.opType === 'MaxPool') {
      const k = n.attributes.get('kernel_shape');
      const so = n.attributes.get('storage_order');
      if (k?.kind !== 'ints' || k.value.length !== 2 || (so?.kind === 'int' && so.value !== 0)) return undefined;
    }
    const dataSet = new Set(data);
    return {
      inputs: n.inputs.map((v, k) => (dataSet.has(k) ? q8(dqSource(v)!.v) : v)),
      outputs: tails.map((q) => q8(q!.outputs[0]!)),
      dataInputs: data.map((k) => n.inputs[k]!),
      tails: tails as Node[],
      values: [...srcs.map((s) => s!.v), ...tails.map((q) => q!.outputs[0]!)],
    };
  };

  const absorbed = new Set<Node>();
  const fusedReads = new Map<string, number>(); // DQ output -> reads taken over by fused ops
  const made = new Map<Node, Node>(); // the node a fused op replaces (its QuantizeLinear) -> the fused op
  const int8Values = new Set<string>();
  const q8 = (v: string): string => `${v}::qs8`;
  /**
   * Replace `n` and its QuantizeLinear tail (and the activation the tail took in) by the int8 node `opType`
   * reading the int8 values `inputs`: the tail's scale, zero point and clamp become its out_* attributes.
   */
  const replaceWithInt8 = (
    n: Node,
    opType: string,
    inputs: readonly string[],
    tail: NonNullable<ReturnType<typeof quantTail>>,
    attrs: Map<string, Attribute>,
  ): void => {
    const [lo, hi] = clampBounds(tail.activation, tail.p.scale, tail.p.zero);
    attrs.set('out_scale', f(tail.p.scale)).set('out_zero', f(tail.p.zero)).set('out_min', f(lo)).set('out_max', f(hi));
    const y = tail.q.outputs[0]!;
    made.set(tail.q, {
      name: n.name,
      opType,
      domain: 'edgecnn',
      inputs: inputs.map(q8),
      outputs: [q8(y)],
      attributes: attrs,
    });
    absorbed.add(n).add(tail.q);
    if (tail.act) absorbed.add(tail.act);
    for (const v of inputs) int8Values.add(v);
    int8Values.add(y);
  };

  for (const n of nodes) {
    // The optimizer may already have fused a Relu/Clip the quantizer kept into the Conv (no residual here).
    const fusedConv = n.domain === 'edgecnn' && n.opType === 'FusedConv' && !n.inputs[3];
    if (isStdOp(n, 'Conv') || fusedConv) {
      const src = dqSource(n.inputs[0]!);
      const w = int8Weights(prep, n.inputs[1]!);
      const bias = n.inputs[2] ? prep.constants.get(n.inputs[2]) : undefined;
      const tail0 = quantTail(n.outputs[0]!);
      const inner = fusedConv ? fusedClamp(n) : { kind: 'none' as const };
      if (!inner || (inner.kind !== 'none' && tail0?.activation.kind !== 'none')) continue;
      const tail = tail0 && inner.kind !== 'none' ? { ...tail0, activation: inner } : tail0;
      if (!src || !w || !tail || (n.inputs[2] && (!bias || bias.dtype !== 'float32'))) continue;
      const inShape = prep.types.get(n.inputs[0]!)?.shape;
      if (prep.types.get(n.outputs[0]!)?.shape.length !== 4 || inShape?.length !== 4) continue;
      // The kernels take dense (group 1) and depthwise convs; other groupings stay float (lowerInt8 has no fallback).
      const group = n.attributes.get('group');
      const gv = group?.kind === 'int' ? group.value : 1;
      if (gv !== 1 && !(gv === inShape[1] && gv === w.q.shape[0])) continue;
      const attrs = new Map(n.attributes);
      attrs.delete('activation');
      attrs.delete('activation_params');
      attrs.set('weights', { kind: 'tensor', value: w.q });
      if (bias) attrs.set('bias', { kind: 'tensor', value: bias });
      const bInt = bias && int32Bias(prep, n.inputs[2]!, src.p.scale, w.scales, w.q.shape[0]!);
      if (bInt) attrs.set('bias_int', { kind: 'tensor', value: bInt });
      attrs.set('w_scales', { kind: 'floats', value: Array.from(w.scales) });
      attrs.set('in_scale', f(src.p.scale)).set('in_zero', f(src.p.zero));
      replaceWithInt8(n, 'Qs8Conv', [src.v], tail, attrs);
      fusedReads.set(n.inputs[0]!, (fusedReads.get(n.inputs[0]!) ?? 0) + 1);
    } else if (isStdOp(n, 'Add') && n.inputs.length === 2) {
      const a = dqSource(n.inputs[0]!);
      const b = dqSource(n.inputs[1]!);
      const tail = quantTail(n.outputs[0]!);
      const t = prep.types.get(n.outputs[0]!);
      const same = (x: string): boolean => prep.types.get(x)?.shape.join() === t?.shape.join();
      if (!a || !b || !tail || !t || !same(n.inputs[0]!) || !same(n.inputs[1]!)) continue;
      replaceWithInt8(n, 'Qs8Add', [a.v, b.v], tail, abAttributes(a.p, b.p));
      for (const x of n.inputs) fusedReads.set(x, (fusedReads.get(x) ?? 0) + 1);
    } else if (isStdOp(n, 'Mul') && n.inputs.length === 2) {
      const t = prep.types.get(n.outputs[0]!)?.shape;
      const shapeOf = (x: string): string | undefined => prep.types.get(x)?.shape.join();
      // a is full size; b full size or one pixel per image (the squeeze-and-excitation scale).
      const order = shapeOf(n.inputs[0]!) === t?.join() ? [0, 1] : [1, 0];
      const [ia, ib] = order.map((k) => n.inputs[k]!) as [string, string];
      const a = dqSource(ia);
      const b = dqSource(ib);
      const tail = quantTail(n.outputs[0]!);
      if (!a || !b || !tail || !t || shapeOf(ia) !== t.join()) continue;
      const bs = shapeOf(ib);
      if (bs !== t.join() && bs !== [t[0], t[1], 1, 1].join()) continue;
      replaceWithInt8(n, 'Qs8Mul', [a.v, b.v], tail, abAttributes(a.p, b.p));
      for (const x of n.inputs) fusedReads.set(x, (fusedReads.get(x) ?? 0) + 1);
    } else if (isStdOp(n, 'Gemm')) {
      const src = dqSource(n.inputs[0]!);
      const w = src && gemmWeights(n);
      if (!src || !w || prep.types.get(n.inputs[0]!)?.shape.length !== 2) continue;
      const [M, K] = [w.q.shape[0]!, w.q.shape[1]!];
      const bias = n.inputs[2] ? prep.constants.get(n.inputs[2]) : undefined;
      if (n.inputs[2] && (!bias || bias.dtype !== 'float32' || bias.data.length !== M)) continue;
      const tail = quantTail(n.outputs[0]!);
      const attrs = new Map<string, Attribute>([
        ['weights', { kind: 'tensor', value: makeTensor('int8', [M, K, 1, 1], w.q.data as Int8Array) }],
        ['w_scales', { kind: 'floats', value: Array.from(w.scales) }],
        ['in_scale', f(src.p.scale)],
        ['in_zero', f(src.p.zero)],
      ]);
      if (bias) attrs.set('bias', { kind: 'tensor', value: bias });
      if (tail) {
        // A 1x1 convolution over one pixel per image.
        const bInt = bias && int32Bias(prep, n.inputs[2]!, src.p.scale, w.scales, M);
        if (bInt) attrs.set('bias_int', { kind: 'tensor', value: bInt });
        attrs.set('kernel_shape', { kind: 'ints', value: [1, 1] });
        replaceWithInt8(n, 'Qs8Conv', [src.v], tail, attrs);
      } else {
        // Float output (a classifier's logits): dequantized in the epilogue.
        const op: Node = {
          name: n.name,
          opType: 'Qs8Fc',
          domain: 'edgecnn',
          inputs: [q8(src.v)],
          outputs: [n.outputs[0]!],
          attributes: attrs,
        };
        absorbed.add(n);
        made.set(n, op);
      }
      fusedReads.set(n.inputs[0]!, (fusedReads.get(n.inputs[0]!) ?? 0) + 1);
      int8Values.add(src.v);
    } else if (isStdOp(n, 'GlobalAveragePool')) {
      const src = dqSource(n.inputs[0]!);
      const tail = quantTail(n.outputs[0]!);
      if (!src || !tail) continue;
      const attrs = new Map<string, Attribute>([
        ['in_scale', f(src.p.scale)],
        ['in_zero', f(src.p.zero)],
      ]);
      replaceWithInt8(n, 'Qs8GlobalAveragePool', [src.v], tail, attrs);
      fusedReads.set(n.inputs[0]!, (fusedReads.get(n.inputs[0]!) ?? 0) + 1);
    } else if (
      MOVE_OPS.has(n.opType) &&
      (isStdOp(n, n.opType) || (n.domain === 'edgecnn' && n.opType === 'ChannelShuffle'))
    ) {
      const moved = int8Move(n);
      if (!moved) continue;
      const op: Node = { ...n, inputs: moved.inputs, outputs: moved.outputs };
      absorbed.add(n);
      for (const q of moved.tails) absorbed.add(q);
      made.set(n, op);
      for (const x of moved.dataInputs) fusedReads.set(x, (fusedReads.get(x) ?? 0) + 1);
      for (const v of moved.values) int8Values.add(v);
    }
  }
  // Unary ops between int8 values, once the producers/consumers above are known (a table on its own would only
  // add a dequantize and a quantize around the lookup).
  for (const n of nodes) {
    if (!LUT_OPS.has(n.opType) || (n.domain !== '' && n.domain !== 'edgecnn')) continue;
    if (n.inputs.slice(1).some((x) => x && !prep.constants.has(x)) || n.outputs.length !== 1) continue;
    const src = dqSource(n.inputs[0]!);
    const r = only(n.outputs[0]!);
    if (!src || !isStd(r, 'QuantizeLinear') || !candidate(r.outputs[0]!)) continue;
    if (!int8Values.has(src.v) && !int8Values.has(r.outputs[0]!)) continue;
    if (prep.types.get(n.outputs[0]!)?.shape.join() !== prep.types.get(n.inputs[0]!)?.shape.join()) continue;
    const table = lutOf(prep, n, src.p, qparams(prep, r)!);
    if (!table) continue;
    const op: Node = {
      name: n.name,
      opType: 'Qs8Lut',
      domain: 'edgecnn',
      inputs: [q8(src.v)],
      outputs: [q8(r.outputs[0]!)],
      attributes: new Map([['table', { kind: 'tensor', value: makeTensor('int8', [256], table) }]]),
    };
    absorbed.add(n).add(r);
    made.set(r, op);
    fusedReads.set(n.inputs[0]!, (fusedReads.get(n.inputs[0]!) ?? 0) + 1);
    int8Values.add(src.v).add(r.outputs[0]!);
  }
  if (int8Values.size === 0) return [...nodes];
  prep.arenaInt8 ??= new Set();
  for (const v of int8Values) {
    // [N, C] values (classifier heads) are stored as [N, C, 1, 1]: one pixel per image, the same bytes.
    const shape = prep.types.get(v)!.shape;
    prep.types.set(q8(v), { dtype: 'int8', shape: shape.length === 2 ? [shape[0]!, shape[1]!, 1, 1] : [...shape] });
    prep.arenaInt8.add(q8(v));
  }

  const out: Node[] = [];
  for (const n of nodes) {
    const fused = made.get(n);
    if (fused) {
      out.push(fused);
      continue;
    }
    if (absorbed.has(n)) continue;
    if (isStdOp(n, 'QuantizeLinear') && int8Values.has(n.outputs[0]!)) {
      const p = qparams(prep, n)!;
      out.push({
        name: n.name,
        opType: 'Qs8Quantize',
        domain: 'edgecnn',
        inputs: [n.inputs[0]!],
        outputs: [q8(n.outputs[0]!)],
        attributes: new Map([
          ['scale', f(p.scale)],
          ['zero', f(p.zero)],
        ]),
      });
      continue;
    }
    if (isStdOp(n, 'DequantizeLinear') && int8Values.has(n.inputs[0]!)) {
      const d = n.outputs[0]!;
      const rest = (readers.get(d) ?? []).length - (fusedReads.get(d) ?? 0);
      if (rest === 0 && !outputs.has(d)) continue;
      const p = qparams(prep, n)!;
      out.push({
        name: n.name,
        opType: 'Qs8Dequantize',
        domain: 'edgecnn',
        inputs: [q8(n.inputs[0]!)],
        outputs: [d],
        attributes: new Map([
          ['scale', f(p.scale)],
          ['zero', f(p.zero)],
        ]),
      });
      continue;
    }
    out.push(n);
  }
  return out;
}

const need = (n: Node, name: string): number => {
  const v = attrFloat(n, name);
  if (v === undefined) throw new EdgecnnError(`node '${n.name}': ${n.opType} lacks attribute ${name}`, 'internal');
  return v;
};

/** Whether a node reads or writes an int8 arena value (then only `lowerInt8` may compute it). */
export function touchesInt8(node: Node, ctx: SelectContext): boolean {
  return [...node.inputs, ...node.outputs].some((v) => {
    const l = v ? ctx.operand(v).layout : undefined;
    return !!l && l.layout === 'nhwc' && l.type.dtype === 'int8';
  });
}

/**
 * The kernel for one of INT8_OPS or a data-movement node on int8 values (undefined for other nodes or shapes the
 * kernels do not take).
 */
export function lowerInt8(node: Node, ctx: SelectContext): LoweredKernel | undefined {
  const x0 = ctx.operand(node.inputs[0]!).layout;
  const y0 = ctx.operand(node.outputs[0]!).layout;
  if (!x0 || !y0) return undefined;
  if (node.opType === 'Qs8Quantize' && x0.layout === 'flat' && x0.type.shape.length === 4 && y0.layout === 'nhwc') {
    // A graph input kept NCHW (assign-layouts): quantized and moved to NHWC in one pass.
    const [bn, bc, bh, bw] = x0.type.shape as [number, number, number, number];
    if (y0.type.shape.join() !== x0.type.shape.join()) return undefined;
    const qs: Qs8QuantizeNchwSpec = {
      batch: bn,
      channels: bc,
      pixels: bh * bw,
      scale: need(node, 'scale'),
      zero: need(node, 'zero'),
    };
    return {
      fused: true,
      scratchBytes: 0,
      zeroBytes: 0,
      usesRelaxedSimd: false,
      id: qs8QuantizeNchw.id(),
      parallelExtent: qs8QuantizeNchw.parallelExtent(qs),
      macs: 0,
      bytesMoved: qs8QuantizeNchw.bytesMoved(qs),
      weights: [],
      inPlaceInputs: [],
      emit(fn, a) {
        const [i, o] = [a.inputs[0], a.outputs[0]];
        if (i === undefined || o === undefined)
          throw new EdgecnnError(`node '${node.name}': missing address`, 'internal');
        qs8QuantizeNchw.emit(fn, qs, { input: i, output: { addrBytes: o, pixelStride: y0.pixelStride } });
      },
    };
  }
  // The float side of a quantize, dequantize or Qs8Fc may be a flat [N, C] value: one pixel per image.
  const asPixels = (l: typeof x0): typeof x0 | undefined =>
    l.layout === 'nhwc'
      ? l
      : l.layout === 'flat' && l.type.shape.length === 2
        ? { ...l, layout: 'nhwc', pixelStride: l.type.shape[1]!, type: { ...l.type, shape: [...l.type.shape, 1, 1] } }
        : undefined;
  const flatOk = ['Qs8Quantize', 'Qs8Dequantize', 'Qs8Fc'].includes(node.opType);
  const x = flatOk ? asPixels(x0) : x0;
  const y = flatOk ? asPixels(y0) : y0;
  if (!x || !y || x.layout !== 'nhwc' || y.layout !== 'nhwc') return undefined;
  const ref = (l: typeof x, addr: number | undefined): ActivationRef => {
    if (addr === undefined) throw new EdgecnnError(`node '${node.name}': value '${l.name}' has no address`, 'internal');
    return { addrBytes: addr, pixelStride: l.pixelStride };
  };
  const [n, c, h, w] = y.type.shape as [number, number, number, number];
  const base = { fused: true, scratchBytes: 0, zeroBytes: 0, usesRelaxedSimd: false } as const;

  if (node.opType === 'Qs8Conv') {
    const wt = attrTensor(node, 'weights');
    if (!wt) throw new EdgecnnError(`node '${node.name}': Qs8Conv lacks weights`, 'internal');
    const g = convGeometry(x.type.shape, wt.shape, { node, opset: ctx.opset(node) });
    if (g.outSpatial.length !== 2) return undefined;
    const spec: Qs8ConvSpec = {
      batch: g.batch,
      inH: g.inSize[1]!,
      inW: g.inSize[2]!,
      inC: g.inChannels,
      outH: g.outSize[1]!,
      outW: g.outSize[2]!,
      outC: g.outChannels,
      kernelH: g.kernel[1]!,
      kernelW: g.kernel[2]!,
      strideH: g.strides[1]!,
      strideW: g.strides[2]!,
      padTop: g.padBegin[1]!,
      padLeft: g.padBegin[2]!,
      dilationH: g.dilations[1]!,
      dilationW: g.dilations[2]!,
      group: g.group,
      outMin: need(node, 'out_min'),
      outMax: need(node, 'out_max'),
    };
    const biasT = attrTensor(node, 'bias');
    const biasI = attrTensor(node, 'bias_int');
    if (biasT && !biasI) spec.floatBias = true;
    const weights = {
      weights: wt.data as Int8Array,
      ...(biasI ? { biasInt: biasI.data as Int32Array } : biasT ? { bias: biasT.data as Float32Array } : {}),
      quant: {
        inScale: need(node, 'in_scale'),
        inZero: need(node, 'in_zero'),
        weightScales: Float32Array.from(attrFloats(node, 'w_scales', [])),
        outScale: need(node, 'out_scale'),
        outZero: need(node, 'out_zero'),
      },
    };
    const depthwise = spec.group > 1 && spec.group === spec.inC && spec.inC === spec.outC;
    if (spec.group !== 1 && !depthwise) return undefined;
    // Winograd first for 3x3 stride-1 layers where its integer accumulator is exact (same outputs as qs8-conv),
    // the taps x channels gather for few input channels (RGB stems), then the GEMM-tiled families; the tuner
    // may take any of them.
    type Fam =
      | typeof qs8Dwconv
      | typeof qs8DwconvRdot
      | typeof qs8Winograd
      | typeof qs8Gemm
      | typeof qs8GemmRdot
      | typeof qs8ConvRdot
      | typeof qs8Conv
      | typeof qs8ConvIm2col;
    const options: { fam: Fam; v: unknown }[] = depthwise
      ? [
          // The relaxed int8 dot (4 kernel rows x 4 channels per instruction) where the probe proved it exact and
          // the shape is one it was measured faster on; the i16 kernels otherwise (and for the tuner).
          ...candidateQs8DwconvRdotVariants(spec, ctx.relaxedDotB).map((v) => ({ fam: qs8DwconvRdot, v })),
          ...qs8Dwconv.variants.filter((v) => qs8Dwconv.supports(spec, v)).map((v) => ({ fam: qs8Dwconv, v })),
        ]
      : [
          // The relaxed int8 dot (16 MACs per instruction) only where the probe proved it exact.
          ...candidateQs8GemmRdotVariants(spec, ctx.relaxedDotB).map((v) => ({
            fam: isPointwise(spec) ? qs8GemmRdot : qs8ConvRdot,
            v,
          })),
          ...QS8_WINOGRAD_VARIANTS.filter((v) => qs8Winograd.supports(spec, v)).map((v) => ({ fam: qs8Winograd, v })),
          ...(qs8ConvIm2col.supports(spec, pickQs8Im2colVariant(spec))
            ? [{ fam: qs8ConvIm2col, v: pickQs8Im2colVariant(spec) }]
            : []),
          ...candidateQs8GemmVariants(spec).map((v) => ({ fam: isPointwise(spec) ? qs8Gemm : qs8Conv, v })),
        ];
    const candidates = options.map(({ fam, v }): KernelCandidate => {
      const id = (fam.id as (s: Qs8ConvSpec, v: unknown) => string)(spec, v);
      return {
        id,
        lower() {
          const packed = (fam.pack as (s: Qs8ConvSpec, v: unknown, w: typeof weights) => Uint8Array)(spec, v, weights);
          return {
            ...base,
            usesRelaxedSimd: fam === qs8GemmRdot || fam === qs8ConvRdot || fam === qs8DwconvRdot,
            scratchBytes:
              (fam as { scratchBytes?: (s: Qs8ConvSpec, v: unknown) => number }).scratchBytes?.(spec, v) ?? 0,
            id,
            parallelExtent: (fam.parallelExtent as (s: Qs8ConvSpec, v: unknown) => number)(spec, v),
            macs: fam.macs(spec),
            bytesMoved: n * c * h * w + x.type.shape.reduce((a, b) => a * b, 1) + packed.length,
            weights: [packed],
            inPlaceInputs: [],
            emit(fn, a) {
              (fam.emit as (fn: unknown, s: Qs8ConvSpec, v: unknown, a: unknown) => void)(fn, spec, v, {
                input: ref(x, a.inputs[0]),
                packedWeights: a.weights[0]!,
                output: ref(y, a.outputs[0]),
                ...(a.scratch !== undefined ? { scratch: a.scratch } : {}),
              });
            },
          };
        },
      };
    });
    return chooseKernel(node, ctx, specKey(depthwise ? 'qs8-dwconv' : 'qs8-conv', spec), candidates);
  }

  const pixels = n * h * w;
  const moveTo = (
    id: string,
    extent: number,
    bytesMoved: number,
    emit: (fn: FunctionBuilder, io: { input: ActivationRef; output: ActivationRef }) => void,
  ): LoweredKernel => ({
    ...base,
    fused: false,
    id,
    parallelExtent: extent,
    macs: 0,
    bytesMoved,
    weights: [],
    inPlaceInputs: [],
    emit(fn, a) {
      emit(fn, { input: ref(x, a.inputs[0]), output: ref(y, a.outputs[0]) });
    },
  });
  if (node.opType === 'Identity' || node.opType === 'ChannelShuffle') {
    if (x.type.shape.join() !== y.type.shape.join()) return undefined;
    const ms: Qs8MoveSpec =
      node.opType === 'Identity'
        ? { op: 'copy', pixels, channels: c }
        : { op: 'shuffle', pixels, channels: c, groups: attrInt(node, 'group', 1) };
    if (ms.op === 'shuffle' && (ms.groups! < 1 || c % ms.groups! !== 0)) return undefined;
    const v = qs8Move.variants[0]!;
    return moveTo(qs8Move.id(ms, v), pixels, qs8Move.bytesMoved(ms), (fn, io) => qs8Move.emit(fn, ms, v, io));
  }
  if (node.opType === 'MaxPool') {
    const ps = poolSpecOf(node, x, y);
    if (!ps || ps.kind !== 'max') return undefined;
    const v = qs8MaxPool.variants[0]!;
    return moveTo(qs8MaxPool.id(ps, v), qs8MaxPool.parallelExtent(ps), qs8MaxPool.bytesMoved(ps), (fn, io) =>
      qs8MaxPool.emit(fn, ps, v, io),
    );
  }
  if (node.opType === 'Qs8Fc') {
    const wt = attrTensor(node, 'weights');
    const biasT = attrTensor(node, 'bias');
    if (!wt || wt.shape.length !== 4 || h !== 1 || w !== 1) return undefined;
    const [M, K] = [wt.shape[0]!, wt.shape[1]!];
    if (x.type.shape.join() !== [n, K, 1, 1].join() || c !== M) return undefined;
    const fs: Qs8FcSpec = { batch: n, inputs: K, outputs: M, inZero: need(node, 'in_zero') };
    const inScale = need(node, 'in_scale');
    const wScales = attrFloats(node, 'w_scales', []);
    const fw = {
      weights: wt.data as Int8Array,
      scales: Float32Array.from({ length: M }, (_, m) => Math.fround(inScale * wScales[wScales.length === 1 ? 0 : m]!)),
      ...(biasT ? { bias: biasT.data as Float32Array } : {}),
    };
    const candidates = qs8Fc.variants.map((v): KernelCandidate => {
      const id = qs8Fc.id(fs, v);
      return {
        id,
        lower() {
          const packed = qs8Fc.pack(fs, v, fw);
          return {
            ...base,
            id,
            parallelExtent: qs8Fc.parallelExtent(fs, v),
            macs: qs8Fc.macs(fs),
            bytesMoved: packed.length + n * (K + 4 * M),
            weights: [packed],
            inPlaceInputs: [],
            emit(fn, a) {
              qs8Fc.emit(fn, fs, v, {
                input: ref(x, a.inputs[0]),
                outputAddr: ref(y, a.outputs[0]).addrBytes,
                packedWeights: a.weights[0]!,
              });
            },
          };
        },
      };
    });
    return chooseKernel(node, ctx, specKey('qs8-fc', fs), candidates);
  }
  if (node.opType === 'Qs8GlobalAveragePool') {
    const [, , ih, iw] = x.type.shape as [number, number, number, number];
    if (h !== 1 || w !== 1 || x.type.shape[1] !== c) return undefined;
    const gs: Qs8GlobalPoolSpec = {
      batch: n,
      pixels: ih * iw,
      channels: c,
      inScale: need(node, 'in_scale'),
      inZero: need(node, 'in_zero'),
      outScale: need(node, 'out_scale'),
      outZero: need(node, 'out_zero'),
      outMin: need(node, 'out_min'),
      outMax: need(node, 'out_max'),
    };
    const v = qs8GlobalAvgPool.variants[0]!;
    return {
      ...moveTo(qs8GlobalAvgPool.id(gs, v), n, qs8GlobalAvgPool.bytesMoved(gs), (fn, io) =>
        qs8GlobalAvgPool.emit(fn, gs, v, io),
      ),
      fused: true,
    };
  }
  let spec: Qs8EltwiseSpec;
  if (node.opType === 'Qs8Lut') {
    const table = attrTensor(node, 'table');
    if (!table || table.data.length !== 256)
      throw new EdgecnnError(`node '${node.name}': Qs8Lut lacks its table`, 'internal');
    spec = { op: 'lut', pixels, channels: c, scaleA: 1, zeroA: 0 };
  } else if (node.opType === 'Qs8Quantize' || node.opType === 'Qs8Dequantize') {
    spec = {
      op: node.opType === 'Qs8Quantize' ? 'quantize' : 'dequantize',
      pixels,
      channels: c,
      scaleA: need(node, 'scale'),
      zeroA: need(node, 'zero'),
    };
  } else if (node.opType === 'Qs8Add' || node.opType === 'Qs8Mul') {
    const b = ctx.operand(node.inputs[1]!).layout;
    if (!b || b.layout !== 'nhwc') return undefined;
    const bShape = b.type.shape.join();
    const broadcast = bShape !== y.type.shape.join();
    if (broadcast && (node.opType !== 'Qs8Mul' || bShape !== [n, c, 1, 1].join())) return undefined;
    spec = {
      op: node.opType === 'Qs8Add' ? 'add' : 'mul',
      ...(broadcast ? { bBroadcastPixels: h * w } : {}),
      pixels,
      channels: c,
      scaleA: need(node, 'a_scale'),
      zeroA: need(node, 'a_zero'),
      scaleB: need(node, 'b_scale'),
      zeroB: need(node, 'b_zero'),
      scaleOut: need(node, 'out_scale'),
      zeroOut: need(node, 'out_zero'),
      outMin: need(node, 'out_min'),
      outMax: need(node, 'out_max'),
    };
  } else {
    return undefined;
  }
  if (x.type.shape.join() !== y.type.shape.join()) return undefined;
  const v = QS8_ELTWISE_VARIANTS[0]!;
  return {
    ...base,
    id: qs8Eltwise.id(spec, v),
    parallelExtent: pixels,
    macs: 0,
    bytesMoved: qs8Eltwise.bytesMoved(spec),
    weights: spec.op === 'lut' ? [packLut(attrTensor(node, 'table')!.data as Int8Array)] : [],
    // Elementwise: each element is read before the same position is written.
    inPlaceInputs:
      spec.op === 'lut' || spec.bBroadcastPixels !== undefined
        ? [0]
        : spec.op === 'add' || spec.op === 'mul'
          ? [0, 1]
          : [],
    emit(fn, a) {
      const addrs = {
        a: ref(x, a.inputs[0]),
        out: ref(y, a.outputs[0]),
        ...(spec.op === 'lut' ? { table: a.weights[0]! } : {}),
      };
      if (spec.op === 'add' || spec.op === 'mul') {
        const b = ctx.operand(node.inputs[1]!).layout!;
        qs8Eltwise.emit(fn, spec, v, { ...addrs, b: ref(b, a.inputs[1]) });
      } else {
        qs8Eltwise.emit(fn, spec, v, addrs);
      }
    },
  };
}
