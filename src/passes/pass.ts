/**
 * The pass contract. A pass is a named graph -> graph rewrite (verb-noun name, e.g. `fold-batch-norm`). The
 * pipeline hands each pass a private copy of the graph, so a pass may edit it in place and return it.
 * Invariant: a pass that meets a pattern it cannot handle leaves it alone and says so with `ctx.note`; it never
 * throws on legal input. Shape facts come from `ctx.types(graph)` (graph type inference over the op records).
 */
import type { Graph, Model } from '../ir/graph.js';
import { opsetVersion } from '../ir/graph.js';
import { type InferResult, inferModelTypes } from '../ops/infer-types.js';

/** What a pass can learn about the model around the graph it rewrites. */
export interface PassContext {
  /** The model being optimized (its graph is the pre-pass graph; use `withGraph` for the current one). */
  readonly model: Model;
  /** Default-domain opset version the model imports. */
  readonly opset: number;
  /** Concrete shapes for graph inputs (replace symbolic dims), when the user gave them. */
  readonly inputShapes?: Record<string, readonly number[]>;
  /** Record something the pass skipped or could not do (shown by `--report`). */
  note(message: string): void;
  /** Type inference over `graph` (inputs given concrete shapes from `inputShapes`). */
  types(graph: Graph): InferResult;
}

/** One graph pass. */
export interface Pass {
  /** verb-noun, the same string in pipeline.ts, `--disable-pass`, `--print-after` and reports. */
  readonly name: string;
  /** One line for `--report` and docs. */
  readonly summary: string;
  run(graph: Graph, ctx: PassContext): Graph;
}

/** A model with its graph replaced (shallow: the other fields are shared). */
export function withGraph(model: Model, graph: Graph): Model {
  return { ...model, graph };
}

/** A PassContext over `model`; notes are pushed to `notes`. */
export function makePassContext(
  model: Model,
  notes: string[] = [],
  inputShapes?: Record<string, readonly number[]>,
  passName?: () => string,
): PassContext {
  const ctx: PassContext = {
    model,
    opset: opsetVersion(model) ?? 21,
    note: (m) => notes.push(passName ? `${passName()}: ${m}` : m),
    types: (graph) => inferModelTypes(withGraph(model, graph), inputShapes ? { inputShapes } : {}),
  };
  return inputShapes ? { ...ctx, inputShapes } : ctx;
}
