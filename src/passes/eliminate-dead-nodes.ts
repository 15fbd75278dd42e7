/**
 * Dead-node elimination: one backward walk from the graph outputs marks live values; a node is kept when any of
 * its outputs is live. Initializers nothing reads and ValueInfo of values that no longer exist are dropped too.
 * Nodes with subgraphs count their outer-scope reads as uses. No op here has side effects, so none is pinned.
 */
import type { Graph } from '../ir/graph.js';
import { subgraphOuterUses } from '../ir/verify.js';
import type { Pass } from './pass.js';

/** Remove nodes whose outputs are never used, unused initializers and stale ValueInfo. */
export function eliminateDeadNodes(graph: Graph): Graph {
  const live = new Set<string>(graph.outputs.map((o) => o.name));
  const kept: typeof graph.nodes = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (!n.outputs.some((o) => o !== '' && live.has(o))) continue;
    kept.push(n);
    for (const x of n.inputs) if (x !== '') live.add(x);
    for (const x of subgraphOuterUses(n)) live.add(x);
  }
  graph.nodes = kept.reverse();
  const inputs = new Set(graph.inputs.map((i) => i.name));
  for (const name of [...graph.initializers.keys()]) {
    if (!live.has(name) && !inputs.has(name)) graph.initializers.delete(name);
  }
  const defined = new Set<string>([...inputs, ...graph.initializers.keys()]);
  for (const n of graph.nodes) for (const o of n.outputs) defined.add(o);
  for (const name of [...graph.valueInfo.keys()]) if (!defined.has(name)) graph.valueInfo.delete(name);
  return graph;
}

export const eliminateDeadNodesPass: Pass = {
  name: 'eliminate-dead-nodes',
  summary: 'remove nodes, initializers and value infos that no graph output depends on',
  run: (g) => eliminateDeadNodes(g),
};
