/**
 * A constant-mode Pad folded into the following Conv or pooling node's `pads`. Pad's pads are
 * [x1_begin, ..., xr_begin, x1_end, ..., xr_end] over all r axes (attribute before opset 11, input after; an
 * `axes` input selects axes); only spatial axes (2..) may be padded, by non-negative amounts.
 * Equivalence conditions: Conv needs pad value 0; AveragePool needs value 0 and count_include_pad = 1 afterwards
 * (allowed when its own pads are zero or it already counts them); MaxPool needs the padding never to win, i.e.
 * value 0 and an input known non-negative (Relu/Clip(min >= 0) output) or value -inf. ceil_mode is left alone.
 */
import type { Graph, Node } from '../ir/graph.js';
import { attrInt, attrInts, attrString } from '../ir/graph.js';
import { type GraphIndex, constantOf, hasSingleUse, indexGraph, isOp, removeNodes } from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

/** Pad amounts per axis and the constant value, or undefined when the Pad is not a plain constant pad. */
function readPad(
  graph: Graph,
  index: GraphIndex,
  pad: Node,
  opset: number,
  rank: number,
): { pads: number[]; value: number } | undefined {
  if (attrString(pad, 'mode', 'constant') !== 'constant') return undefined;
  let pads: number[] | undefined;
  let value = 0;
  if (opset < 11) {
    pads = attrInts(pad, 'pads');
    const v = pad.attributes.get('value');
    value = v?.kind === 'float' ? v.value : 0;
  } else {
    const p = constantOf(graph, index, pad.inputs[1] ?? '');
    if (!p) return undefined;
    pads = Array.from(p.data as BigInt64Array, (x) => Number(x));
    const vName = pad.inputs[2] ?? '';
    if (vName !== '') {
      const v = constantOf(graph, index, vName);
      if (!v || v.data.length !== 1) return undefined;
      value = Number(v.data[0]);
    }
    const axesName = pad.inputs[3] ?? '';
    if (axesName !== '') {
      const axes = constantOf(graph, index, axesName);
      if (!axes) return undefined;
      const ax = Array.from(axes.data as BigInt64Array, (x) => (Number(x) < 0 ? Number(x) + rank : Number(x)));
      const full = new Array<number>(2 * rank).fill(0);
      ax.forEach((a, i) => {
        full[a] = pads![i]!;
        full[rank + a] = pads![ax.length + i]!;
      });
      pads = full;
    }
  }
  if (!pads || pads.length !== 2 * rank || pads.some((x) => x < 0)) return undefined;
  return { pads, value };
}

function knownNonNegative(graph: Graph, index: GraphIndex, name: string): boolean {
  const p = index.producer.get(name);
  if (!p) return false;
  if (isOp(p, 'Relu')) return true;
  if (isOp(p, 'Clip')) {
    const minAttr = p.attributes.get('min');
    if (minAttr?.kind === 'float') return minAttr.value >= 0;
    const m = constantOf(graph, index, p.inputs[1] ?? '');
    return m !== undefined && m.data.length === 1 && Number(m.data[0]) >= 0;
  }
  return false;
}

/** Fold Pad nodes into the Conv/AveragePool/MaxPool they feed (see the file comment for when). */
export function foldPad(graph: Graph, ctx: Pick<PassContext, 'opset' | 'note'>): Graph {
  const dead = new Set<Node>();
  for (const pad of graph.nodes) {
    if (!isOp(pad, 'Pad')) continue;
    const index = indexGraph(graph);
    const y = pad.outputs[0] ?? '';
    if (!hasSingleUse(index, y)) continue;
    const next = index.consumers.get(y)![0]!;
    const isConv = isOp(next, 'Conv');
    const isAvg = isOp(next, 'AveragePool');
    const isMax = isOp(next, 'MaxPool');
    if ((!isConv && !isAvg && !isMax) || next.inputs[0] !== y) continue;
    if (attrString(next, 'auto_pad', 'NOTSET') !== 'NOTSET' && attrString(next, 'auto_pad', '') !== '') continue;
    if (attrInt(next, 'ceil_mode', 0) !== 0) continue;
    const kernel =
      attrInts(next, 'kernel_shape') ??
      (isConv ? constantOf(graph, index, next.inputs[1] ?? '')?.shape.slice(2) : undefined);
    if (!kernel) continue;
    const r = kernel.length;
    const rank = r + 2;
    const p = readPad(graph, index, pad, ctx.opset, rank);
    if (!p) {
      ctx.note(`left Pad '${pad.name}': not a constant pad with constant, non-negative amounts`);
      continue;
    }
    if (p.pads[0] !== 0 || p.pads[1] !== 0 || p.pads[rank] !== 0 || p.pads[rank + 1] !== 0) continue;
    if (isConv || isAvg) {
      if (p.value !== 0) continue;
    } else if (!(p.value === -Infinity || (p.value === 0 && knownNonNegative(graph, index, pad.inputs[0]!)))) {
      continue;
    }
    const own = attrInts(next, 'pads', new Array<number>(2 * r).fill(0));
    if (isAvg && attrInt(next, 'count_include_pad', 0) === 0 && own.some((x) => x !== 0)) continue;
    const merged = own.map((x, i) => x + (i < r ? p.pads[2 + i]! : p.pads[rank + 2 + (i - r)]!));
    // A MaxPool window lying wholly in the padding would read -inf instead of the Pad's value.
    if (isMax && merged.some((x, i) => x >= kernel[i % r]!)) continue;
    next.attributes.set('pads', { kind: 'ints', value: merged });
    next.attributes.delete('auto_pad');
    if (isAvg) next.attributes.set('count_include_pad', { kind: 'int', value: 1 });
    next.inputs[0] = pad.inputs[0]!;
    graph.valueInfo.delete(y);
    dead.add(pad);
  }
  removeNodes(graph, dead);
  return graph;
}

export const foldPadPass: Pass = {
  name: 'fold-pad',
  summary: 'fold a constant Pad into the pads of the following Conv, AveragePool or MaxPool',
  run: (g, ctx) => foldPad(g, ctx),
};
