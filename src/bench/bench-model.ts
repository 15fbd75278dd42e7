/**
 * The library entry behind `edgecnn bench` and the repository suite: from a model path and the user's choice
 * of backends, peers and thread counts to a full BenchReport. The configuration list is the cross product
 * (edgecnn backends + peers) x threads, in that order, which is also the order of the round-robin.
 */
import { existsSync, readFileSync } from 'node:fs';
import { EdgecnnError } from '../ir/errors.js';
import { readModel } from '../onnx/index.js';
import { runtimeInputs } from '../ops/reference-executor.js';
import { type BenchReport, runBench } from './harness.js';
import { type DeclaredInput, parseShapes, planInputs } from './inputs.js';
import type { Progress } from './progress.js';
import { type ConfigSpec, PEER_KINDS, type PeerKind, type TargetKind } from './targets.js';

export const BACKEND_NAMES = ['wasm', 'wasm-tuned', 'reference'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BenchModelOptions {
  backends?: readonly string[];
  peers?: readonly string[];
  threads?: readonly number[];
  runs?: number;
  minTimeS?: number;
  warmup?: number;
  underLoad?: number;
  inputFile?: string;
  /** `--input-shape` texts: `1x3x640x640` or `name=1x3x640x640` for inputs with symbolic dims. */
  shapes?: readonly string[];
  profileRuns?: number;
  progress?: Progress;
  /** Start configuration processes with relaxed SIMD enabled (a V8 flag on Node < 22). */
  relaxedSimd?: boolean;
  /**
   * Tune the model in this process first (into `dbPath`, default the user's tuning database) and add the
   * `wasm-tuned` backend after `wasm`, so the cost model's and the tuned kernels are measured side by side.
   */
  tune?: { budgetMs?: number; dbPath?: string; force?: boolean };
}

/** The configurations for backends x peers x threads, validating every name. */
export function buildConfigs(
  backends: readonly string[],
  peers: readonly string[],
  threads: readonly number[],
): ConfigSpec[] {
  const targets: TargetKind[] = [];
  for (const b of backends) {
    if (!(BACKEND_NAMES as readonly string[]).includes(b)) {
      throw new EdgecnnError(`unknown backend '${b}' (expected ${BACKEND_NAMES.join(', ')})`, 'bad-argument');
    }
    targets.push(`edgecnn-${b as BackendName}`);
  }
  for (const p of peers) {
    if (p === 'none') continue;
    if (!(PEER_KINDS as readonly string[]).includes(p)) {
      throw new EdgecnnError(`unknown peer '${p}' (expected ${PEER_KINDS.join(', ')} or none)`, 'bad-argument');
    }
    targets.push(p as PeerKind);
  }
  for (const t of threads) {
    if (!Number.isInteger(t) || t < 1 || t > 256) {
      throw new EdgecnnError(`--threads needs whole numbers from 1 to 256, got ${t}`, 'bad-argument');
    }
  }
  if (targets.length === 0) throw new EdgecnnError('nothing to measure: no backend and no peer', 'bad-argument');
  return threads.flatMap((threadCount) => targets.map((target) => ({ target, threads: threadCount })));
}

/** The runtime inputs a model declares (graph inputs that are not initializers). */
export function declaredInputs(modelBytes: Uint8Array, where: string): DeclaredInput[] {
  let model;
  try {
    model = readModel(modelBytes);
  } catch (e) {
    if (e instanceof EdgecnnError) throw new EdgecnnError(`${where}: ${e.message}`, e.code);
    throw e;
  }
  return runtimeInputs(model.graph).map((i) => ({
    name: i.name,
    dtype: i.dtype,
    shape: model.graph.inputs.find((x) => x.name === i.name)?.shape,
  }));
}

/** Benchmark one model file. */
export async function benchModel(modelPath: string, opts: BenchModelOptions = {}): Promise<BenchReport> {
  if (!existsSync(modelPath)) throw new EdgecnnError(`model file '${modelPath}' does not exist`, 'missing-file');
  let backends = opts.backends ?? ['wasm'];
  if (opts.tune && !backends.includes('wasm-tuned')) {
    const at = backends.indexOf('wasm');
    backends =
      at < 0 ? [...backends, 'wasm-tuned'] : [...backends.slice(0, at + 1), 'wasm-tuned', ...backends.slice(at + 1)];
  }
  const configs = buildConfigs(backends, opts.peers ?? ['ort-web', 'ort-node'], opts.threads ?? [1]);
  const bytes = new Uint8Array(readFileSync(modelPath));
  const declared = declaredInputs(bytes, modelPath);
  const shapes = parseShapes(
    opts.shapes ?? [],
    declared.map((d) => d.name),
  );
  const inputs = planInputs(declared, { modelPath, inputFile: opts.inputFile, shapes });
  if (opts.runs !== undefined && (!Number.isInteger(opts.runs) || opts.runs < 1)) {
    throw new EdgecnnError(`--runs needs a positive whole number, got ${opts.runs}`, 'bad-argument');
  }
  if (opts.minTimeS !== undefined && !(opts.minTimeS > 0)) {
    throw new EdgecnnError(`--min-time needs a positive number of seconds, got ${opts.minTimeS}`, 'bad-argument');
  }
  if (opts.tune) {
    const { openTuningDb } = await import('../tune/db.js');
    const { createSession } = await import('../runtime/session.js');
    const db = await openTuningDb(opts.tune.dbPath);
    opts.progress?.note(`tuning kernels on this machine (database ${db.location})`);
    const s = await createSession(readModel(bytes), {
      inputShapes: Object.fromEntries(inputs.map((i) => [i.name, i.shape])),
      tune: {
        db,
        ...(opts.tune.budgetMs !== undefined ? { budgetMs: opts.tune.budgetMs } : {}),
        ...(opts.tune.force ? { force: true } : {}),
      },
    });
    const r = s.tuning!;
    opts.progress?.note(
      `tuned ${r.specs.total} kernel specs (${r.specs.measured} measured, ${r.specs.fromDb} from the database, ` +
        `${r.specs.skipped} over budget); ${r.steps.filter((x) => x.tunedId !== x.costModelId).length} of ` +
        `${r.steps.length} steps changed` +
        (r.wholeModel
          ? `; whole model ${r.wholeModel.costModelMs.toFixed(2)} -> ${r.wholeModel.tunedMs.toFixed(2)} ms` +
            (r.wholeModel.reverted ? ' (not faster: reverted to the cost model)' : '')
          : ''),
    );
    await s.close();
    // The configuration processes inherit the environment: edgecnn-wasm-tuned reads this database.
    process.env['EDGECNN_TUNING_DB'] = db.location;
  }
  return runBench({
    modelPath,
    configs,
    inputs,
    runs: opts.runs,
    minTimeS: opts.minTimeS,
    warmup: opts.warmup,
    underLoad: opts.underLoad,
    profileRuns: opts.profileRuns,
    progress: opts.progress,
    execArgv: opts.relaxedSimd ? ['--experimental-wasm-relaxed-simd'] : [],
  });
}
