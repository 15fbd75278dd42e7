/**
 * Graph-level type and shape inference: walks the nodes in order and asks each op record for its output types,
 * seeding from graph inputs (optionally with concrete shapes that replace symbolic dims) and initializers.
 * Small constant values are propagated (op records compute them), which is what lets constant folding resolve
 * shape arithmetic. Never throws on a node it cannot infer: it records the node and leaves its outputs unknown.
 */
import type { Dim, Model, ValueInfo } from '../ir/graph.js';
import { nodeOpset } from './reference-executor.js';
import { getOp } from './registry.js';
import type { ValueType } from './types.js';

export interface InferOptions {
  /** Concrete shapes for graph inputs, replacing symbolic or unknown dims. */
  inputShapes?: Record<string, readonly number[]>;
  /** Treat graph inputs that have initializers as constants (default true: ONNX IR >= 4 semantics). */
  initializersAreConstant?: boolean;
}

export interface InferResult {
  /** Every value's type by name (inputs, initializers, node outputs). */
  types: Map<string, ValueType>;
  /** Nodes whose outputs could not be (fully) inferred, with the reason. */
  skipped: { node: string; opType: string; reason: string }[];
}

/** Shapes are fully known when every dim is a number. */
export function isConcrete(shape: readonly Dim[] | undefined): shape is number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

export function inferModelTypes(model: Model, options: InferOptions = {}): InferResult {
  const g = model.graph;
  const types = new Map<string, ValueType>();
  const skipped: InferResult['skipped'] = [];
  for (const vi of g.inputs) {
    const given = options.inputShapes?.[vi.name];
    types.set(vi.name, { dtype: vi.dtype, shape: given ? [...given] : vi.shape ? [...vi.shape] : undefined });
  }
  for (const [name, t] of g.initializers) {
    const asInput = g.inputs.some((i) => i.name === name);
    const constant = !asInput || options.initializersAreConstant !== false;
    types.set(name, { dtype: t.dtype, shape: [...t.shape], value: constant ? t : undefined });
  }
  for (const node of g.nodes) {
    const def = getOp(node.domain, node.opType);
    const ins = node.inputs.map((n) => (n === '' ? undefined : types.get(n)));
    let outs: ValueType[] = [];
    if (!def) {
      skipped.push({ node: node.name, opType: node.opType, reason: 'unsupported operator' });
    } else {
      try {
        outs = def.inferTypes(ins, { node, opset: nodeOpset(model, node) });
        if (outs.some((o) => !isConcrete(o.shape)) && ins.every((i) => i === undefined || isConcrete(i.shape))) {
          skipped.push({ node: node.name, opType: node.opType, reason: 'output shape depends on unknown values' });
        }
      } catch (e) {
        skipped.push({ node: node.name, opType: node.opType, reason: e instanceof Error ? e.message : String(e) });
      }
    }
    node.outputs.forEach((name, k) => {
      if (name === '') return;
      const declared = g.valueInfo.get(name) ?? g.outputs.find((o) => o.name === name);
      const o = outs[k] ?? {};
      types.set(name, {
        dtype: o.dtype ?? declared?.dtype,
        shape: o.shape ?? (declared?.shape ? [...declared.shape] : undefined),
        value: o.value,
      });
    });
  }
  return { types, skipped };
}

/** Write inferred types into graph.valueInfo (intermediates only), returning the model for chaining. */
export function annotateTypes(model: Model, result: InferResult): Model {
  const g = model.graph;
  const io = new Set([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
  for (const [name, t] of result.types) {
    if (io.has(name)) continue;
    const vi: ValueInfo = { name, dtype: t.dtype, shape: t.shape ? [...t.shape] : undefined };
    g.valueInfo.set(name, vi);
  }
  return model;
}
