/**
 * The input of a Gemm in one canonical form, so that the code generator sees a view and not a copy:
 *   Reshape(x, [N, -1]) or Reshape(x, [0, -1]) or Reshape to [N, K] = Flatten(x, axis=1) -> Flatten(x, axis=1)
 *   Flatten(x, axis=1) of a rank-2 x -> x
 * Needs x's concrete shape for the Reshape forms (the target must be [x0, prod(x1..)]); otherwise left alone.
 */
import type { Graph, Node } from '../ir/graph.js';
import { attrInt } from '../ir/graph.js';
import { isConcrete } from '../ops/infer-types.js';
import { constantOf, forwardValue, indexGraph, isOp, removeNodes } from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

/** Canonicalize Flatten/Reshape that feed a Gemm's A input. */
export function simplifyGemmInput(graph: Graph, ctx: Pick<PassContext, 'types'>): Graph {
  const types = ctx.types(graph).types;
  const dead = new Set<Node>();
  for (const gemm of graph.nodes) {
    if (!isOp(gemm, 'Gemm')) continue;
    const index = indexGraph(graph);
    const a = gemm.inputs[0] ?? '';
    const p = index.producer.get(a);
    if (!p || dead.has(p)) continue;
    const x = p.inputs[0] ?? '';
    const xs = types.get(x)?.shape;
    if (isOp(p, 'Reshape') && isConcrete(xs) && xs.length >= 2) {
      const s = constantOf(graph, index, p.inputs[1] ?? '');
      const target = s ? Array.from(s.data as BigInt64Array, Number) : undefined;
      const k = xs.slice(1).reduce((u, v) => u * v, 1);
      const ok =
        target !== undefined &&
        target.length === 2 &&
        (target[0] === xs[0] || target[0] === 0) &&
        (target[1] === -1 || target[1] === k || (target[0] === -1 && target[1] === k));
      if (ok) {
        p.opType = 'Flatten';
        p.inputs = [x];
        p.attributes = new Map([['axis', { kind: 'int', value: 1 }]]);
      }
    }
    if (isOp(p, 'Flatten') && attrInt(p, 'axis', 1) === 1 && xs?.length === 2) {
      if (forwardValue(graph, index, a, x)) dead.add(p);
    }
  }
  removeNodes(graph, dead);
  return graph;
}

export const simplifyGemmInputPass: Pass = {
  name: 'simplify-gemm-input',
  summary: 'turn Reshape-to-2D before Gemm into Flatten, and drop Flatten of a 2-D value',
  run: (g, ctx) => simplifyGemmInput(g, ctx),
};
