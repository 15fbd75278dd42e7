/**
 * Short tensor names for a smaller file: every value that is neither a graph input nor a graph output (node
 * outputs and initializers) is renamed to a short id (`t0`, `t1`, ... in base 36), in first-use order.
 * Node names, graph inputs and outputs keep their names, so layers stay recognisable and callers feed and read
 * the same tensors. Exporters name intermediates after the node path (`/features/features.1/conv/.../Conv_output_0`),
 * and a QDQ model references each one twice more than the float model does: in an int8 EfficientNet-B0 those
 * names were 1.6% of the file. Graphs with subgraph attributes are left alone (a body may name outer values).
 */
import type { Graph, Node } from '../ir/graph.js';
import type { PassContext } from './pass.js';

/** Rename the graph's internal values to short ids (see the file comment). Returns a new graph. */
export function compactNames(graph: Graph, ctx?: Pick<PassContext, 'note'>): Graph {
  if (graph.nodes.some((n) => [...n.attributes.values()].some((a) => a.kind === 'graph' || a.kind === 'graphs'))) {
    ctx?.note('graph has subgraphs: names kept');
    return graph;
  }
  const kept = new Set<string>([...graph.inputs.map((i) => i.name), ...graph.outputs.map((o) => o.name), '']);
  const renamed = new Map<string, string>();
  let next = 0;
  const rename = (name: string): string => {
    if (kept.has(name)) return name;
    let v = renamed.get(name);
    if (v === undefined) {
      do v = `t${(next++).toString(36)}`;
      while (kept.has(v));
      renamed.set(name, v);
    }
    return v;
  };
  const nodes: Node[] = graph.nodes.map((n) => ({
    ...n,
    inputs: n.inputs.map(rename),
    outputs: n.outputs.map(rename),
  }));
  const initializers = new Map([...graph.initializers].map(([k, t]) => [rename(k), t]));
  const valueInfo = new Map([...graph.valueInfo].map(([k, v]) => [rename(k), { ...v, name: rename(k) }]));
  return { ...graph, nodes, initializers, valueInfo };
}
