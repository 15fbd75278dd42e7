/**
 * The runtime-only browser bundle (dist/web/edgecnn-runtime.bundle.js): load a precompiled artifact
 * (artifact.ts) and run it, on threads when the page is cross-origin isolated. It imports no compiler,
 * optimizer or ONNX code; reference fallbacks use the op table. Inputs are checked by name, dtype and shape.
 */
import { EdgecnnError } from '../ir/errors.js';
import { type Tensor, sizeOf } from '../ir/tensor.js';
import type { CompiledModel } from '../runtime/compiled-model.js';
import { type StepTiming, instantiate } from '../runtime/executor.js';
import { detectFeatures } from '../runtime/features.js';
import {
  type ThreadPoolStats,
  createThreadPool,
  resolveThreads,
  setSingleThreadNotice,
  threadsUnavailableReason,
} from '../runtime/threads/thread-pool.js';
import { decodeArtifact } from './artifact.js';

export { decodeArtifact, detectFeatures, resolveThreads, setSingleThreadNotice, threadsUnavailableReason };
export type { CompiledModel, StepTiming, Tensor, ThreadPoolStats };

/** A model ready to run from an artifact. */
export interface RuntimeSession {
  readonly compiled: CompiledModel;
  readonly threads: number;
  readonly inputNames: string[];
  readonly outputNames: string[];
  run(inputs: Record<string, Tensor>): Record<string, Tensor>;
  runProfiled(inputs: Record<string, Tensor>): { outputs: Record<string, Tensor>; steps: StepTiming[] };
  threadStats(): ThreadPoolStats | undefined;
  close(): Promise<void>;
}

/** Instantiate an artifact (bytes or decoded) with `threads` (default 'auto': min(cores, 4) when isolated). */
export async function loadArtifact(
  artifact: Uint8Array | CompiledModel,
  options: { threads?: number | 'auto' } = {},
): Promise<RuntimeSession> {
  const compiled = artifact instanceof Uint8Array ? decodeArtifact(artifact) : artifact;
  if (compiled.usesRelaxedSimd && !detectFeatures().relaxedSimd) {
    throw new EdgecnnError('this artifact needs relaxed SIMD, which this engine lacks', 'bad-argument');
  }
  const dotB = detectFeatures().relaxedDotB;
  if (compiled.relaxedDotB && compiled.relaxedDotB !== dotB) {
    throw new EdgecnnError(
      `this artifact's int8 kernels need the relaxed int8 dot product reading b as ${compiled.relaxedDotB}; this engine's ` +
        (dotB === 'none' ? 'is not exact' : `reads it as ${dotB}`) +
        ' (compile the model on this device instead)',
      'bad-argument',
    );
  }
  const threads = await resolveThreads(options.threads ?? 'auto');
  const pool = threads > 1 ? createThreadPool(compiled, { threads }) : undefined;
  const exec = await instantiate(compiled, undefined, pool);
  const check = (inputs: Record<string, Tensor>): void => {
    for (const p of compiled.inputs) {
      const t = inputs[p.name];
      if (!t)
        throw new EdgecnnError(`missing input '${p.name}' (expected ${p.dtype} ${p.shape.join('x')})`, 'bad-input');
      if (t.dtype !== p.dtype || t.shape.join('x') !== p.shape.join('x') || t.data.length !== sizeOf(p.shape)) {
        throw new EdgecnnError(
          `input '${p.name}' must be ${p.dtype} ${p.shape.join('x')}, got ${t.dtype} ${t.shape.join('x')}`,
          'bad-input',
        );
      }
    }
  };
  return {
    compiled,
    threads,
    inputNames: compiled.inputs.map((p) => p.name),
    outputNames: compiled.outputs.map((o) => o.name),
    run(inputs) {
      check(inputs);
      return exec.run(inputs);
    },
    runProfiled(inputs) {
      check(inputs);
      return exec.runProfiled(inputs);
    },
    threadStats: () => pool?.stats(),
    close: async () => pool?.close(),
  };
}
