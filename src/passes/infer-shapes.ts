/**
 * Shape inference as a pass: runs graph type inference over the op records (with the user's concrete input
 * shapes, if any, written into the graph inputs) and records every intermediate's dtype/shape in
 * graph.valueInfo. Nodes it cannot infer are listed as notes; later passes that need a shape skip those values.
 */
import type { Graph } from '../ir/graph.js';
import { isConcrete } from '../ops/infer-types.js';
import type { Pass, PassContext } from './pass.js';

/** Fix input shapes given by the user and annotate valueInfo with inferred types. */
export function inferShapes(graph: Graph, ctx: PassContext): Graph {
  for (const vi of graph.inputs) {
    const given = ctx.inputShapes?.[vi.name];
    if (given) vi.shape = [...given];
  }
  const result = ctx.types(graph);
  const io = new Set([...graph.inputs.map((i) => i.name), ...graph.initializers.keys()]);
  for (const [name, t] of result.types) {
    if (io.has(name) || (t.dtype === undefined && t.shape === undefined)) continue;
    const vi: { name: string; dtype?: typeof t.dtype; shape?: typeof t.shape } = { name };
    if (t.dtype !== undefined) vi.dtype = t.dtype;
    if (t.shape !== undefined) vi.shape = [...t.shape];
    graph.valueInfo.set(name, vi);
  }
  for (const o of graph.outputs) {
    const t = result.types.get(o.name);
    if (t?.dtype !== undefined && o.dtype === undefined) o.dtype = t.dtype;
    if (isConcrete(t?.shape) && !isConcrete(o.shape)) o.shape = [...t.shape];
  }
  const shown = result.skipped.slice(0, 5).map((s) => `${s.opType} '${s.node}' (${s.reason})`);
  if (result.skipped.length > 0) {
    ctx.note(
      `${result.skipped.length} node(s) without full shapes: ${shown.join('; ')}${result.skipped.length > 5 ? '; ...' : ''}`,
    );
  }
  return graph;
}

export const inferShapesPass: Pass = {
  name: 'infer-shapes',
  summary: 'record inferred dtypes and shapes of every value in value_info',
  run: (g, ctx) => inferShapes(g, ctx),
};
