/**
 * A BatchNormalization that could not fold into a producer becomes a per-channel scale and shift:
 *   Y = X * s + t  with s = scale / sqrt(var + eps), t = bias - mean * s, stored as [C, 1, ..., 1] constants
 * (rank of X minus one) so that they broadcast along axis 1. The Mul/Add pair is what fold-conv-mul-add and the
 * code generator's elementwise kernels understand. Needs the rank of X from shape inference; otherwise skipped.
 */
import type { Graph, Node } from '../ir/graph.js';
import { f32 } from '../ir/tensor.js';
import { batchNormAffine } from './fold-batch-norm.js';
import { indexGraph, isOp, makeNamer } from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

/** Replace each remaining BatchNormalization by Mul + Add with per-channel constants. */
export function decomposeBatchNorm(graph: Graph, ctx: Pick<PassContext, 'note' | 'types'>): Graph {
  const namer = makeNamer(graph);
  const types = ctx.types(graph).types;
  const out: Node[] = [];
  for (const bn of graph.nodes) {
    if (!isOp(bn, 'BatchNormalization')) {
      out.push(bn);
      continue;
    }
    const index = indexGraph(graph);
    const affine = batchNormAffine(graph, index, bn);
    const rank = types.get(bn.inputs[0] ?? '')?.shape?.length;
    if (!affine || rank === undefined || rank < 2) {
      ctx.note(
        `left BatchNormalization '${bn.name}': ${affine ? 'rank of its input is unknown' : 'parameters are not constant'}`,
      );
      out.push(bn);
      continue;
    }
    const c = affine.scale.length;
    const shape = [c, ...new Array<number>(rank - 2).fill(1)];
    const base = bn.outputs[0]!;
    // An identity scale or a zero shift needs no node.
    const scaled = !affine.scale.every((v) => v === 1);
    const shifted = !affine.shift.every((v) => v === 0);
    let cur = bn.inputs[0]!;
    if (scaled) {
      const s = namer(`${base}_scale`);
      graph.initializers.set(s, f32(shape, affine.scale));
      const y = shifted ? namer(`${base}_scaled`) : base;
      out.push({
        name: namer(`${bn.name || base}_mul`),
        opType: 'Mul',
        domain: '',
        inputs: [cur, s],
        outputs: [y],
        attributes: new Map(),
      });
      cur = y;
    }
    if (shifted || !scaled) {
      const t = namer(`${base}_shift`);
      graph.initializers.set(t, f32(shape, affine.shift));
      out.push({
        name: namer(`${bn.name || base}_add`),
        opType: 'Add',
        domain: '',
        inputs: [cur, t],
        outputs: [base],
        attributes: new Map(),
      });
    }
  }
  graph.nodes = out;
  return graph;
}

export const decomposeBatchNormPass: Pass = {
  name: 'decompose-batch-norm',
  summary: 'turn a BatchNormalization with no foldable producer into a per-channel Mul and Add',
  run: (g, ctx) => decomposeBatchNorm(g, ctx),
};
