/**
 * Common subexpression elimination by value numbering: walking in order, a node's key is its domain, op,
 * attributes and (already renumbered) inputs; a node whose key was seen is dropped and its outputs alias the
 * first one's. Small equal constants (initializers up to 1024 elements of the same dtype/shape/bytes) merge first,
 * so that nodes reading copies of one constant also merge. Random ops and nodes with subgraphs never merge.
 */
import type { Attribute, Graph, Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { removeNodes, replaceUses } from './graph-utils.js';
import type { Pass } from './pass.js';

const NONDETERMINISTIC = new Set([
  'RandomNormal',
  'RandomNormalLike',
  'RandomUniform',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
]);
const MAX_MERGE_ELEMS = 1024;

function tensorKey(t: Tensor): string {
  const body = Array.isArray(t.data)
    ? JSON.stringify(t.data)
    : Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64');
  return `${t.dtype}[${t.shape.join(',')}]${body}`;
}

function attrKey(a: Attribute): string | undefined {
  switch (a.kind) {
    case 'tensor':
      return tensorKey(a.value);
    case 'tensors':
      return a.value.map(tensorKey).join(';');
    case 'graph':
    case 'graphs':
      return undefined;
    default:
      // Distinguish 1 (int) from 1.0 (float): both print as 1.
      return `${a.kind}:${JSON.stringify(a.value)}`;
  }
}

function nodeKey(n: Node): string | undefined {
  if (NONDETERMINISTIC.has(n.opType)) return undefined;
  const attrs: string[] = [];
  for (const [k, a] of [...n.attributes].sort(([x], [y]) => (x < y ? -1 : 1))) {
    const v = attrKey(a);
    if (v === undefined) return undefined;
    attrs.push(`${k}=${v}`);
  }
  return `${n.domain}|${n.opType}|${n.inputs.join(',')}|${n.outputs.length}|${attrs.join('|')}`;
}

/** Merge duplicate small constants and nodes that compute the same thing from the same inputs. */
export function eliminateCommonSubexpressions(graph: Graph): Graph {
  const inputs = new Set(graph.inputs.map((i) => i.name));
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const seenConst = new Map<string, string>();
  for (const [name, t] of graph.initializers) {
    if (inputs.has(name) || outputs.has(name) || t.data.length > MAX_MERGE_ELEMS) continue;
    const k = tensorKey(t);
    const first = seenConst.get(k);
    if (first === undefined) seenConst.set(k, name);
    else {
      for (const n of graph.nodes) n.inputs = n.inputs.map((i) => (i === name ? first : i));
      graph.initializers.delete(name);
    }
  }

  const used = new Set<string>(graph.nodes.flatMap((n) => n.inputs));
  const seen = new Map<string, Node>();
  const dead = new Set<Node>();
  for (const n of graph.nodes) {
    const k = nodeKey(n);
    if (k === undefined) continue;
    const first = seen.get(k);
    if (!first) {
      seen.set(k, n);
      continue;
    }
    // Graph outputs keep their names, and an output used here must exist on the first node too.
    const ok = n.outputs.every((o, i) => o === '' || (!outputs.has(o) && (first.outputs[i] !== '' || !used.has(o))));
    if (!ok) continue;
    n.outputs.forEach((o, i) => {
      if (o !== '' && first.outputs[i] !== '') replaceUses(graph, o, first.outputs[i]!);
    });
    dead.add(n);
  }
  removeNodes(graph, dead);
  return graph;
}

export const eliminateCommonSubexpressionsPass: Pass = {
  name: 'eliminate-common-subexpressions',
  summary: 'merge equal small constants and nodes computing the same value from the same inputs',
  run: (g) => eliminateCommonSubexpressions(g),
};
