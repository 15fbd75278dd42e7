/**
 * Residual fusion: Add(Conv(x), y) (or a two-input Sum) -> edgecnn:FusedConv(x, W, B, y), computing
 * Conv(x) + B + y in the convolution's epilogue. Matches either Add operand order. The Conv (or a FusedConv without activation or
 * residual) must feed only the Add, and y must have exactly the Conv output's shape (no broadcasting), which
 * needs shape inference (equal numbers or equal symbolic dims); unknown dims are skipped with a note. auto_pad is resolved to explicit pads.
 * The fused node takes the Add's place and output name, so y (defined before the Add) is defined before it.
 */
import type { Graph, Node } from '../ir/graph.js';
import { EDGECNN_DOMAIN, isDefaultDomain } from '../ir/graph.js';
import { isConcrete } from '../ops/infer-types.js';
import type { ValueType } from '../ops/types.js';
import { constantOf, explicitConvPads, hasSingleUse, indexGraph, isOp, removeNodes } from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

/** True for a Conv, or a FusedConv whose epilogue is still open (no activation, no residual). */
export function isOpenConv(n: Node): boolean {
  if (isOp(n, 'Conv')) return true;
  return (
    n.domain === EDGECNN_DOMAIN &&
    n.opType === 'FusedConv' &&
    !n.attributes.has('activation') &&
    (n.inputs[3] ?? '') === ''
  );
}

/**
 * The FusedConv attributes for a Conv node: its own attributes with auto_pad resolved to pads, or undefined
 * when auto_pad needs a shape that is unknown or the weights' kernel shape is unknown.
 */
export function fusedConvAttributes(
  graph: Graph,
  conv: Node,
  types: Map<string, ValueType>,
): Node['attributes'] | undefined {
  const attrs = new Map(conv.attributes);
  if (!isDefaultDomain(conv.domain)) return attrs;
  const ks = attrs.get('kernel_shape');
  const wShape =
    types.get(conv.inputs[1] ?? '')?.shape ?? constantOf(graph, indexGraph(graph), conv.inputs[1] ?? '')?.shape;
  const kernel = ks?.kind === 'ints' ? ks.value : isConcrete(wShape) ? wShape.slice(2) : undefined;
  if (!kernel) return undefined;
  const pads = explicitConvPads(conv, types.get(conv.inputs[0] ?? '')?.shape, kernel);
  if (!pads) return undefined;
  attrs.delete('auto_pad');
  attrs.set('kernel_shape', { kind: 'ints', value: [...kernel] });
  attrs.set('pads', { kind: 'ints', value: pads });
  return attrs;
}

/** Fuse Add(Conv(x), y) into FusedConv with a Residual input. */
export function fuseConvResidual(graph: Graph, ctx: Pick<PassContext, 'types' | 'note'>): Graph {
  const types = ctx.types(graph).types;
  const index = indexGraph(graph);
  const dead = new Set<Node>();
  graph.nodes = graph.nodes.map((add) => {
    // Sum of two inputs is the same Add (older exporters write residuals that way).
    if (!(isOp(add, 'Add') || isOp(add, 'Sum')) || add.inputs.length !== 2) return add;
    for (const side of [0, 1]) {
      const v = add.inputs[side]!;
      const y = add.inputs[1 - side]!;
      const conv = index.producer.get(v);
      if (!conv || dead.has(conv) || !isOpenConv(conv) || !hasSingleUse(index, v) || y === v) continue;
      const vs = types.get(v);
      const ys = types.get(y);
      const a = vs?.shape;
      const c = ys?.shape;
      // Equal means provably equal: numbers, or the same symbolic name (one dim_param is one size in a model).
      if (!a || !c || a.some((d) => d === null) || c.some((d) => d === null)) {
        ctx.note(`left Add '${add.name}' unfused: shapes of '${v}' or '${y}' unknown (try --input-shape)`);
        continue;
      }
      if (a.length !== c.length || a.some((d, i) => d !== c[i]) || vs?.dtype !== 'float32' || ys?.dtype !== 'float32') {
        continue;
      }
      const attributes = fusedConvAttributes(graph, conv, types);
      if (!attributes) {
        ctx.note(`left Conv '${conv.name}' unfused: auto_pad needs an unknown input shape`);
        continue;
      }
      dead.add(conv);
      graph.valueInfo.delete(v);
      const b = conv.inputs[2] ?? '';
      return {
        name: add.name,
        opType: 'FusedConv',
        domain: EDGECNN_DOMAIN,
        inputs: [conv.inputs[0]!, conv.inputs[1]!, b, y],
        outputs: [add.outputs[0]!],
        attributes,
      };
    }
    return add;
  });
  removeNodes(graph, dead);
  return graph;
}

export const fuseConvResidualPass: Pass = {
  name: 'fuse-conv-residual',
  summary: 'fuse Add(Conv(x), y) into edgecnn:FusedConv with a Residual input',
  run: (g, ctx) => fuseConvResidual(g, ctx),
};
