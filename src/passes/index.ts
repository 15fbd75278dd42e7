/**
 * The graph optimizer's public entry: `optimize(model, options)` runs the pipeline of the chosen level
 * (pipeline.ts) under the instruments (instrument.ts) and returns the new model with a per-pass record.
 * The input model is never modified.
 */
import { EdgecnnError } from '../ir/errors.js';
import { EDGECNN_DOMAIN, type Model } from '../ir/graph.js';
import { type PassRecord, runPasses } from './instrument.js';
import { ALL_PASSES, EXPORT_PASSES, type OptLevel, OPT_LEVELS, pipelineFor } from './pipeline.js';

export interface OptimizeOptions {
  /** 0 = none, 1 = standard simplifications, 2 = + fusion into edgecnn ops (default 2). */
  level?: OptLevel;
  /** Pass names to skip. */
  disablePasses?: readonly string[];
  /** Print the graph after these passes. */
  printAfter?: readonly string[];
  print?: (text: string) => void;
  /** Verify the graph after every pass (tests turn this on). */
  verifyEach?: boolean;
  /** Approximate Sigmoid -> HardSigmoid, SiLU -> HardSwish (off by default). */
  hardActivations?: boolean;
  /** Expand fused nodes back to standard ONNX at the end (for writing a file any runtime can run). */
  forExport?: boolean;
  /** Concrete shapes for graph inputs (fixes symbolic dims, enabling more folding). */
  inputShapes?: Record<string, readonly number[]>;
}

export interface OptimizeResult {
  model: Model;
  passes: PassRecord[];
  /** Everything passes skipped or could not do, prefixed by the pass name. */
  notes: string[];
  /** With `forExport`: the optimized graph before its fused nodes were expanded (what the code generator gets). */
  fused?: Model;
}

/** Optimize a model (see OptimizeOptions). */
export function optimize(model: Model, options: OptimizeOptions = {}): OptimizeResult {
  const level = options.level ?? 2;
  if (!(OPT_LEVELS as readonly number[]).includes(level)) {
    throw new EdgecnnError(
      `optimization level must be one of ${OPT_LEVELS.join(', ')}, got ${String(level)}`,
      'bad-argument',
    );
  }
  const known = new Set(ALL_PASSES.map((p) => p.name));
  for (const name of [...(options.disablePasses ?? []), ...(options.printAfter ?? [])]) {
    if (!known.has(name)) {
      throw new EdgecnnError(`unknown pass '${name}' (passes: ${[...known].sort().join(', ')})`, 'bad-argument');
    }
  }
  const disabled = new Set(options.disablePasses ?? []);
  model = constantInitializerInputs(model, level);
  const passes = pipelineFor(level, { hardActivations: options.hardActivations === true }).filter(
    (p) => !disabled.has(p.name),
  );
  const instrument = {
    ...(options.printAfter ? { printAfter: options.printAfter } : {}),
    ...(options.print ? { print: options.print } : {}),
    ...(options.verifyEach ? { verifyEach: true } : {}),
    ...(options.inputShapes ? { inputShapes: options.inputShapes } : {}),
  };
  const run = runPasses(model, passes, instrument);
  let fused: Model | undefined;
  if (options.forExport) {
    fused = withImports(run.model);
    const tail = runPasses(
      run.model,
      EXPORT_PASSES.filter((p) => !disabled.has(p.name)),
      instrument,
    );
    run.model = tail.model;
    run.records.push(...tail.records);
  }
  const result: OptimizeResult = {
    model: withImports(run.model),
    passes: run.records,
    notes: run.records.flatMap((r) => r.notes.map((n) => `${r.name}: ${n}`)),
  };
  if (fused) result.fused = fused;
  return result;
}

/** Import the edgecnn domain exactly when the graph uses it. */
function withImports(out: Model): Model {
  const usesEdgecnn = out.graph.nodes.some((n) => n.domain === EDGECNN_DOMAIN);
  const imports = out.opsetImports.filter((o) => o.domain !== EDGECNN_DOMAIN);
  if (usesEdgecnn) imports.push({ domain: EDGECNN_DOMAIN, version: 1 });
  return { ...out, opsetImports: imports };
}

/**
 * Before IR version 4 every initializer had to be listed as a graph input, yet it is a constant (onnxruntime
 * folds it). The optimizer drops those names from the inputs so that passes see constants, and writes IR 4,
 * the first version where that form is legal. Level 0 changes nothing.
 */
function constantInitializerInputs(model: Model, level: number): Model {
  const g = model.graph;
  if (level === 0 || model.irVersion >= 4 || !g.inputs.some((i) => g.initializers.has(i.name))) return model;
  return { ...model, irVersion: 4, graph: { ...g, inputs: g.inputs.filter((i) => !g.initializers.has(i.name)) } };
}

export { ALL_PASSES, OPT_LEVELS, pipelineFor, type OptLevel } from './pipeline.js';
export { type PassRecord, formatPassTable } from './instrument.js';
export type { Pass, PassContext } from './pass.js';
export { FUSED_OPS } from '../ops/fused-ops.js';
