/**
 * Per-channel constant Mul/Add/Sub/Div after a Conv folded into its weights and bias, repeated to a fixpoint so
 * that a Mul -> Add chain (a decomposed BatchNorm) folds fully:
 *   Mul(Conv(x), c) -> W' = W * c[m], B' = B * c[m];   Div by c likewise with 1/c
 *   Add(Conv(x), c) -> B' = B + c[m];                  Sub(Conv(x), c) -> B' = B - c[m]
 * c must broadcast along the output channel axis only ([M,1,1], [1,M,1,1], [1], scalar) and the Conv output must
 * feed only this node; ConvTranspose is handled with its [C, M/g, k...] weight layout.
 * The same before a Conv (PP-LCNet's learnable affine x * s + t feeding the next convolution):
 *   Conv(x * s) -> W'[m, c] = W[m, c] * s[c]     (padding stays exact: the padded zeros scale to zero)
 *   Conv(x + t) -> B'[m] = B[m] + sum over c, k of W[m, c, k] * t[c]   (only without padding)
 * which needs x to have the Conv's rank and cin channels (so the constant does not broadcast x to more channels).
 */
import type { Graph } from '../ir/graph.js';
import { attrInt, attrInts, attrString } from '../ir/graph.js';
import type { ValueType } from '../ops/types.js';
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
import type { Pass, PassContext } from './pass.js';

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

/** Fold one per-channel Mul/Add/Sub/Div that feeds a Conv's X into the Conv; false when none is left. */
function foldInputOnce(graph: Graph, namer: (b: string) => string, types: Map<string, ValueType>): boolean {
  const index = indexGraph(graph);
  for (const conv of graph.nodes) {
    if (!isOp(conv, 'Conv')) continue;
    const v = conv.inputs[0] ?? '';
    const e = index.producer.get(v);
    if (!e || !FOLDABLE.some((op) => isOp(e, op)) || e.inputs.length !== 2 || !hasSingleUse(index, v)) continue;
    const w = constantOf(graph, index, conv.inputs[1] ?? '');
    if (!w || w.dtype !== 'float32' || w.shape.length < 3) continue;
    const group = attrInt(conv, 'group', 1);
    const cg = w.shape[1]!;
    const cin = cg * group;
    const m = w.shape[0]!;
    const inner = w.data.length / (m * cg);
    for (const side of [0, 1]) {
      if (side === 1 && (e.opType === 'Sub' || e.opType === 'Div')) continue;
      const x = e.inputs[side]!;
      const c = constantOf(graph, index, e.inputs[1 - side]!);
      const vec = c ? perChannel(c, cin, w.shape.length) : undefined;
      if (!c || !vec) continue;
      // The constant must not broadcast x to more channels: x has the Conv's rank, and its own channel count
      // is known to be cin unless the constant is all ones in shape (a scalar that broadcasts nothing).
      const xs = types.get(x)?.shape;
      if (!xs || xs.length !== w.shape.length || c.shape.length > xs.length) continue;
      if (c.data.length > 1 && xs[1] !== cin) continue;
      const bName = conv.inputs[2] ?? '';
      const b = bName === '' ? undefined : constantOf(graph, index, bName);
      if (bName !== '' && (!b || b.dtype !== 'float32' || b.data.length !== m)) continue;
      const src = w.data as Float32Array;
      const inputs = [x];
      if (e.opType === 'Mul' || e.opType === 'Div') {
        const s = e.opType === 'Mul' ? vec : vec.map((t) => 1 / t);
        const out = new Float32Array(src.length);
        for (let o = 0; o < m; o++) {
          const g = Math.floor(o / (m / group));
          for (let k = 0; k < cg; k++) {
            const sc = s[g * cg + k]!;
            const base = (o * cg + k) * inner;
            for (let i = 0; i < inner; i++) out[base + i] = src[base + i]! * sc;
          }
        }
        const wName = namer(`${conv.inputs[1]}_in${e.opType.toLowerCase()}`);
        graph.initializers.set(wName, { dtype: 'float32', shape: [...w.shape], data: out });
        inputs.push(wName);
        if (bName !== '') inputs.push(bName);
      } else {
        // A shift is exact only where no tap reads padding.
        const autoPad = attrString(conv, 'auto_pad', 'NOTSET');
        const pads = attrInts(conv, 'pads', []);
        if ((autoPad !== 'NOTSET' && autoPad !== 'VALID' && autoPad !== '') || pads.some((p) => p !== 0)) continue;
        const sign = e.opType === 'Add' ? 1 : -1;
        const bias = b ? f64Of(b) : new Float64Array(m);
        for (let o = 0; o < m; o++) {
          const g = Math.floor(o / (m / group));
          let acc = 0;
          for (let k = 0; k < cg; k++) {
            const t = vec[g * cg + k]!;
            const base = (o * cg + k) * inner;
            for (let i = 0; i < inner; i++) acc += src[base + i]! * t;
          }
          bias[o] = bias[o]! + sign * acc;
        }
        const bNew = namer(`${bName || conv.name + '_bias'}_in${e.opType.toLowerCase()}`);
        graph.initializers.set(bNew, f32([m], bias));
        inputs.push(conv.inputs[1]!, bNew);
      }
      conv.inputs = inputs;
      graph.valueInfo.delete(v);
      graph.nodes = graph.nodes.filter((n) => n !== e);
      return true;
    }
  }
  return false;
}

/** Fold per-channel constant Mul/Add/Sub/Div around a Conv into the Conv (see the file comment). */
export function foldConvMulAdd(graph: Graph, ctx?: Pick<PassContext, 'types'>): Graph {
  const namer = makeNamer(graph);
  while (foldOnce(graph, namer)) {
    /* until no pattern is left */
  }
  if (!ctx) return graph;
  // Shapes do not change under these folds, so one inference serves every round.
  const types = ctx.types(graph).types;
  while (foldInputOnce(graph, namer, types)) {
    /* until no pattern is left */
  }
  return graph;
}

export const foldConvMulAddPass: Pass = {
  name: 'fold-conv-mul-add',
  summary: 'fold per-channel constant Mul/Add/Sub/Div before or after a Conv into its weights and bias',
  run: (g, ctx) => foldConvMulAdd(g, ctx),
};
