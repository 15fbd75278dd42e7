/**
 * Identity and inference-mode Dropout removal: the node's output becomes an alias of its input (see
 * graph-utils `forwardValue`). Dropout is removed only when it is an identity: no used mask output and
 * `training_mode` absent or a constant false (opset >= 12), or not in training (is_test=1 / opset >= 7 before).
 * A node whose output and input are both graph inputs/outputs is kept, as the graph needs it to copy.
 */
import type { Graph, Node } from '../ir/graph.js';
import { type GraphIndex, constantOf, forwardValue, indexGraph, isOp, removeNodes } from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

function isInferenceDropout(graph: Graph, index: GraphIndex, n: Node, opset: number): boolean {
  const mask = n.outputs[1];
  if (mask !== undefined && mask !== '' && (index.consumers.has(mask) || index.graphOutputs.has(mask))) return false;
  if (opset >= 12) {
    const tm = n.inputs[2];
    if (tm === undefined || tm === '') return true;
    const t = constantOf(graph, index, tm);
    return t !== undefined && t.data.length === 1 && Number(t.data[0]) === 0;
  }
  if (opset < 7) {
    const isTest = n.attributes.get('is_test');
    return isTest?.kind === 'int' && isTest.value !== 0;
  }
  return true;
}

/** Remove Identity nodes and Dropout nodes that are identities at inference. */
export function removeIdentity(graph: Graph, ctx: Pick<PassContext, 'opset' | 'note'>): Graph {
  const dead = new Set<Node>();
  for (const n of graph.nodes) {
    if (!isOp(n, 'Identity') && !isOp(n, 'Dropout')) continue;
    const index = indexGraph(graph);
    const isId = isOp(n, 'Identity') || (isOp(n, 'Dropout') && isInferenceDropout(graph, index, n, ctx.opset));
    if (!isId) continue;
    const x = n.inputs[0];
    const y = n.outputs[0];
    if (x === undefined || x === '' || y === undefined) continue;
    if (forwardValue(graph, index, y, x)) dead.add(n);
    else ctx.note(`kept ${n.opType} '${n.name}': it copies '${x}' to graph output '${y}'`);
  }
  removeNodes(graph, dead);
  return graph;
}

export const removeIdentityPass: Pass = {
  name: 'remove-identity',
  summary: 'remove Identity and inference-mode Dropout nodes',
  run: (g, ctx) => removeIdentity(g, ctx),
};
