/**
 * The reference executor: runs a model node by node with the naive op records of src/ops/. It is the oracle
 * that every kernel, fusion and precision is tested against, so it favours obviousness over speed: nodes run
 * in file order (ONNX requires topological order; the executor checks it), every tensor is a fresh array, and
 * intermediate tensors are dropped after their last use only to bound memory.
 */
import type { DType } from '../ir/dtype.js';
import { EdgecnnError } from '../ir/errors.js';
import { type Graph, type Model, type Node, isDefaultDomain, opsetVersion } from '../ir/graph.js';
import { type Tensor, sizeOf } from '../ir/tensor.js';
import { getOp } from './registry.js';

export interface ReferenceOptions {
  /** Called after each node with its outputs (calibration observers, debugging). */
  onNode?: (node: Node, outputs: readonly Tensor[], index: number) => void;
  /** Also return these intermediate values (by name). */
  extraOutputs?: readonly string[];
}

/** Nodes whose operator has no reference implementation, listed all at once. */
export function unsupportedNodes(graph: Graph): Node[] {
  return graph.nodes.filter((n) => getOp(n.domain, n.opType) === undefined);
}

export function assertSupported(graph: Graph): void {
  const bad = unsupportedNodes(graph);
  if (bad.length > 0) {
    const list = bad.map((n) => `'${n.name}' (${n.domain ? n.domain + ':' : ''}${n.opType})`).join(', ');
    throw new EdgecnnError(
      `${bad.length} node(s) use operators edgecnn does not support: ${list}`,
      'unsupported-operator',
    );
  }
}

/** The opset a node runs at: the model's import for its domain (edgecnn's own domain is version 1). */
export function nodeOpset(model: Model, node: Node): number {
  const v = opsetVersion(model, node.domain);
  if (v !== undefined) return v;
  return isDefaultDomain(node.domain) ? 21 : 1;
}

/** Check that a runtime input matches the graph's declared input (dtype, rank, concrete dims). */
export function checkInput(graph: Graph, name: string, t: Tensor): void {
  const vi = graph.inputs.find((i) => i.name === name);
  if (!vi) throw new EdgecnnError(`the model has no input named '${name}'`, 'bad-input');
  if (vi.dtype !== undefined && vi.dtype !== t.dtype) {
    throw new EdgecnnError(`input '${name}' must be ${vi.dtype}, got ${t.dtype}`, 'bad-input');
  }
  if (vi.shape !== undefined) {
    const want = vi.shape;
    const ok = want.length === t.shape.length && want.every((d, i) => typeof d !== 'number' || d === t.shape[i]);
    if (!ok) {
      const w = want.map((d) => (d === null ? '?' : String(d))).join('x');
      throw new EdgecnnError(`input '${name}' must have shape ${w}, got ${t.shape.join('x')}`, 'bad-input');
    }
  }
  if (t.data.length !== sizeOf(t.shape)) {
    throw new EdgecnnError(
      `input '${name}' has ${t.data.length} elements but shape ${t.shape.join('x')} needs ${sizeOf(t.shape)}`,
      'bad-input',
    );
  }
}

/** The graph inputs a caller must feed (graph inputs that are not initializers). */
export function runtimeInputs(graph: Graph): { name: string; dtype?: DType }[] {
  return graph.inputs.filter((i) => !graph.initializers.has(i.name));
}

/** Run `model` on `inputs` (by graph input name) and return its outputs (and any requested extra values). */
export function runReference(
  model: Model,
  inputs: Record<string, Tensor>,
  options: ReferenceOptions = {},
): Record<string, Tensor> {
  const graph = model.graph;
  assertSupported(graph);
  const values = new Map<string, Tensor>();
  for (const [name, t] of graph.initializers) values.set(name, t);
  for (const vi of runtimeInputs(graph)) {
    const t = inputs[vi.name];
    if (t === undefined) {
      // An input that also has an initializer is optional (the initializer is its default).
      throw new EdgecnnError(`missing input '${vi.name}'`, 'bad-input');
    }
    checkInput(graph, vi.name, t);
    values.set(vi.name, t);
  }
  for (const name of Object.keys(inputs)) {
    if (!graph.inputs.some((i) => i.name === name)) {
      throw new EdgecnnError(`the model has no input named '${name}'`, 'bad-input');
    }
    if (graph.initializers.has(name)) values.set(name, inputs[name]!);
  }

  const keep = new Set<string>([...graph.outputs.map((o) => o.name), ...(options.extraOutputs ?? [])]);
  const lastUse = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.inputs.forEach((x) => x && lastUse.set(x, i)));

  graph.nodes.forEach((node, index) => {
    const def = getOp(node.domain, node.opType)!;
    const args = node.inputs.map((name) => {
      if (name === '') return undefined;
      const t = values.get(name);
      if (t === undefined) {
        throw new EdgecnnError(
          `node '${node.name}' (${node.opType}) reads '${name}', which no earlier node, input or initializer defines`,
          'bad-model',
        );
      }
      return t;
    });
    let outs: Tensor[];
    try {
      outs = def.reference(args, { node, opset: nodeOpset(model, node) });
    } catch (e) {
      if (e instanceof EdgecnnError) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      throw new EdgecnnError(`node '${node.name}' (${node.opType}) failed: ${msg}`, 'bad-model');
    }
    options.onNode?.(node, outs, index);
    node.outputs.forEach((name, k) => {
      if (name !== '' && outs[k] !== undefined) values.set(name, outs[k]!);
    });
    for (const name of node.inputs) {
      if (name && lastUse.get(name) === index && !keep.has(name) && !graph.initializers.has(name)) {
        values.delete(name);
      }
    }
  });

  const result: Record<string, Tensor> = {};
  for (const name of keep) {
    const t = values.get(name);
    if (t === undefined) throw new EdgecnnError(`output '${name}' was never computed`, 'bad-model');
    result[name] = t;
  }
  return result;
}
