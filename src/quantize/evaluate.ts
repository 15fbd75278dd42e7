/**
 * Measuring a (quantized) model: runners are async functions from the single input to the single output, made
 * per model by a factory, so that the same measurement runs on the reference executor (default), the wasm
 * session or onnxruntime (the CLI wires those in). Top-1 over a labelled image set, and output agreement
 * (cosine similarity, SQNR, max |diff|) between two output tensors.
 */
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { runReference, runtimeInputs } from '../ops/reference-executor.js';

/** Runs one model: its single input -> its first output. */
export type Runner = (input: Tensor) => Promise<Tensor>;
/** Makes a runner for a model (compiling it when the engine compiles). */
export type RunnerFactory = (model: Model) => Promise<Runner>;

/** The reference executor as a runner factory. */
export const referenceRunner: RunnerFactory = async (model) => {
  const inputs = runtimeInputs(model.graph);
  if (inputs.length !== 1)
    throw new EdgecnnError(`expected a model with one input, this one has ${inputs.length}`, 'bad-model');
  const name = inputs[0]!.name;
  const out = model.graph.outputs[0]!.name;
  return async (x) => runReference(model, { [name]: x })[out]!;
};

/** A labelled image set in batches: `batch(start, count)` returns [count, ...] inputs. */
export interface LabelledSet {
  count: number;
  labels: Uint8Array;
  batch(start: number, count: number): Tensor;
}

export interface Top1 {
  correct: number;
  total: number;
  /** Percent. */
  top1: number;
}

/**
 * Top-1 accuracy of `run` on the first `limit` items. `batch` is the batch the model accepts (1 for a fixed
 * batch-1 input; more when its batch dimension is symbolic).
 */
export async function evaluateTop1(
  run: Runner,
  data: LabelledSet,
  options: { limit?: number; batch?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<Top1> {
  const total = Math.min(options.limit ?? data.count, data.count);
  const bs = Math.max(1, options.batch ?? 1);
  let correct = 0;
  for (let s = 0; s < total; s += bs) {
    const n = Math.min(bs, total - s);
    const y = await run(data.batch(s, n));
    const classes = y.data.length / n;
    if (!Number.isInteger(classes) || classes < 1)
      throw new EdgecnnError(`model output of shape ${y.shape.join('x')} is not [${n}, classes]`, 'bad-model');
    const v = y.data as Float32Array;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (v[i * classes + c]! > v[i * classes + best]!) best = c;
      if (best === data.labels[s + i]) correct++;
    }
    options.onProgress?.(s + n, total);
  }
  return { correct, total, top1: total === 0 ? 0 : (100 * correct) / total };
}

export interface Agreement {
  cosine: number;
  /** 10 log10(|a|^2 / |a - b|^2), Infinity when equal. */
  sqnrDb: number;
  maxAbsDiff: number;
}

/** How closely `b` matches the reference `a`. */
export function agreement(a: Tensor, b: Tensor): Agreement {
  if (a.data.length !== b.data.length) {
    throw new EdgecnnError(
      `cannot compare outputs of shapes ${a.shape.join('x')} and ${b.shape.join('x')}`,
      'bad-input',
    );
  }
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let dot = 0;
  let xx = 0;
  let yy = 0;
  let err = 0;
  let maxAbs = 0;
  for (let i = 0; i < x.length; i++) {
    dot += x[i]! * y[i]!;
    xx += x[i]! * x[i]!;
    yy += y[i]! * y[i]!;
    const d = x[i]! - y[i]!;
    err += d * d;
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  const cosine = xx === 0 && yy === 0 ? 1 : dot / Math.sqrt(xx * yy || 1e-300);
  return { cosine, sqnrDb: err === 0 ? Infinity : 10 * Math.log10(xx / err), maxAbsDiff: maxAbs };
}
