/**
 * Layout chains that cancel or merge:
 *   Transpose(Transpose(x, p), q) -> Transpose(x, r) with r[i] = p[q[i]]; an identity permutation disappears
 *   Reshape(Reshape(x, s1), s2)   -> Reshape(x, s2) when s2 is constant without 0 entries (0 copies an input dim)
 *   Reshape/Flatten/Squeeze/Unsqueeze whose output shape equals its input shape (both concrete) disappears
 * The inner node stays if something else reads it (dead-node elimination removes it otherwise).
 */
import type { Graph, Node } from '../ir/graph.js';
import { attrInts } from '../ir/graph.js';
import { isConcrete } from '../ops/infer-types.js';
import { constantOf, forwardValue, indexGraph, isOp, removeNodes } from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

const SHAPE_ONLY = ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'] as const;

/** Merge and cancel Transpose and Reshape chains (see the file comment). */
export function simplifyTransposeReshape(graph: Graph, ctx: Pick<PassContext, 'types' | 'note'>): Graph {
  const types = ctx.types(graph).types;
  const dead = new Set<Node>();
  for (const n of graph.nodes) {
    if (!isOp(n, 'Transpose') && !SHAPE_ONLY.some((op) => isOp(n, op))) continue;
    const index = indexGraph(graph);
    const x = n.inputs[0] ?? '';
    const inner = index.producer.get(x);
    if (isOp(n, 'Transpose')) {
      let perm = attrInts(n, 'perm');
      if (inner && isOp(inner, 'Transpose') && !dead.has(inner)) {
        const p = attrInts(inner, 'perm');
        if (p && perm && p.length === perm.length) {
          perm = perm.map((q) => p[q]!);
          n.inputs[0] = inner.inputs[0]!;
          n.attributes.set('perm', { kind: 'ints', value: perm });
        }
      }
      if (
        perm &&
        perm.every((v, i) => v === i) &&
        forwardValue(graph, indexGraph(graph), n.outputs[0]!, n.inputs[0]!)
      ) {
        dead.add(n);
      }
      continue;
    }
    if (isOp(n, 'Reshape') && inner && isOp(inner, 'Reshape') && !dead.has(inner)) {
      const s2 = constantOf(graph, index, n.inputs[1] ?? '');
      if (s2 && !Array.from(s2.data as BigInt64Array).some((d) => Number(d) === 0)) n.inputs[0] = inner.inputs[0]!;
    }
    if (SHAPE_ONLY.some((op) => isOp(n, op))) {
      const a = types.get(n.inputs[0] ?? '')?.shape;
      const b = types.get(n.outputs[0] ?? '')?.shape;
      if (isConcrete(a) && isConcrete(b) && a.join(',') === b.join(',')) {
        if (forwardValue(graph, indexGraph(graph), n.outputs[0]!, n.inputs[0]!)) dead.add(n);
      }
    }
  }
  removeNodes(graph, dead);
  return graph;
}

export const simplifyTransposeReshapePass: Pass = {
  name: 'simplify-transpose-reshape',
  summary: 'merge Transpose/Reshape chains and remove layout ops that change nothing',
  run: (g, ctx) => simplifyTransposeReshape(g, ctx),
};
