/**
 * Calibration: run the float model on each sample with the reference executor and feed every float tensor
 * named in `tensors` to its observer (the executor's onNode hook sees each node's outputs; graph inputs are
 * observed directly). Samples run one at a time so that memory stays one sample's activations.
 */
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { runReference, runtimeInputs } from '../ops/reference-executor.js';
import { TensorObserver } from './observers.js';

/** Progress callback: `done` of `total` samples. */
export type Progress = (done: number, total: number) => void;

/**
 * Runs a model and returns the named intermediate tensors for one input (an alternative to the reference
 * executor, e.g. onnxruntime with the tensors made graph outputs). Made once per model.
 */
export type TensorCollector = (
  model: Model,
  names: readonly string[],
) => Promise<(x: Tensor) => Promise<Map<string, Tensor>>>;

export interface CalibrateOptions {
  /** Tensors whose per-channel means are needed (bias correction). */
  channelMeans?: ReadonlySet<string>;
  onProgress?: Progress;
  /** Collect tensors with this instead of the reference executor. */
  collector?: TensorCollector;
}

/** Observe `tensors` over the samples (each sample: one tensor for the model's single input). */
export async function calibrate(
  model: Model,
  samples: readonly Tensor[],
  tensors: ReadonlySet<string>,
  options: CalibrateOptions = {},
): Promise<Map<string, TensorObserver>> {
  const inputs = runtimeInputs(model.graph);
  if (inputs.length !== 1) {
    throw new EdgecnnError(`calibration needs a model with one input, this one has ${inputs.length}`, 'bad-model');
  }
  if (samples.length === 0) throw new EdgecnnError('calibration needs at least one sample', 'bad-input');
  const inputName = inputs[0]!.name;
  const observers = new Map<string, TensorObserver>();
  for (const t of tensors) observers.set(t, new TensorObserver(options.channelMeans?.has(t) ?? false));
  if (options.collector) {
    const names = [...tensors].filter((t) => t !== inputName);
    const collect = await options.collector(model, names);
    for (const [i, x] of samples.entries()) {
      observers.get(inputName)?.observe(x);
      const got = await collect(x);
      for (const n of names) {
        const t = got.get(n);
        if (t === undefined) throw new EdgecnnError(`calibration: the collector returned no tensor '${n}'`, 'internal');
        if (t.dtype === 'float32') observers.get(n)!.observe(t);
      }
      options.onProgress?.(i + 1, samples.length);
    }
    return observers;
  }
  samples.forEach((x, i) => {
    observers.get(inputName)?.observe(x);
    runReference(
      model,
      { [inputName]: x },
      {
        onNode: (node, outs) => {
          node.outputs.forEach((name, k) => {
            const o = observers.get(name);
            const t = outs[k];
            if (o && t && t.dtype === 'float32') o.observe(t);
          });
        },
      },
    );
    options.onProgress?.(i + 1, samples.length);
  });
  return observers;
}

/** A one-line text progress bar on stderr (a TTY gets an in-place bar, a pipe gets the final line only). */
export function progressBar(label: string): Progress {
  const start = Date.now();
  return (done, total) => {
    const width = 30;
    const fill = Math.round((done / total) * width);
    const line = `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total} ${((Date.now() - start) / 1000).toFixed(1)} s`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}${done === total ? '\n' : ''}`);
    else if (done === total) process.stderr.write(line + '\n');
  };
}
