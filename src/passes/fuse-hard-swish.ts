/**
 * x * HardSigmoid(x) with alpha = 1/6 and beta = 1/2 (as PyTorch exports hardswish before opset 14) becomes one
 * HardSwish node: the ONNX op when the model imports opset >= 14, else edgecnn:HardSwish. Either operand order
 * matches; the HardSigmoid must feed only the Mul, and the new node takes the Mul's place and output name.
 * Also the form paddle2onnx writes: Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6), each inner value used only once.
 */
import type { Graph, Node } from '../ir/graph.js';
import { EDGECNN_DOMAIN, attrFloat } from '../ir/graph.js';
import {
  type GraphIndex,
  constantOf,
  fuseGatedProduct,
  hasSingleUse,
  indexGraph,
  isOp,
  removeNodes,
} from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

/** HardSigmoid parameters that make x * HardSigmoid(x) exactly HardSwish. */
export function isHardSwishGate(n: Node): boolean {
  return Math.abs(attrFloat(n, 'alpha', 0.2) - 1 / 6) < 1e-6 && Math.abs(attrFloat(n, 'beta', 0.5) - 0.5) < 1e-6;
}

function scalarIs(graph: Graph, index: GraphIndex, name: string, want: number): boolean {
  const t = constantOf(graph, index, name);
  return t !== undefined && t.data.length === 1 && Math.abs(Number(t.data[0]) - want) < 1e-6;
}

/** The x of Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6), with the nodes it spans, or undefined. */
function clipForm(graph: Graph, index: GraphIndex, div: Node): { x: string; nodes: Node[] } | undefined {
  if (!isOp(div, 'Div') || !scalarIs(graph, index, div.inputs[1] ?? '', 6)) return undefined;
  const mul = index.producer.get(div.inputs[0] ?? '');
  if (!mul || !isOp(mul, 'Mul') || !hasSingleUse(index, mul.outputs[0]!)) return undefined;
  for (const side of [0, 1]) {
    const x = mul.inputs[1 - side]!;
    const clip = index.producer.get(mul.inputs[side]!);
    if (!clip || !isOp(clip, 'Clip') || !hasSingleUse(index, clip.outputs[0]!)) continue;
    if (!scalarIs(graph, index, clip.inputs[1] ?? '', 0) || !scalarIs(graph, index, clip.inputs[2] ?? '', 6)) continue;
    const add = index.producer.get(clip.inputs[0] ?? '');
    if (!add || !isOp(add, 'Add') || !hasSingleUse(index, add.outputs[0]!)) continue;
    const k = add.inputs[0] === x ? 1 : add.inputs[1] === x ? 0 : -1;
    if (k < 0 || !scalarIs(graph, index, add.inputs[k]!, 3)) continue;
    return { x, nodes: [add, clip, mul] };
  }
  return undefined;
}

/** Replace x * HardSigmoid(x) (alpha 1/6, beta 1/2) and the Clip form by HardSwish. */
export function fuseHardSwish(graph: Graph, ctx: Pick<PassContext, 'opset'>): Graph {
  const domain = ctx.opset >= 14 ? '' : EDGECNN_DOMAIN;
  const index = indexGraph(graph);
  const dead = new Set<Node>();
  graph.nodes = graph.nodes.map((div) => {
    const m = clipForm(graph, index, div);
    if (!m || m.nodes.some((n) => dead.has(n))) return div;
    for (const n of m.nodes) {
      dead.add(n);
      graph.valueInfo.delete(n.outputs[0]!);
    }
    return {
      name: div.name,
      opType: 'HardSwish',
      domain,
      inputs: [m.x],
      outputs: [div.outputs[0]!],
      attributes: new Map(),
    };
  });
  removeNodes(graph, dead);
  return fuseGatedProduct(graph, 'HardSigmoid', isHardSwishGate, (x, y, name) => ({
    name,
    opType: 'HardSwish',
    domain,
    inputs: [x],
    outputs: [y],
    attributes: new Map(),
  }));
}

export const fuseHardSwishPass: Pass = {
  name: 'fuse-hard-swish',
  summary: 'recognize x * HardSigmoid(x) as HardSwish',
  run: (g, ctx) => fuseHardSwish(g, ctx),
};
