/**
 * Export form: every edgecnn node back to standard ONNX ops, so that any runtime can run the optimized file
 * (folded constants and folded BatchNorm stay folded):
 *   FusedConv -> Conv [-> Add(residual)] [-> activation];  FusedGemm -> Gemm [-> activation]
 *   Silu -> Sigmoid + Mul;  HardSwish -> HardSwish (opset >= 14) or HardSigmoid(1/6, 1/2) + Mul
 * Activation nodes are written for the model's opset (Clip bounds are inputs from opset 11, attributes before).
 * The last node of each expansion keeps the fused node's output name; intermediate names are fresh.
 */
import type { Attribute, Graph, Node } from '../ir/graph.js';
import { EDGECNN_DOMAIN } from '../ir/graph.js';
import { f32 } from '../ir/tensor.js';
import { type Activation, readActivation } from '../ops/fused-ops.js';
import { makeNamer } from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

interface Emit {
  graph: Graph;
  namer: (b: string) => string;
  opset: number;
  out: Node[];
}

function emit(
  e: Emit,
  base: string,
  opType: string,
  inputs: string[],
  output: string,
  attrs: [string, Attribute][] = [],
): void {
  e.out.push({ name: e.namer(base), opType, domain: '', inputs, outputs: [output], attributes: new Map(attrs) });
}

/** Nodes computing activation `kind` of `x` into `y`. */
function emitActivation(
  e: Emit,
  base: string,
  kind: Activation,
  params: readonly number[],
  x: string,
  y: string,
): void {
  const float = (value: number): Attribute => ({ kind: 'float', value });
  switch (kind) {
    case 'Relu':
    case 'Sigmoid':
      emit(e, `${base}_${kind.toLowerCase()}`, kind, [x], y);
      return;
    case 'LeakyRelu':
      emit(e, `${base}_leakyrelu`, 'LeakyRelu', [x], y, [['alpha', float(params[0] ?? 0.01)]]);
      return;
    case 'HardSigmoid':
      emit(e, `${base}_hardsigmoid`, 'HardSigmoid', [x], y, [
        ['alpha', float(params[0] ?? 0.2)],
        ['beta', float(params[1] ?? 0.5)],
      ]);
      return;
    case 'Clip': {
      const lo = params[0] ?? -Infinity;
      const hi = params[1] ?? Infinity;
      if (e.opset < 11) {
        const attrs: [string, Attribute][] = [];
        if (lo !== -Infinity) attrs.push(['min', float(lo)]);
        if (hi !== Infinity) attrs.push(['max', float(hi)]);
        emit(e, `${base}_clip`, 'Clip', [x], y, attrs);
        return;
      }
      const bound = (v: number, what: string): string => {
        if (!Number.isFinite(v)) return '';
        const name = e.namer(`${base}_${what}`);
        e.graph.initializers.set(name, f32([], [v]));
        return name;
      };
      const ins = [x, bound(lo, 'min'), bound(hi, 'max')];
      while (ins[ins.length - 1] === '') ins.pop();
      emit(e, `${base}_clip`, 'Clip', ins, y);
      return;
    }
    case 'HardSwish':
      if (e.opset >= 14) {
        emit(e, `${base}_hardswish`, 'HardSwish', [x], y);
        return;
      }
      emitGated(e, base, 'HardSigmoid', x, y, [
        ['alpha', float(1 / 6)],
        ['beta', float(0.5)],
      ]);
      return;
    case 'Silu':
      emitGated(e, base, 'Sigmoid', x, y);
      return;
  }
}

function emitGated(e: Emit, base: string, gate: string, x: string, y: string, attrs: [string, Attribute][] = []): void {
  const g = e.namer(`${x}_${gate.toLowerCase()}`);
  emit(e, `${base}_${gate.toLowerCase()}`, gate, [x], g, attrs);
  emit(e, `${base}_mul`, 'Mul', [x, g], y);
}

/** Expand every edgecnn-domain node into standard ONNX nodes. Unknown edgecnn ops are an error. */
export function expandFusedNodes(graph: Graph, ctx: Pick<PassContext, 'opset'>): Graph {
  const e: Emit = { graph, namer: makeNamer(graph), opset: ctx.opset, out: [] };
  for (const n of graph.nodes) {
    if (n.domain !== EDGECNN_DOMAIN) {
      e.out.push(n);
      continue;
    }
    const y = n.outputs[0]!;
    if (n.opType === 'Silu' || n.opType === 'HardSwish') {
      emitActivation(e, n.name, n.opType, [], n.inputs[0]!, y);
      continue;
    }
    if (n.opType !== 'FusedConv' && n.opType !== 'FusedGemm') {
      throw new Error(
        `expand-fused-nodes: node '${n.name}' has edgecnn operator '${n.opType}', which has no ONNX expansion`,
      );
    }
    const act = readActivation(n);
    const residual = n.opType === 'FusedConv' ? (n.inputs[3] ?? '') : '';
    const attrs = new Map(n.attributes);
    attrs.delete('activation');
    attrs.delete('activation_params');
    const ins = n.inputs.slice(0, 3);
    while (ins.length > 2 && ins[ins.length - 1] === '') ins.pop();
    const plain = n.opType === 'FusedConv' ? 'Conv' : 'Gemm';
    let cur = residual === '' && !act ? y : e.namer(`${y}_${plain.toLowerCase()}`);
    e.out.push({ name: n.name, opType: plain, domain: '', inputs: ins, outputs: [cur], attributes: attrs });
    if (residual !== '') {
      const sum = act ? e.namer(`${y}_add`) : y;
      emit(e, `${n.name}_add`, 'Add', [cur, residual], sum);
      cur = sum;
    }
    if (act) emitActivation(e, n.name, act.kind, act.params, cur, y);
  }
  graph.nodes = e.out;
  return graph;
}

export const expandFusedNodesPass: Pass = {
  name: 'expand-fused-nodes',
  summary: 'export form: expand edgecnn fused nodes back into standard ONNX operators',
  run: (g, ctx) => expandFusedNodes(g, ctx),
};
