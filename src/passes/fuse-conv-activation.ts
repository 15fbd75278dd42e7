/**
 * Activation fusion: act(Conv(...)) -> edgecnn:FusedConv and act(Gemm(...)) -> edgecnn:FusedGemm with
 * `activation`/`activation_params` attributes (contract in pipeline.ts). Accepts Relu, Clip (constant min/max;
 * a missing bound is +-inf), LeakyRelu, HardSigmoid, HardSwish (ONNX or edgecnn), Sigmoid and edgecnn:Silu.
 * The producer may already be a fused node whose epilogue has no activation (e.g. after residual fusion, giving
 * act(Conv + B + Residual)); its output must feed only the activation. The fused node replaces the activation.
 */
import type { Attribute, Graph, Node } from '../ir/graph.js';
import { EDGECNN_DOMAIN, attrFloat, isDefaultDomain } from '../ir/graph.js';
import { type Activation } from '../ops/fused-ops.js';
import { fusedConvAttributes } from './fuse-conv-residual.js';
import { type GraphIndex, constantOf, hasSingleUse, indexGraph, isOp, removeNodes } from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

/** The activation a node computes, with its fused parameters, or undefined when it is not a fusable one. */
export function activationOf(
  graph: Graph,
  index: GraphIndex,
  n: Node,
  opset: number,
): { kind: Activation; params: number[] } | undefined {
  const onnx = isDefaultDomain(n.domain);
  const ours = n.domain === EDGECNN_DOMAIN;
  if (onnx && n.opType === 'Relu') return { kind: 'Relu', params: [] };
  if (onnx && n.opType === 'Sigmoid') return { kind: 'Sigmoid', params: [] };
  if (onnx && n.opType === 'LeakyRelu') return { kind: 'LeakyRelu', params: [attrFloat(n, 'alpha', 0.01)] };
  if (onnx && n.opType === 'HardSigmoid')
    return { kind: 'HardSigmoid', params: [attrFloat(n, 'alpha', 0.2), attrFloat(n, 'beta', 0.5)] };
  if ((onnx || ours) && n.opType === 'HardSwish') return { kind: 'HardSwish', params: [] };
  if (ours && n.opType === 'Silu') return { kind: 'Silu', params: [] };
  if (onnx && n.opType === 'Clip') {
    if (opset < 11) return { kind: 'Clip', params: [attrFloat(n, 'min', -Infinity), attrFloat(n, 'max', Infinity)] };
    const bound = (i: number, dflt: number): number | undefined => {
      const name = n.inputs[i] ?? '';
      if (name === '') return dflt;
      const t = constantOf(graph, index, name);
      return t && t.data.length === 1 ? Number(t.data[0]) : undefined;
    };
    const lo = bound(1, -Infinity);
    const hi = bound(2, Infinity);
    return lo === undefined || hi === undefined ? undefined : { kind: 'Clip', params: [lo, hi] };
  }
  return undefined;
}

/** A Conv, or a FusedConv without activation (a residual is fine: the activation applies after it). */
function isConvWithoutActivation(n: Node): boolean {
  if (isOp(n, 'Conv')) return true;
  return n.domain === EDGECNN_DOMAIN && n.opType === 'FusedConv' && !n.attributes.has('activation');
}

function isOpenGemm(n: Node): boolean {
  if (isOp(n, 'Gemm')) return true;
  return n.domain === EDGECNN_DOMAIN && n.opType === 'FusedGemm' && !n.attributes.has('activation');
}

/** Fuse activations into the Conv/Gemm (or open fused node) that feeds them. */
export function fuseConvActivation(graph: Graph, ctx: Pick<PassContext, 'types' | 'note' | 'opset'>): Graph {
  const types = ctx.types(graph).types;
  const index = indexGraph(graph);
  const dead = new Set<Node>();
  graph.nodes = graph.nodes.map((a) => {
    const v = a.inputs[0] ?? '';
    const p = index.producer.get(v);
    if (!p || dead.has(p) || !hasSingleUse(index, v)) return a;
    const conv = isConvWithoutActivation(p);
    if (!conv && !isOpenGemm(p)) return a;
    const act = activationOf(graph, index, a, ctx.opset);
    if (!act) return a;
    if (types.get(v)?.dtype !== undefined && types.get(v)?.dtype !== 'float32') return a;
    const attributes = conv ? fusedConvAttributes(graph, p, types) : new Map(p.attributes);
    if (!attributes) {
      ctx.note(`left ${p.opType} '${p.name}' unfused: auto_pad needs an unknown input shape`);
      return a;
    }
    attributes.set('activation', { kind: 'string', value: act.kind });
    if (act.params.length > 0) attributes.set('activation_params', { kind: 'floats', value: act.params } as Attribute);
    dead.add(p);
    graph.valueInfo.delete(v);
    return {
      name: p.name,
      opType: conv ? 'FusedConv' : 'FusedGemm',
      domain: EDGECNN_DOMAIN,
      inputs: [...p.inputs],
      outputs: [a.outputs[0]!],
      attributes,
    };
  });
  removeNodes(graph, dead);
  return graph;
}

export const fuseConvActivationPass: Pass = {
  name: 'fuse-conv-activation',
  summary: 'fuse Relu/Clip/LeakyRelu/HardSigmoid/HardSwish/Sigmoid/Silu into the preceding Conv or Gemm',
  run: (g, ctx) => fuseConvActivation(g, ctx),
};
