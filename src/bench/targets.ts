/**
 * Benchmark targets: one adapter per runtime (edgecnn backends, onnxruntime-web, onnxruntime-node) behind the
 * same small interface, so the harness never knows whose code it is timing. A configuration is a target plus
 * a thread count; its id (`ort-web/t1`, `edgecnn-wasm/t2`) is the key in reports and baselines. Peers are
 * imported lazily: a peer that is not installed makes `load` throw a `PeerUnavailable` that callers report
 * and skip.
 */
import { EdgecnnError } from '../ir/errors.js';
import type { InputTensor } from './inputs.js';

/** `edgecnn-wasm-tuned`: the wasm backend compiled with the tuning database's choices (`EDGECNN_TUNING_DB`). */
export const TARGET_KINDS = ['edgecnn-wasm', 'edgecnn-wasm-tuned', 'edgecnn-reference', 'ort-web', 'ort-node'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** The peers `--vs` accepts. */
export const PEER_KINDS = ['ort-web', 'ort-node'] as const;
export type PeerKind = (typeof PEER_KINDS)[number];

export interface ConfigSpec {
  target: TargetKind;
  threads: number;
  /** Another model file than the benchmark's (e.g. its int8 QDQ version), named `label` in the id. */
  model?: { path: string; label: string };
}

/** The id of a configuration, as used in reports and baselines. */
export function configId(c: ConfigSpec): string {
  return `${c.target}/t${c.threads}${c.model ? `/${c.model.label}` : ''}`;
}

/** One output of a run, flattened to numbers we can compare across runtimes. */
export interface OutputValue {
  name: string;
  shape: number[];
  data: ArrayLike<number>;
}

/** One timed step of a profiled run (see src/profile/). */
export interface ProfiledStep {
  nodeName: string;
  opType: string;
  kernelId: string;
  timeMs: number;
  macs: number;
  bytesMoved: number;
  fused: boolean;
  fallback: boolean;
}

/** A model loaded by a target, ready to run. */
export interface LoadedTarget {
  /** One inference on the inputs given at load time. */
  run(): Promise<OutputValue[]>;
  /** One inference with per-step timing; absent for peers, which do not expose per-node spans here. */
  runProfiled?(): Promise<ProfiledStep[]>;
  /** Activation arena size when the runtime has a static memory plan. */
  arenaBytes?: number;
  dispose(): Promise<void>;
}

export interface BenchTarget {
  kind: TargetKind;
  load(modelBytes: Uint8Array, inputs: readonly InputTensor[], threads: number): Promise<LoadedTarget>;
}

/** Thrown by `load` when the target's runtime is not installed or not built yet; callers skip the target. */
export class PeerUnavailable extends Error {
  constructor(
    readonly target: TargetKind,
    reason: string,
  ) {
    super(`${target} is not available: ${reason}`);
    this.name = 'PeerUnavailable';
  }
}

function isModuleMissing(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/** Import a module by specifier, turning "not installed" into PeerUnavailable. */
async function importOptional(target: TargetKind, specifier: string): Promise<unknown> {
  try {
    return await import(specifier);
  } catch (e) {
    if (isModuleMissing(e)) throw new PeerUnavailable(target, `module '${specifier}' is not installed`);
    throw e;
  }
}

function toNumbers(data: unknown): ArrayLike<number> {
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  if (ArrayBuffer.isView(data)) return data as unknown as ArrayLike<number>;
  if (Array.isArray(data)) return data.map(Number);
  return [];
}

/** The subset of onnxruntime's common API (web and node share it) the adapters use. */
interface OrtTensor {
  dims: readonly number[];
  data: unknown;
}
interface OrtSession {
  outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}
interface OrtModule {
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => OrtTensor;
  InferenceSession: { create(bytes: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  env: { wasm?: { numThreads?: number; simd?: boolean }; logLevel?: string };
}

const ORT_TYPE: Record<string, string> = {
  float32: 'float32',
  int64: 'int64',
  int32: 'int32',
  uint8: 'uint8',
  int8: 'int8',
  bool: 'bool',
  float16: 'float16',
  float64: 'float64',
};

function ortFeeds(ort: OrtModule, inputs: readonly InputTensor[], target: TargetKind): Record<string, OrtTensor> {
  const feeds: Record<string, OrtTensor> = {};
  for (const i of inputs) {
    const type = ORT_TYPE[i.dtype];
    if (!type) throw new EdgecnnError(`${target}: input '${i.name}' has dtype ${i.dtype}, not supported`, 'bad-input');
    feeds[i.name] = new ort.Tensor(type, i.data, i.shape);
  }
  return feeds;
}

function ortTarget(kind: 'ort-web' | 'ort-node'): BenchTarget {
  return {
    kind,
    async load(modelBytes, inputs, threads) {
      const ort = (await importOptional(
        kind,
        kind === 'ort-web' ? 'onnxruntime-web' : 'onnxruntime-node',
      )) as OrtModule;
      const options: Record<string, unknown> = { graphOptimizationLevel: 'all' };
      if (kind === 'ort-web') {
        // numThreads is read when the wasm module initialises, i.e. once per process: each configuration
        // therefore runs in its own host process (see host.ts).
        if (ort.env.wasm) ort.env.wasm.numThreads = threads;
        options.executionProviders = ['wasm'];
      } else {
        options.intraOpNumThreads = threads;
        options.interOpNumThreads = 1;
        options.executionMode = 'sequential';
      }
      const session = await ort.InferenceSession.create(modelBytes, options);
      const feeds = ortFeeds(ort, inputs, kind);
      return {
        async run() {
          const out = await session.run(feeds);
          return session.outputNames.map((name) => ({
            name,
            shape: [...out[name]!.dims],
            data: toNumbers(out[name]!.data),
          }));
        },
        async dispose() {
          await session.release?.();
        },
      };
    },
  };
}

function edgecnnTarget(kind: 'edgecnn-wasm' | 'edgecnn-wasm-tuned' | 'edgecnn-reference'): BenchTarget {
  return {
    kind,
    async load(modelBytes, inputs, threads) {
      // Imported lazily so that peer-only hosts never load the compiler.
      const { loadEdgecnn } = await import('./edgecnn-runtime.js');
      if (kind === 'edgecnn-wasm-tuned') {
        // Only consults the database the parent filled (bench --tune): loading measures nothing.
        const { openTuningDb } = await import('../tune/db.js');
        const tuning = await openTuningDb(process.env['EDGECNN_TUNING_DB'] || undefined);
        return loadEdgecnn(modelBytes, inputs, 'wasm', threads, { tuning });
      }
      return loadEdgecnn(modelBytes, inputs, kind === 'edgecnn-wasm' ? 'wasm' : 'reference', threads);
    },
  };
}

/** The adapter for a target kind. */
export function getTarget(kind: TargetKind): BenchTarget {
  switch (kind) {
    case 'ort-web':
    case 'ort-node':
      return ortTarget(kind);
    case 'edgecnn-wasm':
    case 'edgecnn-wasm-tuned':
    case 'edgecnn-reference':
      return edgecnnTarget(kind);
  }
}
