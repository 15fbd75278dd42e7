/**
 * The public entry point for running a model: `createSession(model | bytes | path, options)`. The `wasm`
 * backend compiles the model (optimizer first, when present) to one WebAssembly module and runs it through the
 * executor; the `reference` backend wraps the naive reference executor. Both validate inputs the same way
 * (missing, unknown, wrong dtype or shape: an EdgecnnError naming the input and expected vs actual).
 */
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { type Tensor, sizeOf } from '../ir/tensor.js';
import { loadModel, readModel } from '../onnx/index.js';
import { runReference, runtimeInputs } from '../ops/reference-executor.js';
import { type CompileOptions, compileModel } from '../codegen/compile/compile.js';
import { FUSED_OPS, optimize } from '../passes/index.js';
import { qoperatorToQdq } from '../quantize/qoperator.js';
import { getOp } from '../ops/registry.js';
import type { OpDef } from '../ops/types.js';
import type { ArenaSummary, CompiledModel, CompiledStep } from './compiled-model.js';
import { type StepTiming, instantiate } from './executor.js';
import { RELAXED_SIMD_NODE_FLAG, detectFeatures } from './features.js';
import { type TuneOptions, type TuneReport, databaseChooser, tuneCompile } from '../tune/tune.js';
import { type TuningDb, openTuningDb } from '../tune/db.js';
import { deviceFingerprint } from '../tune/device.js';
import { type ThreadPoolStats, createThreadPool, resolveThreads } from './threads/thread-pool.js';

export const BACKENDS = ['wasm', 'reference'] as const;
export type Backend = (typeof BACKENDS)[number];

export interface SessionOptions {
  backend?: Backend;
  /** Concrete shapes for inputs with symbolic dims, e.g. `{ x: [1, 3, 640, 640] }`. */
  inputShapes?: Record<string, readonly number[]>;
  /** Relaxed-SIMD kernels: 'auto' probes the engine (default), 'on' requires them, 'off' never uses them. */
  relaxedSimd?: 'auto' | 'on' | 'off';
  /** Run the graph optimizer (level 2: folding and fusion into edgecnn ops) before compiling (default true). */
  optimize?: boolean;
  /** Override kernel selection (tests). */
  select?: CompileOptions['select'];
  /**
   * Threads for the wasm backend (default 1): 'auto' is min(cores, 4). Without SharedArrayBuffer (a page that
   * is not cross-origin isolated) it runs on one thread and says so once.
   */
  threads?: number | 'auto';
  /**
   * Tune on this device before compiling (src/tune/): measure each step's candidate kernels within
   * `budgetMs`, record the winners in `db` (default `openTuningDb()`: a JSON file under the user's cache
   * directory in Node, localStorage in a browser) and compile with them. Specs already in the database are
   * not measured again.
   */
  tune?: boolean | TuneOptions;
  /** Compile with the choices a tuning database holds for this device, measuring nothing. */
  tuning?: TuningDb;
}

export interface Session {
  readonly backend: Backend;
  readonly inputNames: string[];
  readonly outputNames: string[];
  /** Declared input shapes after `inputShapes` were applied. */
  readonly inputShapes: Record<string, number[]>;
  /** Nodes that run on the reference fallback (wasm backend); every node for the reference backend. */
  readonly fallbackNodes: string[];
  readonly arena: ArenaSummary;
  readonly steps: readonly CompiledStep[];
  /** The compiled artifact (wasm backend only). */
  readonly compiled?: CompiledModel;
  /** What tuning measured and chose (sessions created with `tune`). */
  readonly tuning?: TuneReport;
  /** Threads the session runs on (1 for the reference backend or without shared memory). */
  readonly threads: number;
  /** What ran where (multi-threaded sessions only). */
  threadStats?(): ThreadPoolStats;
  /** Stop worker threads (a no-op for single-threaded sessions); the session must not run afterwards. */
  close(): Promise<void>;
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** Run once, timing each step (wasm backend); the reference backend reports one span per node. */
  runProfiled(inputs: Record<string, Tensor>): Promise<{ outputs: Record<string, Tensor>; steps: StepTiming[] }>;
}

/** Load (when given bytes or a path), compile and instantiate a model. */
export async function createSession(
  model: Model | Uint8Array | string,
  options: SessionOptions = {},
): Promise<Session> {
  const m = typeof model === 'string' ? await loadModel(model) : model instanceof Uint8Array ? readModel(model) : model;
  const backend = options.backend ?? 'wasm';
  if (!BACKENDS.includes(backend)) {
    throw new EdgecnnError(`unknown backend '${String(backend)}' (expected ${BACKENDS.join(' or ')})`, 'bad-argument');
  }
  return backend === 'reference' ? referenceSession(m, options) : wasmSession(m, options);
}

type InputSpec = { name: string; dtype: string; shape: number[] };

/** Check a run's inputs against the compiled input specs; names the input and expected vs actual. */
export function validateInputs(specs: readonly InputSpec[], inputs: Record<string, Tensor>): void {
  for (const s of specs) {
    const t = inputs[s.name];
    if (t === undefined) {
      throw new EdgecnnError(
        `missing input '${s.name}' (expected ${s.dtype} ${s.shape.join('x')}); given: ${Object.keys(inputs).join(', ') || 'none'}`,
        'bad-input',
      );
    }
    if (t.dtype !== s.dtype) {
      throw new EdgecnnError(`input '${s.name}' must be ${s.dtype}, got ${t.dtype}`, 'bad-input');
    }
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new EdgecnnError(
        `input '${s.name}' must have shape ${s.shape.join('x')}, got ${t.shape.join('x') || 'a scalar'}`,
        'bad-input',
      );
    }
    if (t.data.length !== sizeOf(t.shape)) {
      throw new EdgecnnError(
        `input '${s.name}' has ${t.data.length} elements but shape ${t.shape.join('x')} needs ${sizeOf(t.shape)}`,
        'bad-input',
      );
    }
  }
  for (const name of Object.keys(inputs)) {
    if (!specs.some((s) => s.name === name)) {
      throw new EdgecnnError(
        `the model has no input named '${name}' (inputs: ${specs.map((s) => s.name).join(', ')})`,
        'bad-input',
      );
    }
  }
}

async function wasmSession(model: Model, options: SessionOptions): Promise<Session> {
  const relaxed = resolveRelaxedSimd(options.relaxedSimd ?? 'auto');
  const compileOptions: CompileOptions = {
    relaxedSimd: relaxed,
    relaxedDotB: relaxed ? detectFeatures().relaxedDotB : 'none',
    hasReference: (domain, opType) => lookupOp(domain, opType) !== undefined,
  };
  if (options.inputShapes) compileOptions.inputShapes = options.inputShapes;
  if (options.optimize !== false) {
    const inputShapes = options.inputShapes;
    compileOptions.optimize = (m) => optimize(m, inputShapes ? { inputShapes } : {}).model;
  }
  if (options.select) compileOptions.select = options.select;
  // QOperator models (QLinearConv, com.microsoft QLinearAdd, ...) compile through their QDQ form.
  const source = qoperatorToQdq(model).model;
  let tuning: TuneReport | undefined;
  let compiled: CompiledModel | undefined;
  if (options.tune) {
    const t = options.tune === true ? {} : options.tune;
    const db = t.db ?? (await openTuningDb());
    const tuned = await tuneCompile((choose) => compileModel(source, { ...compileOptions, choose }), {
      instantiate: (c) => instantiate(c, lookupOp),
      ...t,
      db,
    });
    tuning = tuned.report;
    compiled = tuned.compiled;
  } else if (options.tuning) {
    compileOptions.choose = databaseChooser(options.tuning, (await deviceFingerprint()).id);
  }
  compiled ??= compileModel(source, compileOptions);
  const threads = await resolveThreads(options.threads ?? 1);
  const pool = threads > 1 ? createThreadPool(compiled, { threads }) : undefined;
  const exec = await instantiate(compiled, lookupOp, pool);
  const specs: InputSpec[] = compiled.inputs.map((p) => ({ name: p.name, dtype: p.dtype, shape: p.shape }));
  return {
    backend: 'wasm',
    inputNames: specs.map((s) => s.name),
    outputNames: compiled.outputs.map((o) => o.name),
    inputShapes: Object.fromEntries(specs.map((s) => [s.name, s.shape])),
    fallbackNodes: compiled.fallbackNodes,
    arena: compiled.arena,
    steps: compiled.steps,
    compiled,
    ...(tuning ? { tuning } : {}),
    threads,
    ...(pool ? { threadStats: () => pool.stats() } : {}),
    close: async () => pool?.close(),
    async run(inputs) {
      validateInputs(specs, inputs);
      return exec.run(inputs);
    },
    async runProfiled(inputs) {
      validateInputs(specs, inputs);
      return exec.runProfiled(inputs);
    },
  };
}

function referenceSession(model: Model, options: SessionOptions): Session {
  const g = model.graph;
  const specs: InputSpec[] = runtimeInputs(g).map((vi) => {
    const given = options.inputShapes?.[vi.name];
    const declared = g.inputs.find((i) => i.name === vi.name)?.shape ?? [];
    const shape = given ? [...given] : declared.map((d) => (typeof d === 'number' ? d : -1));
    return { name: vi.name, dtype: vi.dtype ?? 'float32', shape };
  });
  const run = (inputs: Record<string, Tensor>, onNode?: Parameters<typeof runReference>[2]): Record<string, Tensor> => {
    // Symbolic dims (-1) accept any size; concrete ones must match.
    validateInputs(
      specs.map((s) => ({ ...s, shape: s.shape.map((d, i) => (d < 0 ? (inputs[s.name]?.shape[i] ?? d) : d)) })),
      inputs,
    );
    return runReference(model, inputs, onNode);
  };
  return {
    backend: 'reference',
    inputNames: specs.map((s) => s.name),
    outputNames: g.outputs.map((o) => o.name),
    inputShapes: Object.fromEntries(specs.map((s) => [s.name, s.shape])),
    fallbackNodes: g.nodes.map((n) => n.name),
    arena: { offsetBytes: 0, arenaBytes: 0, lowerBoundBytes: 0 },
    steps: [],
    threads: 1,
    close: async () => {},
    async run(inputs) {
      return run(inputs);
    },
    async runProfiled(inputs) {
      const steps: StepTiming[] = [];
      let t0 = performance.now();
      const outputs = run(inputs, {
        onNode: (node, _outs, index) => {
          const t1 = performance.now();
          steps.push({
            index,
            kernelId: `ref-${node.opType}`,
            nodeName: node.name,
            opType: node.opType,
            timeMs: t1 - t0,
          });
          t0 = t1;
        },
      });
      return { outputs, steps };
    },
  };
}

/** The op table, then the optimizer's fused edgecnn ops (not registered in the op table yet). */
function lookupOp(domain: string, opType: string): OpDef | undefined {
  return getOp(domain, opType) ?? FUSED_OPS.find((d) => d.domain === domain && d.opType === opType);
}

/** Whether to compile relaxed-SIMD variants, from the start-up probe (features.ts). */
function resolveRelaxedSimd(mode: 'auto' | 'on' | 'off'): boolean {
  if (mode === 'off') return false;
  const has = detectFeatures().relaxedSimd;
  if (mode === 'on' && !has) {
    throw new EdgecnnError(
      `relaxedSimd: 'on' but this engine lacks relaxed SIMD (Node 20 needs ${RELAXED_SIMD_NODE_FLAG})`,
      'bad-argument',
    );
  }
  return has;
}
