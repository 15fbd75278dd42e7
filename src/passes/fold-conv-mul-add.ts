/**
 * Per-channel constant Mul/Add/Sub/Div after a Conv folded into its weights and bias, repeated to a fixpoint so
 * that a Mul -> Add chain (a decomposed BatchNorm) folds fully:
 *   Mul(Conv(x), c) -> W' = W * c[m], B' = B * c[m];   Div by c likewise with 1/c
 *   Add(Conv(x), c) -> B' = B + c[m];                  Sub(Conv(x), c) -> B' = B - c[m]
 * c must broadcast along the output channel axis only ([M,1,1], [1,M,1,1], [1], scalar) and the Conv output must
 * feed only this node; ConvTranspose is handled with its [C, M/g, k...] weight layout.
 */
import type { Graph } from '../ir/graph.js';
import { attrInt } from '../ir/graph.js';
import { f32 } from '../ir/tensor.js';
import {
  constantOf,
  f64Of,
  hasSingleUse,
  indexGraph,
  isOp,
  makeNamer,
  outputChannels,
  perChannel,
  scaleOutputChannels,
} from './graph-utils.js';
import type { Pass } from './pass.js';

const FOLDABLE = ['Mul', 'Add', 'Sub', 'Div'] as const;

function foldOnce(graph: Graph, namer: (b: string) => string): boolean {
  const index = indexGraph(graph);
  for (const e of graph.nodes) {
    if (!FOLDABLE.some((op) => isOp(e, op)) || e.inputs.length !== 2) continue;
    for (const side of [0, 1]) {
      const v = e.inputs[side]!;
      const cName = e.inputs[1 - side]!;
      // Sub and Div are not commutative: only Conv - c and Conv / c fold.
      if (side === 1 && (e.opType === 'Sub' || e.opType === 'Div')) continue;
      const p = index.producer.get(v);
      if (!p || !(isOp(p, 'Conv') || isOp(p, 'ConvTranspose')) || !hasSingleUse(index, v)) continue;
      const c = constantOf(graph, index, cName);
      const w = constantOf(graph, index, p.inputs[1] ?? '');
      if (!c || !w || w.dtype !== 'float32') continue;
      const transpose = p.opType === 'ConvTranspose';
      const group = attrInt(p, 'group', 1);
      const m = outputChannels(w, transpose, group);
      const vec = perChannel(c, m, w.shape.length);
      if (!vec) continue;
      const bName = p.inputs[2] ?? '';
      const b = bName === '' ? undefined : constantOf(graph, index, bName);
      if (bName !== '' && (!b || b.dtype !== 'float32' || b.data.length !== m)) continue;
      const bias = b ? f64Of(b) : new Float64Array(m);
      let newW = w;
      if (e.opType === 'Mul' || e.opType === 'Div') {
        const s = e.opType === 'Mul' ? vec : vec.map((x) => 1 / x);
        newW = scaleOutputChannels(w, s, transpose, group);
        for (let i = 0; i < m; i++) bias[i] = bias[i]! * s[i]!;
      } else {
        const sign = e.opType === 'Add' ? 1 : -1;
        for (let i = 0; i < m; i++) bias[i] = bias[i]! + sign * vec[i]!;
      }
      const inputs = [p.inputs[0]!];
      if (newW !== w) {
        inputs.push(namer(`${p.inputs[1]}_${e.opType.toLowerCase()}`));
        graph.initializers.set(inputs[1]!, newW);
      } else inputs.push(p.inputs[1]!);
      const bNew = namer(`${bName || p.name + '_bias'}_${e.opType.toLowerCase()}`);
      graph.initializers.set(bNew, f32([m], bias));
      inputs.push(bNew);
      p.inputs = inputs;
      p.outputs[0] = e.outputs[0]!;
      graph.valueInfo.delete(v);
      graph.nodes = graph.nodes.filter((n) => n !== e);
      return true;
    }
  }
  return false;
}

/** Fold per-channel constant Mul/Add/Sub/Div that follow a Conv into the Conv (see the file comment). */
export function foldConvMulAdd(graph: Graph): Graph {
  const namer = makeNamer(graph);
  while (foldOnce(graph, namer)) {
    /* until no pattern is left */
  }
  return graph;
}

export const foldConvMulAddPass: Pass = {
  name: 'fold-conv-mul-add',
  summary: 'fold per-channel constant Mul/Add/Sub/Div after a Conv into its weights and bias',
  run: (g) => foldConvMulAdd(g),
};
