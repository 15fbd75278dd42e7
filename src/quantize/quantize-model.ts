/**
 * Post-training quantization of a float model to QDQ ONNX. Steps: fold BatchNorm and constants (optimizer level
 * 1), find layers (layers.ts), calibrate every layer tensor (calibrate.ts), choose ranges per tensor with the
 * method (ranges.ts), intersect each clamp-folded output with its Relu/Clip bounds, unite the ranges of scale
 * groups, then rewrite: int8 weights (symmetric, per output channel by default) + DequantizeLinear, int32 biases
 * with scale in_scale * w_scale (after bias correction), and one QuantizeLinear -> DequantizeLinear pair per
 * activation tensor right after its producer. A clamp whose range the Q already enforces (zero point at qmin,
 * top of range within the clamp) is dropped: Q's saturation is the clamp. Layers in `fp32Layers` keep float.
 */
import { EdgecnnError } from '../ir/errors.js';
import type { Attribute, Graph, Model, Node } from '../ir/graph.js';
import { opsetVersion } from '../ir/graph.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';
import { optimize } from '../passes/index.js';
import { type Progress, type TensorCollector, calibrate } from './calibrate.js';
import { type Layer, PASS_THROUGH_OPS, findLayers, scaleGroups } from './layers.js';
import type { TensorObserver } from './observers.js';
import {
  type ActivationType,
  type CalibrationMethod,
  type QParams,
  type Range,
  computeRange,
  qparamsFor,
  symmetricScale,
} from './ranges.js';

export interface QuantizeOptions {
  /** Activation range method (default 'mse': best on the Fashion-MNIST fixture and on mobilenet_v2). */
  method?: CalibrationMethod;
  /** Per-output-channel weight scales (default true; needs opset >= 13, else per-tensor with a note). */
  perChannel?: boolean;
  /** Activation type, asymmetric either way (default 'uint8'). */
  activations?: ActivationType;
  /** Correct each biased layer's expected output shift from weight rounding (default true). */
  biasCorrection?: boolean;
  /** Give both inputs of an Add the same parameters (default true). */
  unifyAddScales?: boolean;
  /** Percentile for method 'percentile' (default 99.99). */
  percentile?: number;
  /** Layer names (main node names) that stay float32. */
  fp32Layers?: Iterable<string>;
  /**
   * Write weights already dequantized (float32) instead of int8 + DequantizeLinear: the same numbers, for fast
   * simulation on float kernels. Never for export.
   */
  simulateWeights?: boolean;
  /** Quantize activations (default true); false gives a weight-only int8 model (float activations). */
  quantizeActivations?: boolean;
  /** Quantize weights (default true); false keeps float weights (activation-only, for error analysis). */
  quantizeWeights?: boolean;
  /**
   * Per-output-channel amounts added to a layer's float bias before it is quantized (layer name -> offsets),
   * e.g. the empirical bias correction of bias-correction.ts. A layer without a bias gets one.
   */
  biasOffsets?: ReadonlyMap<string, Float64Array>;
}

/** A calibrated float model: reusable to build QDQ models for several methods or layer subsets. */
export interface Calibration {
  /** The float model that was calibrated (BatchNorm folded). */
  model: Model;
  layers: Layer[];
  observers: Map<string, TensorObserver>;
  sampleCount: number;
}

export interface LayerReport {
  name: string;
  opType: string;
  quantized: boolean;
  /** Why it stayed float (when not quantized). */
  reason?: string;
  /** Relu/Clip absorbed by the output's quantization. */
  clampFolded: boolean;
  /** Weight quantization SQNR in dB (weighted layers). */
  weightSqnrDb?: number;
  /** Largest bias correction applied, relative to the largest |bias| (weighted layers). */
  biasCorrection?: number;
  output?: QParams & Range;
}

export interface QuantizeResult {
  model: Model;
  layers: LayerReport[];
  notes: string[];
}

/**
 * Fold BatchNorm, constants and Identity (optimizer level 1) so that weights are final before quantizing;
 * `inputShapes` fixes symbolic input dims (calibration needs concrete shapes).
 */
export function prepareFloatModel(model: Model, inputShapes?: Record<string, readonly number[]>): Model {
  return optimize(model, { level: 1, ...(inputShapes ? { inputShapes } : {}) }).model;
}

/** Calibrate a float model on samples (one tensor per sample for its single input). */
export async function calibrateModel(
  model: Model,
  samples: readonly Tensor[],
  options: { onProgress?: Progress; prepared?: boolean; collector?: TensorCollector } = {},
): Promise<Calibration> {
  const prepared = options.prepared ? model : prepareFloatModel(model);
  const layers = findLayers(prepared.graph);
  if (layers.length === 0)
    throw new EdgecnnError(
      'the model has no quantizable layers (Conv, Gemm, MatMul, Add, Concat, pooling)',
      'bad-model',
    );
  const tensors = new Set<string>();
  const means = new Set<string>();
  for (const l of layers) {
    for (const i of l.inputs) tensors.add(i);
    tensors.add(l.output);
    if (l.weight) means.add(l.inputs[0]!);
  }
  const observers = await calibrate(prepared, samples, tensors, {
    channelMeans: means,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.collector ? { collector: options.collector } : {}),
  });
  return { model: prepared, layers, observers, sampleCount: samples.length };
}

/** Calibrate and quantize in one call. */
export async function quantizeModel(
  model: Model,
  samples: readonly Tensor[],
  options: QuantizeOptions & { onProgress?: Progress; collector?: TensorCollector } = {},
): Promise<QuantizeResult> {
  const cal = await calibrateModel(model, samples, {
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.collector ? { collector: options.collector } : {}),
  });
  return buildQdqModel(cal, options);
}

const QRANGES: Record<ActivationType, [number, number]> = { uint8: [0, 255], int8: [-128, 127] };

/** Build the QDQ model for a calibration (see the file comment). The calibration is not modified. */
export function buildQdqModel(cal: Calibration, options: QuantizeOptions = {}): QuantizeResult {
  const method = options.method ?? 'mse';
  const actType = options.activations ?? 'uint8';
  const notes: string[] = [];
  const opset = opsetVersion(cal.model) ?? 13;
  let perChannel = options.perChannel ?? true;
  if (perChannel && opset < 13) {
    perChannel = false;
    notes.push(`opset ${opset} has no per-axis DequantizeLinear: weights use per-tensor scales`);
  }
  if (opset < 10) {
    throw new EdgecnnError(
      `QuantizeLinear/DequantizeLinear need opset 10 or later; this model imports opset ${opset}`,
      'bad-model',
    );
  }
  const src = cal.model.graph;
  const fp32 = new Set(options.fp32Layers ?? []);
  const known = new Set(cal.layers.map((l) => l.name));
  for (const n of fp32)
    if (!known.has(n))
      throw new EdgecnnError(`--fp32-layer '${n}' is not a quantizable layer of this model`, 'bad-argument');
  const graphOutputs = new Set(src.outputs.map((o) => o.name));
  const active = cal.layers.filter((l) => !fp32.has(l.name));
  const reports = new Map<string, LayerReport>();
  for (const l of cal.layers) {
    reports.set(l.name, {
      name: l.name,
      opType: l.opType,
      quantized: !fp32.has(l.name),
      clampFolded: false,
      ...(fp32.has(l.name) ? { reason: 'kept fp32 by request' } : {}),
    });
  }

  // Tensors carrying Q/DQ, and their ranges (clamp-intersected, then united per scale group).
  const ranges = new Map<string, Range>();
  const clampOf = new Map<string, { lo: number; hi: number }>();
  for (const l of active) if (l.clamp) clampOf.set(l.output, l.clamp);
  for (const l of options.quantizeActivations === false ? [] : active) {
    for (const t of [...l.inputs, l.output]) {
      if (graphOutputs.has(t) || ranges.has(t)) continue;
      const obs = cal.observers.get(t);
      if (!obs) throw new EdgecnnError(`internal: tensor '${t}' was not observed during calibration`, 'internal');
      const r = computeRange(obs, method, options.percentile !== undefined ? { percentile: options.percentile } : {});
      const c = clampOf.get(t);
      if (c) {
        r.lo = Math.max(r.lo, c.lo);
        r.hi = Math.min(r.hi, c.hi);
      }
      ranges.set(t, r);
    }
  }
  const groups = scaleGroups(active, { unifyAdd: options.unifyAddScales ?? true });
  const groupRange = new Map<string, Range>();
  for (const [t, r] of ranges) {
    const g = groups.find(t);
    const u = groupRange.get(g);
    groupRange.set(g, u ? { lo: Math.min(u.lo, r.lo), hi: Math.max(u.hi, r.hi) } : { ...r });
  }
  const params = new Map<string, QParams>();
  for (const t of ranges.keys()) params.set(t, qparamsFor(groupRange.get(groups.find(t))!, actType));

  // Which clamps the quantizer enforces exactly.
  const [qmin, qmax] = QRANGES[actType];
  const droppedClamps = new Set<Node>();
  for (const l of active) {
    if (!l.clamp) continue;
    const p = params.get(l.output);
    if (!p) continue;
    if (p.zeroPoint === qmin && p.scale * (qmax - p.zeroPoint) <= l.clamp.hi * (1 + 1e-6)) {
      droppedClamps.add(l.clamp.node);
      reports.get(l.name)!.clampFolded = true;
    }
  }

  // Rewrite.
  const names = new Set<string>([
    ...src.initializers.keys(),
    ...src.inputs.map((i) => i.name),
    ...src.nodes.flatMap((n) => n.outputs),
  ]);
  const fresh = (base: string): string => {
    let n = base;
    for (let k = 1; names.has(n); k++) n = `${base}_${k}`;
    names.add(n);
    return n;
  };
  // New tensors and Q/DQ nodes get short ids (a12.q, w3.s, b3.dq): long exported names (a Conv output's path plus
  // a suffix, four per activation) were ~4% of an int8 EfficientNet-B0 file. The Q node's input keeps the original
  // name, which ties an id to its tensor.
  const ids = new Map<string, string>();
  const id = (kind: 'a' | 'w' | 'b', t: string): string => {
    const key = `${kind}\u0000${t}`;
    let v = ids.get(key);
    if (v === undefined) ids.set(key, (v = `${kind}${ids.size}`));
    return v;
  };
  const initializers = new Map(src.initializers);
  const nodes: Node[] = [];
  const producedByLayer = new Set(active.map((l) => l.output));
  const dq = new Map<string, string>();
  const scalar = (dtype: 'float32' | 'uint8' | 'int8', v: number): Tensor =>
    makeTensor(
      dtype,
      [],
      dtype === 'float32' ? Float32Array.of(v) : dtype === 'uint8' ? Uint8Array.of(v) : Int8Array.of(v),
    );

  const emitQdq = (t: string): void => {
    const p = params.get(t);
    if (!p) return;
    const a = id('a', t);
    const s = fresh(`${a}.s`);
    const z = fresh(`${a}.z`);
    initializers.set(s, scalar('float32', p.scale));
    initializers.set(z, scalar(p.dtype, p.zeroPoint));
    const q = fresh(`${a}.q`);
    const d = fresh(`${a}.dq`);
    nodes.push(node(fresh(`${a}.Q`), 'QuantizeLinear', [t, s, z], [q]));
    nodes.push(node(fresh(`${a}.DQ`), 'DequantizeLinear', [q, s, z], [d]));
    dq.set(t, d);
  };

  // Weight and bias rewriting happens when the layer's node is emitted, since bias scales need input scales.
  const weightInputs = (l: Layer, n: Node): string[] => {
    const inputs = [...n.inputs];
    const w = src.initializers.get(l.weight!.name)!;
    const inScale = params.get(l.inputs[0]!)?.scale;
    const { q, scales } = quantizeWeight(w, l.weight!.axis, perChannel);
    const rep = reports.get(l.name)!;
    rep.weightSqnrDb = weightSqnr(w, q, scales, l.weight!.axis);
    let bias = l.bias ? (src.initializers.get(l.bias) ?? undefined) : undefined;
    if (l.bias && !bias)
      throw new EdgecnnError(`layer '${l.name}': bias '${l.bias}' is not an initializer`, 'bad-model');
    if ((options.biasCorrection ?? true) && l.opType !== 'MatMul') {
      const means = cal.observers.get(l.inputs[0]!)?.channelMeans();
      if (means) {
        const corr = biasShift(w, q, scales, l.weight!.axis, means, l.opType === 'Conv' ? n : undefined);
        if (corr) {
          const b0 = bias ? (bias.data as Float32Array) : new Float32Array(corr.length);
          const b1 = new Float32Array(corr.length);
          let maxB = 0;
          let maxC = 0;
          for (let m = 0; m < corr.length; m++) {
            b1[m] = b0[m]! - corr[m]!;
            maxB = Math.max(maxB, Math.abs(b0[m]!));
            maxC = Math.max(maxC, Math.abs(corr[m]!));
          }
          rep.biasCorrection = maxB > 0 ? maxC / maxB : maxC;
          bias = makeTensor('float32', [corr.length], b1);
        }
      }
    }
    const axisLen = w.shape[l.weight!.axis]!;
    if (l.opType !== 'MatMul') bias = offsetBias(l, bias, axisLen, options.biasOffsets);
    const scaleVec = perChannel ? Float32Array.from(scales) : Float32Array.of(scales[0]!);
    if (options.simulateWeights) {
      const wName = fresh(`${l.weight!.name}_fq`);
      initializers.set(wName, dequantizeWeight(w, q, scales, l.weight!.axis));
      inputs[1] = wName;
      if (bias) {
        const bName = fresh(`${l.bias ?? l.name + '_bias'}_fq`);
        const bq = inScale !== undefined ? quantizeBias(bias, scales, inScale, axisLen) : undefined;
        initializers.set(bName, bq ? makeTensor('float32', [axisLen], bq.real) : bias);
        inputs[2] = bName;
      }
      return inputs;
    }
    const wId = id('w', l.weight!.name);
    const qName = fresh(`${wId}.q`);
    const sName = fresh(`${wId}.s`);
    const dName = fresh(`${wId}.dq`);
    initializers.set(qName, makeTensor('int8', w.shape, q));
    initializers.set(sName, makeTensor('float32', perChannel ? [axisLen] : [], scaleVec));
    // Zero points are omitted (ONNX default 0, typed by x): symmetric weights and int32 biases need none, and
    // per-channel zero arrays would cost ~5 bytes per output channel (MobileNetV2: 85 KB, 0.6% of the fp32 file).
    const wAttrs = new Map<string, Attribute>();
    if (perChannel) wAttrs.set('axis', { kind: 'int', value: l.weight!.axis });
    nodes.push(node(fresh(`${wId}.DQ`), 'DequantizeLinear', [qName, sName], [dName], wAttrs));
    inputs[1] = dName;
    if (bias) {
      if (inScale === undefined) {
        const bName = fresh(`${l.bias ?? l.name + '_bias'}_corrected`);
        initializers.set(bName, bias);
        inputs[2] = bName;
      } else {
        const bq = quantizeBias(bias, scales, inScale, axisLen);
        const base = id('b', l.bias ?? `${l.name}_bias`);
        const bqName = fresh(`${base}.q`);
        const bsName = fresh(`${base}.s`);
        const bdName = fresh(`${base}.dq`);
        initializers.set(bqName, makeTensor('int32', [axisLen], bq.q));
        // Per-tensor weights give one bias scale: written as a scalar so that opsets 10-12 (no axis) accept it.
        initializers.set(
          bsName,
          perChannel ? makeTensor('float32', [axisLen], bq.scales) : makeTensor('float32', [], bq.scales.slice(0, 1)),
        );
        const bAttrs = new Map<string, Attribute>(perChannel ? [['axis', { kind: 'int', value: 0 }]] : []);
        nodes.push(node(fresh(`${base}.DQ`), 'DequantizeLinear', [bqName, bsName], [bdName], bAttrs));
        inputs[2] = bdName;
      }
    }
    return inputs;
  };

  const byNode = new Map(active.map((l) => [l.node, l]));
  for (const i of src.inputs) if (!src.initializers.has(i.name)) emitQdq(i.name);
  for (const n of src.nodes) {
    if (droppedClamps.has(n)) continue;
    const l = byNode.get(n);
    let inputs = [...n.inputs];
    if (l?.weight && options.quantizeWeights !== false) inputs = weightInputs(l, n);
    else if (l?.weight && options.biasOffsets?.has(l.name) && l.opType !== 'MatMul') {
      const w = src.initializers.get(l.weight.name)!;
      const b = offsetBias(
        l,
        l.bias ? src.initializers.get(l.bias) : undefined,
        w.shape[l.weight.axis]!,
        options.biasOffsets,
      );
      const bName = fresh(`${l.bias ?? l.name + '_bias'}_corrected`);
      initializers.set(bName, b!);
      inputs[2] = bName;
    }
    // Every consumer of a quantized tensor reads it dequantized, float ones too: an int8 runtime then holds
    // only the int8 tensor, and an activation function whose output is quantized (HardSwish before a squeeze-
    // and-excitation block) stays a 256-entry table instead of a float island beside it.
    inputs = inputs.map((x) => dq.get(x) ?? x);
    let outputs = n.outputs;
    if (l?.clamp && droppedClamps.has(l.clamp.node)) outputs = [l.clamp.node.outputs[0]!, ...n.outputs.slice(1)];
    nodes.push({ ...n, inputs, outputs, attributes: new Map(n.attributes) });
    for (const o of outputs)
      if (!graphOutputs.has(o) && (producedByLayer.has(o) || isLayerInput(active, o))) emitQdq(o);
  }
  for (const l of active) {
    const p = params.get(l.output);
    const r = ranges.get(l.output);
    if (p && r) reports.get(l.name)!.output = { ...p, ...r };
  }
  for (const l of active) {
    if (l.clamp && !droppedClamps.has(l.clamp.node))
      notes.push(
        `${l.name}: ${l.clamp.node.opType} kept (its output range is wider than the clamp, shared with a scale group)`,
      );
  }

  // Float weights replaced by int8 ones are dropped (they would double the file).
  const used = new Set<string>([...nodes.flatMap((n) => n.inputs), ...src.outputs.map((o) => o.name)]);
  for (const name of [...initializers.keys()]) if (!used.has(name)) initializers.delete(name);
  const graph: Graph = {
    ...src,
    inputs: src.inputs.filter((i) => !src.initializers.has(i.name) || used.has(i.name)),
    nodes,
    initializers,
    valueInfo: new Map(),
  };
  const model: Model = {
    ...cal.model,
    producerName: 'edgecnn',
    docString: `edgecnn quantize: ${method}, ${perChannel ? 'per-channel' : 'per-tensor'} int8 weights, ${actType} activations`,
    graph,
  };
  return { model, layers: [...reports.values()], notes };
}

/** The bias plus the layer's offsets (unchanged without offsets; a zero bias is made for a layer without one). */
function offsetBias(
  l: Layer,
  bias: Tensor | undefined,
  len: number,
  offsets: ReadonlyMap<string, Float64Array> | undefined,
): Tensor | undefined {
  const off = offsets?.get(l.name);
  if (!off) return bias;
  if (off.length !== len)
    throw new EdgecnnError(`layer '${l.name}': ${off.length} bias offsets for ${len} output channels`, 'bad-argument');
  const b0 = bias ? (bias.data as Float32Array) : new Float32Array(len);
  return makeTensor(
    'float32',
    [len],
    Float32Array.from(b0, (v, m) => v + off[m]!),
  );
}

function isLayerInput(layers: readonly Layer[], t: string): boolean {
  return layers.some((l) => l.inputs.includes(t));
}

function node(
  name: string,
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes = new Map<string, Attribute>(),
): Node {
  return { name, opType, domain: '', inputs, outputs, attributes };
}

/** Symmetric int8 quantization of a weight along `axis` (or per tensor): q in [-127, 127]. */
export function quantizeWeight(w: Tensor, axis: number, perChannel: boolean): { q: Int8Array; scales: Float64Array } {
  const C = w.shape[axis]!;
  const inner = w.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const d = w.data as Float32Array;
  const amax = new Float64Array(C);
  for (let i = 0; i < d.length; i++) {
    const c = Math.floor(i / inner) % C;
    amax[c] = Math.max(amax[c]!, Math.abs(d[i]!));
  }
  const scales = new Float64Array(C);
  if (perChannel) for (let c = 0; c < C; c++) scales[c] = symmetricScale(-amax[c]!, amax[c]!);
  else scales.fill(symmetricScale(0, Math.max(...amax)));
  const q = new Int8Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const c = Math.floor(i / inner) % C;
    q[i] = Math.max(-127, Math.min(127, Math.round(d[i]! / scales[c]!)));
  }
  return { q, scales };
}

function dequantizeWeight(w: Tensor, q: Int8Array, scales: Float64Array, axis: number): Tensor {
  const C = w.shape[axis]!;
  const inner = w.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i]! * Math.fround(scales[Math.floor(i / inner) % C]!);
  return makeTensor('float32', w.shape, out);
}

function weightSqnr(w: Tensor, q: Int8Array, scales: Float64Array, axis: number): number {
  const dq = dequantizeWeight(w, q, scales, axis).data as Float32Array;
  const d = w.data as Float32Array;
  let sig = 0;
  let noise = 0;
  for (let i = 0; i < d.length; i++) {
    sig += d[i]! * d[i]!;
    noise += (d[i]! - dq[i]!) ** 2;
  }
  return noise === 0 ? Infinity : 10 * Math.log10(sig / noise);
}

/** int32 bias with scale in_scale * w_scale[m] (float32 product, as the int8 kernels will compute it). */
function quantizeBias(
  b: Tensor,
  wScales: Float64Array,
  inScale: number,
  len: number,
): { q: Int32Array; scales: Float32Array; real: Float32Array } {
  const bd = b.data as Float32Array;
  const q = new Int32Array(len);
  const scales = new Float32Array(len);
  const real = new Float32Array(len);
  for (let m = 0; m < len; m++) {
    const s = Math.fround(inScale * Math.fround(wScales[m]!));
    scales[m] = s;
    const v = Math.round(bd[m]! / s);
    q[m] = Math.max(-2147483648, Math.min(2147483647, v));
    real[m] = q[m]! * s;
  }
  return { q, scales, real };
}

/**
 * Expected output shift per output channel from weight rounding: sum over the channel's weights of
 * (w_q - w) * mean(input channel). Convolution borders (zero padding) are ignored. For Conv, `conv` gives
 * the group count; Gemm weights are [N, K] (axis 0) or [K, N] (axis 1).
 */
function biasShift(
  w: Tensor,
  q: Int8Array,
  scales: Float64Array,
  axis: number,
  means: Float64Array,
  conv: Node | undefined,
): Float64Array | undefined {
  const d = w.data as Float32Array;
  if (conv) {
    const [M, Cg] = [w.shape[0]!, w.shape[1]!];
    const k = w.shape.slice(2).reduce((a, b) => a * b, 1);
    const group = Number(conv.attributes.get('group')?.value ?? 1);
    if (means.length !== Cg * group) return undefined;
    const Mg = M / group;
    const out = new Float64Array(M);
    for (let m = 0; m < M; m++) {
      const c0 = Math.floor(m / Mg) * Cg;
      let s = 0;
      for (let c = 0; c < Cg; c++) {
        const base = (m * Cg + c) * k;
        let dw = 0;
        for (let i = 0; i < k; i++) dw += q[base + i]! * Math.fround(scales[m]!) - d[base + i]!;
        s += dw * means[c0 + c]!;
      }
      out[m] = s;
    }
    return out;
  }
  const [R, Cc] = [w.shape[0]!, w.shape[1]!];
  const N = axis === 0 ? R : Cc;
  const K = axis === 0 ? Cc : R;
  if (means.length !== K) return undefined;
  const out = new Float64Array(N);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < Cc; c++) {
      const n = axis === 0 ? r : c;
      const kk = axis === 0 ? c : r;
      const i = r * Cc + c;
      out[n]! += (q[i]! * Math.fround(scales[n]!) - d[i]!) * means[kk]!;
    }
  }
  return out;
}
