/**
 * Constant folding: walking in order, a node whose inputs are all constants runs its op record's naive
 * `reference` and its outputs become initializers; Constant nodes become initializers. Shape-only ops (Shape,
 * Size) fold when type inference knows their input's shape, and any output whose value type inference already
 * computed folds too. That is what turns shape arithmetic (Shape -> Gather -> Div -> Concat -> Reshape) into
 * constants for a fixed input shape. Graph outputs stay node outputs; random ops, DequantizeLinear (QDQ weights)
 * and subgraph nodes never fold.
 */
import type { Graph, Node } from '../ir/graph.js';
import { type Tensor, i64, sizeOf } from '../ir/tensor.js';
import { isConcrete } from '../ops/infer-types.js';
import { nodeOpset } from '../ops/reference-executor.js';
import { getOp } from '../ops/registry.js';
import { constantNodeValue, indexGraph, isOp, removeNodes } from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

/**
 * Random ops are not functions of their inputs. DequantizeLinear of constant int8 weights stays: folding it would
 * turn a QDQ model's quantized weights into float ones, losing what the quantizer and int8 kernels read.
 */
const NEVER_FOLD = new Set([
  'RandomNormal',
  'RandomNormalLike',
  'RandomUniform',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
  'DequantizeLinear',
]);
/** Folding must not blow up the file: outputs beyond this many elements fold only when no larger than the inputs. */
const MAX_GROWTH_ELEMS = 1 << 16;

function hasSubgraph(n: Node): boolean {
  return [...n.attributes.values()].some((a) => a.kind === 'graph' || a.kind === 'graphs');
}

/** Shape/Size of a value with a known concrete shape (Shape's start/end are opset 15). */
function shapeFold(n: Node, shape: readonly number[]): Tensor | undefined {
  if (n.opType === 'Size') return i64([], [sizeOf(shape)]);
  const r = shape.length;
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const s = n.attributes.get('start');
  const e = n.attributes.get('end');
  const start = clamp(s?.kind === 'int' ? s.value : 0);
  const end = clamp(e?.kind === 'int' ? e.value : r);
  const dims = shape.slice(start, Math.max(start, end));
  return i64([dims.length], dims);
}

/** Fold every node whose outputs are computable now (see the file comment). */
export function foldConstants(graph: Graph, ctx: PassContext): Graph {
  const index = indexGraph(graph);
  const inputs = index.graphInputs;
  const constants = new Map<string, Tensor>();
  for (const [name, t] of graph.initializers) if (!inputs.has(name)) constants.set(name, t);
  const types = ctx.types(graph).types;
  const dead = new Set<Node>();

  for (const n of graph.nodes) {
    if (n.outputs.some((o) => index.graphOutputs.has(o))) continue;
    if (isOp(n, 'Constant')) {
      const v = constantNodeValue(n);
      if (v && n.outputs[0]) {
        graph.initializers.set(n.outputs[0], v);
        constants.set(n.outputs[0], v);
        dead.add(n);
      }
      continue;
    }
    if (NEVER_FOLD.has(n.opType) || hasSubgraph(n)) continue;
    let outs: Tensor[] | undefined;
    const ins = n.inputs.map((i) => (i === '' ? undefined : constants.get(i)));
    const allConst = n.inputs.every((i, k) => i === '' || ins[k] !== undefined);
    const def = getOp(n.domain, n.opType);
    if (allConst && def) {
      try {
        outs = def.reference(ins, { node: n, opset: nodeOpset(ctx.model, n) });
      } catch (e) {
        ctx.note(`could not fold ${n.opType} '${n.name}': ${e instanceof Error ? e.message : String(e)}`);
      }
      if (outs) {
        const inElems = ins.reduce((s, t) => s + (t ? t.data.length : 0), 0);
        const outElems = outs.reduce((s, t) => s + t.data.length, 0);
        if (outElems > MAX_GROWTH_ELEMS && outElems > inElems) outs = undefined;
      }
    } else if ((isOp(n, 'Shape') || isOp(n, 'Size')) && n.inputs[0]) {
      const shape = types.get(n.inputs[0])?.shape;
      if (isConcrete(shape)) outs = [shapeFold(n, shape)!];
    }
    if (!outs) {
      // Type inference may know values the reference walk cannot reach (e.g. Shape of a shape-known value).
      const known = n.outputs.map((o) => types.get(o)?.value);
      if (n.outputs.length > 0 && known.every((v) => v !== undefined)) outs = known as Tensor[];
    }
    if (!outs || outs.length < n.outputs.filter((o) => o !== '').length) continue;
    n.outputs.forEach((o, k) => {
      if (o === '' || !outs[k]) return;
      graph.initializers.set(o, outs[k]!);
      constants.set(o, outs[k]!);
      graph.valueInfo.delete(o);
    });
    dead.add(n);
  }
  removeNodes(graph, dead);
  return graph;
}

export const foldConstantsPass: Pass = {
  name: 'fold-constants',
  summary: 'evaluate nodes whose inputs are constant (including Shape of shape-known values) into initializers',
  run: (g, ctx) => foldConstants(g, ctx),
};
