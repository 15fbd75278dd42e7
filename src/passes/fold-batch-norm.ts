/**
 * BatchNormalization folded into the Conv, ConvTranspose or Gemm that feeds it (inference form):
 *   s = scale / sqrt(var + eps);  W'[m] = W[m] * s[m];  B'[m] = (B[m] - mean[m]) * s[m] + bias[m]
 * Conv W is [M, C/g, k...], ConvTranspose W is [C, M/g, k...] (see scaleOutputChannels), Gemm's output column m
 * scales B's column m (row m when transB) and C becomes the folded bias with beta = 1. Arithmetic is done in
 * double and rounded once. Needs constant weights and statistics and a producer output used only by the BN.
 */
import type { Graph, Node } from '../ir/graph.js';
import { attrFloat, attrInt } from '../ir/graph.js';
import { type Tensor, f32 } from '../ir/tensor.js';
import {
  type GraphIndex,
  constantOf,
  f64Of,
  hasSingleUse,
  indexGraph,
  isOp,
  makeNamer,
  outputChannels,
  removeNodes,
  scaleOutputChannels,
} from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

/** scale/shift of an inference BN, or undefined when its parameters are not constant float32 of length C. */
export function batchNormAffine(
  graph: Graph,
  index: GraphIndex,
  bn: Node,
): { scale: Float64Array; shift: Float64Array } | undefined {
  const ps = bn.inputs.slice(1, 5).map((n) => constantOf(graph, index, n));
  if (ps.length !== 4 || ps.some((t) => t === undefined || t.dtype !== 'float32' || t.shape.length !== 1))
    return undefined;
  const [gamma, beta, mean, variance] = ps.map((t) => f64Of(t!)) as [
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
  ];
  const c = gamma.length;
  if (beta.length !== c || mean.length !== c || variance.length !== c) return undefined;
  if (attrInt(bn, 'training_mode', 0) !== 0) return undefined;
  // Extra outputs (running stats in training form) must be unused.
  if (bn.outputs.slice(1).some((o) => o !== '' && (index.consumers.has(o) || index.graphOutputs.has(o))))
    return undefined;
  const eps = attrFloat(bn, 'epsilon', 1e-5);
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    // float32 epsilon, as every runtime stores it.
    scale[i] = gamma[i]! / Math.sqrt(variance[i]! + Math.fround(eps));
    shift[i] = beta[i]! - mean[i]! * scale[i]!;
  }
  return { scale, shift };
}

function foldIntoConv(
  graph: Graph,
  index: GraphIndex,
  p: Node,
  scale: Float64Array,
  shift: Float64Array,
  namer: (b: string) => string,
): boolean {
  const transpose = p.opType === 'ConvTranspose';
  const w = constantOf(graph, index, p.inputs[1] ?? '');
  if (!w || w.dtype !== 'float32' || w.shape.length < 3) return false;
  const group = attrInt(p, 'group', 1);
  const m = outputChannels(w, transpose, group);
  if (m !== scale.length) return false;
  const bName = p.inputs[2] ?? '';
  const b = bName === '' ? undefined : constantOf(graph, index, bName);
  if (bName !== '' && (!b || b.dtype !== 'float32' || b.data.length !== m)) return false;
  const bias = new Float32Array(m);
  for (let i = 0; i < m; i++) bias[i] = (b ? Number(b.data[i]) : 0) * scale[i]! + shift[i]!;
  const wName = namer(`${p.inputs[1]}_bn`);
  const newB = namer(`${bName || p.name}_bn_bias`);
  graph.initializers.set(wName, scaleOutputChannels(w, scale, transpose, group));
  graph.initializers.set(newB, f32([m], bias));
  p.inputs = [p.inputs[0]!, wName, newB];
  return true;
}

function foldIntoGemm(
  graph: Graph,
  index: GraphIndex,
  p: Node,
  scale: Float64Array,
  shift: Float64Array,
  namer: (b: string) => string,
): boolean {
  const b = constantOf(graph, index, p.inputs[1] ?? '');
  if (!b || b.dtype !== 'float32' || b.shape.length !== 2) return false;
  const transB = attrInt(p, 'transB', 0) !== 0;
  const m = transB ? b.shape[0]! : b.shape[1]!;
  if (m !== scale.length) return false;
  const cName = p.inputs[2] ?? '';
  const c = cName === '' ? undefined : constantOf(graph, index, cName);
  // C must broadcast per column: [], [1], [M], [1, M].
  if (
    cName !== '' &&
    (!c ||
      c.dtype !== 'float32' ||
      !(c.data.length === 1 || (c.data.length === m && c.shape[c.shape.length - 1] === m)))
  ) {
    return false;
  }
  const beta = attrFloat(p, 'beta', 1);
  const k = transB ? b.shape[1]! : b.shape[0]!;
  const src = b.data as Float32Array;
  const w = new Float32Array(src.length);
  for (let r = 0; r < k; r++) {
    for (let col = 0; col < m; col++) {
      const i = transB ? col * k + r : r * m + col;
      w[i] = src[i]! * scale[col]!;
    }
  }
  const bias = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    const cv = c ? Number(c.data[c.data.length === 1 ? 0 : i]) : 0;
    bias[i] = beta * cv * scale[i]! + shift[i]!;
  }
  const bNew = namer(`${p.inputs[1]}_bn`);
  const cNew = namer(`${cName || p.name}_bn_bias`);
  graph.initializers.set(bNew, { dtype: 'float32', shape: [...b.shape], data: w } as Tensor);
  graph.initializers.set(cNew, f32([m], bias));
  p.inputs = [p.inputs[0]!, bNew, cNew];
  p.attributes.set('beta', { kind: 'float', value: 1 });
  return true;
}

/** Fold each BatchNormalization whose input comes from a Conv/ConvTranspose/Gemm used only by it. */
export function foldBatchNorm(graph: Graph, ctx?: Pick<PassContext, 'note'>): Graph {
  const namer = makeNamer(graph);
  const dead = new Set<Node>();
  for (const bn of graph.nodes) {
    if (!isOp(bn, 'BatchNormalization')) continue;
    const index = indexGraph(graph);
    const x = bn.inputs[0] ?? '';
    const p = index.producer.get(x);
    if (!p || !(isOp(p, 'Conv') || isOp(p, 'ConvTranspose') || isOp(p, 'Gemm')) || !hasSingleUse(index, x)) continue;
    const affine = batchNormAffine(graph, index, bn);
    if (!affine) {
      ctx?.note(`left BatchNormalization '${bn.name}': parameters are not constant per-channel float32`);
      continue;
    }
    const ok =
      p.opType === 'Gemm'
        ? foldIntoGemm(graph, index, p, affine.scale, affine.shift, namer)
        : foldIntoConv(graph, index, p, affine.scale, affine.shift, namer);
    if (!ok) {
      ctx?.note(
        `left BatchNormalization '${bn.name}': its ${p.opType} '${p.name}' has non-constant or mismatched weights`,
      );
      continue;
    }
    // The producer now computes the BN output directly; it keeps its place, which precedes every BN consumer.
    p.outputs[0] = bn.outputs[0]!;
    graph.valueInfo.delete(x);
    dead.add(bn);
  }
  removeNodes(graph, dead);
  return graph;
}

export const foldBatchNormPass: Pass = {
  name: 'fold-batch-norm',
  summary: 'fold BatchNormalization into the preceding Conv, ConvTranspose or Gemm weights',
  run: (g, ctx) => foldBatchNorm(g, ctx),
};
