/**
 * The first lowering stage: make every shape concrete (graph inputs with symbolic dims take the shapes given in
 * options), fold everything computable at compile time into constants (shape arithmetic, Constant nodes, nodes
 * whose inputs are all constant), and drop nodes no graph output depends on. What remains is the runtime
 * schedule: nodes in topological order whose every non-constant value has a concrete shape and dtype.
 */
import type { DType } from '../../ir/dtype.js';
import { EdgecnnError } from '../../ir/errors.js';
import type { Dim, Model, Node } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { inferModelTypes, isConcrete } from '../../ops/infer-types.js';
import { nodeOpset } from '../../ops/reference-executor.js';
import { getOp } from '../../ops/registry.js';

export interface ConcreteType {
  dtype: DType;
  shape: number[];
}

export interface PreparedGraph {
  model: Model;
  /** Nodes left to run, in topological order. */
  nodes: Node[];
  /** Type of every runtime value (graph inputs and node outputs that are not constants). */
  types: Map<string, ConcreteType>;
  /** Values known at compile time (initializers and folded results). */
  constants: Map<string, Tensor>;
  /** Graph inputs the caller feeds, in order, with their concrete types. */
  inputs: { name: string; type: ConcreteType }[];
  outputNames: string[];
  /** Values the int8 lowering placed in the arena as int8 (1-byte NHWC, read only by int8 kernels). */
  arenaInt8?: Set<string>;
}

const fmt = (s: readonly Dim[] | undefined): string =>
  s === undefined ? '(unknown rank)' : `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;

/** Concrete-shape, constant-folded runtime graph of `model`. */
export function prepareGraph(model: Model, inputShapes: Record<string, readonly number[]> = {}): PreparedGraph {
  const g = model.graph;
  checkInputShapes(model, inputShapes);
  const inferred = inferModelTypes(model, { inputShapes });
  const constants = new Map<string, Tensor>();
  for (const [name, t] of g.initializers) constants.set(name, t);

  const inputs: PreparedGraph['inputs'] = [];
  for (const vi of g.inputs) {
    if (g.initializers.has(vi.name)) continue;
    const t = inferred.types.get(vi.name);
    if (!t?.dtype) throw new EdgecnnError(`input '${vi.name}' has no declared element type`, 'bad-model');
    if (!isConcrete(t.shape)) {
      throw new EdgecnnError(
        `input '${vi.name}' has shape ${fmt(t.shape)} with unknown dims; give a concrete shape, e.g. ` +
          `{ inputShapes: { ${vi.name}: [${(t.shape ?? []).map((d) => (typeof d === 'number' ? d : 1)).join(', ')}] } }`,
        'bad-argument',
      );
    }
    inputs.push({ name: vi.name, type: { dtype: t.dtype, shape: t.shape } });
  }

  // Fold: values inference computed, then nodes whose inputs are all constant (evaluated by their reference).
  const runtime: Node[] = [];
  for (const node of g.nodes) {
    const outs = node.outputs.filter((o) => o !== '');
    if (outs.every((o) => inferred.types.get(o)?.value !== undefined)) {
      for (const o of outs) constants.set(o, inferred.types.get(o)!.value!);
      continue;
    }
    const def = getOp(node.domain, node.opType);
    const ins = node.inputs.filter((i) => i !== '');
    if (def && ins.every((i) => constants.has(i)) && !isRandom(node)) {
      const results = def.reference(
        node.inputs.map((i) => (i === '' ? undefined : constants.get(i))),
        { node, opset: nodeOpset(model, node) },
      );
      node.outputs.forEach((o, k) => o !== '' && results[k] && constants.set(o, results[k]!));
      continue;
    }
    runtime.push(node);
  }

  // Dead nodes: walk back from the outputs.
  const outputNames = g.outputs.map((o) => o.name);
  const needed = new Set(outputNames);
  const kept: Node[] = [];
  for (let i = runtime.length - 1; i >= 0; i--) {
    const node = runtime[i]!;
    if (!node.outputs.some((o) => needed.has(o))) continue;
    kept.push(node);
    for (const x of node.inputs) if (x !== '') needed.add(x);
  }
  kept.reverse();

  const types = new Map<string, ConcreteType>();
  for (const { name, type } of inputs) types.set(name, type);
  for (const node of kept) {
    for (const o of node.outputs) {
      if (o === '') continue;
      const t = inferred.types.get(o);
      if (!t?.dtype || !isConcrete(t.shape)) {
        const why = inferred.skipped.find((s) => s.node === node.name)?.reason;
        throw new EdgecnnError(
          `cannot compile: output '${o}' of node '${node.name}' (${node.opType}) has ` +
            `${t?.dtype ?? 'unknown type'} shape ${fmt(t?.shape)}${why ? ` (${why})` : ''}`,
          getOp(node.domain, node.opType) ? 'bad-model' : 'unsupported-operator',
        );
      }
      types.set(o, { dtype: t.dtype, shape: t.shape });
    }
  }
  for (const o of outputNames) {
    if (!types.has(o) && !constants.has(o)) {
      throw new EdgecnnError(`graph output '${o}' is computed by no node`, 'bad-model');
    }
  }
  return { model, nodes: kept, types, constants, inputs, outputNames };
}

/** Check user-given input shapes against the model's declared inputs (names, rank, fixed dims). */
export function checkInputShapes(model: Model, inputShapes: Record<string, readonly number[]>): void {
  const g = model.graph;
  for (const [name, given] of Object.entries(inputShapes)) {
    const vi = g.inputs.find((i) => i.name === name && !g.initializers.has(i.name));
    if (!vi) {
      const names = g.inputs.filter((i) => !g.initializers.has(i.name)).map((i) => i.name);
      throw new EdgecnnError(
        `inputShapes names '${name}', but the model's inputs are: ${names.join(', ')}`,
        'bad-argument',
      );
    }
    if (!given.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new EdgecnnError(
        `inputShapes gives '${name}' shape [${given.join(', ')}]: dims must be integers >= 0`,
        'bad-argument',
      );
    }
    if (vi.shape) {
      const clash =
        vi.shape.length !== given.length || vi.shape.some((d, i) => typeof d === 'number' && d !== given[i]);
      if (clash) {
        throw new EdgecnnError(
          `inputShapes gives '${name}' shape [${given.join(', ')}] but the model declares ${fmt(vi.shape)}`,
          'bad-argument',
        );
      }
    }
  }
}

/** Ops whose result must not be folded even with constant inputs. */
function isRandom(node: Node): boolean {
  return node.opType.startsWith('Random') || node.opType === 'Multinomial';
}
