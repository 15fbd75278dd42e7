/**
 * What `edgecnn inspect` reports: inputs and outputs, operator histogram, parameters and weight bytes, MACs per
 * layer from each op record's cost model, and activation memory (the sum of all intermediate tensors, and the
 * peak of simultaneously live ones in execution order, which bounds any memory plan from below).
 */
import { DTYPE_SIZE_BYTES } from '../ir/dtype.js';
import type { Dim, Model } from '../ir/graph.js';
import { sizeOf } from '../ir/tensor.js';
import { type InferOptions, inferModelTypes, isConcrete } from './infer-types.js';
import { nodeOpset } from './reference-executor.js';
import { getOp } from './registry.js';

export interface LayerSummary {
  name: string;
  opType: string;
  outputShapes: (Dim[] | undefined)[];
  /** Elements of constant (initializer or Constant) inputs. */
  params: number;
  macs: number;
}

export interface ModelSummary {
  inputs: { name: string; dtype?: string; shape?: Dim[] }[];
  outputs: { name: string; dtype?: string; shape?: Dim[] }[];
  opset: { domain: string; version: number }[];
  opHistogram: Record<string, number>;
  nodeCount: number;
  params: number;
  weightBytes: number;
  totalMacs: number;
  /** Sum of every intermediate tensor's bytes (what a runtime with no reuse would allocate). */
  activationBytes: number;
  /** Largest sum of simultaneously live intermediate tensors in node order (lower bound for a memory plan). */
  peakLiveBytes: number;
  layers: LayerSummary[];
  /** Nodes whose shapes could not be inferred (MACs and memory then undercount). */
  unknownShapes: string[];
  unsupported: string[];
}

export function summarizeModel(model: Model, options: InferOptions = {}): ModelSummary {
  const g = model.graph;
  const { types, skipped } = inferModelTypes(model, options);
  const constants = new Set(g.initializers.keys());
  let weightBytes = 0;
  let params = 0;
  for (const t of g.initializers.values()) {
    params += t.data.length;
    weightBytes += t.data.length * DTYPE_SIZE_BYTES[t.dtype];
  }
  for (const n of g.nodes) {
    if (n.opType === 'Constant' && n.domain === '') {
      n.outputs.forEach((o) => constants.add(o));
      const v = n.attributes.get('value');
      if (v?.kind === 'tensor') {
        params += v.value.data.length;
        weightBytes += v.value.data.length * DTYPE_SIZE_BYTES[v.value.dtype];
      }
    }
  }
  const hist: Record<string, number> = {};
  const layers: LayerSummary[] = [];
  let totalMacs = 0;
  const bytesOf = (name: string): number => {
    const t = types.get(name);
    return t?.dtype && isConcrete(t.shape) ? sizeOf(t.shape) * DTYPE_SIZE_BYTES[t.dtype] : 0;
  };
  for (const node of g.nodes) {
    const key = (node.domain ? node.domain + ':' : '') + node.opType;
    hist[key] = (hist[key] ?? 0) + 1;
    const def = getOp(node.domain, node.opType);
    const ins = node.inputs.map((n) => (n === '' ? undefined : types.get(n)));
    const outs = node.outputs.map((n) => types.get(n) ?? {});
    let macs = 0;
    try {
      macs = def?.macs?.(ins, outs, { node, opset: nodeOpset(model, node) }) ?? 0;
    } catch {
      macs = 0;
    }
    if (!Number.isFinite(macs)) macs = 0;
    totalMacs += macs;
    const p = node.inputs
      .filter((n) => n && constants.has(n))
      .reduce((s, n) => s + (types.get(n)?.value?.data.length ?? g.initializers.get(n)?.data.length ?? 0), 0);
    layers.push({ name: node.name, opType: key, outputShapes: outs.map((o) => o.shape), params: p, macs });
  }
  // Liveness over intermediates in node order.
  const lastUse = new Map<string, number>();
  g.nodes.forEach((n, i) => n.inputs.forEach((x) => x && lastUse.set(x, i)));
  const outputsSet = new Set(g.outputs.map((o) => o.name));
  let live = 0;
  let peak = 0;
  let activationBytes = 0;
  const liveSet = new Map<string, number>();
  g.nodes.forEach((n, i) => {
    for (const o of n.outputs) {
      if (!o || constants.has(o)) continue;
      const b = bytesOf(o);
      activationBytes += b;
      liveSet.set(o, b);
      live += b;
    }
    peak = Math.max(peak, live);
    for (const x of n.inputs) {
      if (x && liveSet.has(x) && lastUse.get(x) === i && !outputsSet.has(x)) {
        live -= liveSet.get(x)!;
        liveSet.delete(x);
      }
    }
  });
  return {
    inputs: g.inputs
      .filter((i) => !g.initializers.has(i.name))
      .map((i) => ({ name: i.name, dtype: i.dtype, shape: i.shape })),
    outputs: g.outputs.map((o) => ({
      name: o.name,
      dtype: o.dtype ?? types.get(o.name)?.dtype,
      shape: types.get(o.name)?.shape ?? o.shape,
    })),
    opset: model.opsetImports.map((o) => ({ domain: o.domain || 'ai.onnx', version: o.version })),
    opHistogram: Object.fromEntries(Object.entries(hist).sort((a, b) => b[1] - a[1])),
    nodeCount: g.nodes.length,
    params,
    weightBytes,
    totalMacs,
    activationBytes,
    peakLiveBytes: peak,
    layers,
    unknownShapes: skipped.filter((s) => s.reason !== 'unsupported operator').map((s) => s.node),
    unsupported: skipped.filter((s) => s.reason === 'unsupported operator').map((s) => `${s.node} (${s.opType})`),
  };
}
