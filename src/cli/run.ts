/**
 * `edgecnn run <model> [--input FILE] [--backend wasm|reference] [--top K] [--save FILE.npy|.f32]`: run once and
 * summarise each output (top-k classes for a classifier's [1, K] logits; min/max/mean otherwise).
 */
import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { EdgecnnError } from '../ir/errors.js';
import { type Tensor, toNumbers } from '../ir/tensor.js';
import { writeNpy } from '../io/npy.js';
import { loadModel } from '../onnx/index.js';
import { type Backend, BACKENDS, createSession } from '../runtime/session.js';
import { flagBool, flagList, flagNumber, flagString } from './args.js';
import type { Command } from './command.js';
import { TUNE_FLAGS, tuneOptionsFrom } from './tune.js';
import {
  INPUT_FLAGS,
  THREADS_FLAG,
  inputFlagsFrom,
  threadsFrom,
  makeInputs,
  resolveInputShapes,
} from './model-inputs.js';

/** Indices and values of the k largest entries. */
export function topK(values: ArrayLike<number>, k: number): { index: number; value: number }[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[b]! - values[a]!);
  return idx.slice(0, k).map((i) => ({ index: i, value: values[i]! }));
}

export function describeOutput(name: string, t: Tensor, k: number): string {
  const v = toNumbers(t);
  const finite = v.filter(Number.isFinite);
  const nonFinite = v.length - finite.length;
  const lines = [`${name}: ${t.dtype} ${t.shape.join('x')}`];
  const classes = t.shape.length === 2 && t.shape[0] === 1 && t.shape[1]! >= 2 ? t.shape[1]! : 0;
  if (classes > 0) {
    const max = Math.max(...finite);
    const exps = v.map((x) => Math.exp(x - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    for (const { index, value } of topK(v, Math.min(k, classes))) {
      lines.push(
        `  class ${String(index).padStart(5)}  score ${value.toFixed(5).padStart(10)}  softmax ${(exps[index]! / sum).toFixed(4)}`,
      );
    }
  } else {
    const mean = finite.reduce((a, b) => a + b, 0) / Math.max(1, finite.length);
    lines.push(
      `  min ${Math.min(...finite).toPrecision(5)}  max ${Math.max(...finite).toPrecision(5)}  mean ${mean.toPrecision(5)}`,
    );
  }
  if (nonFinite > 0) lines.push(`  WARNING: ${nonFinite} non-finite values (NaN or Inf)`);
  return lines.join('\n');
}

export const command: Command = {
  name: 'run',
  synopsis: '<model.onnx> [--input FILE] [--backend wasm|reference] [--top K] [--save FILE]',
  summary: 'Run a model once on an input file (or synthetic data) and summarise the outputs',
  flags: {
    backend: { type: 'string', description: "'wasm' (default) or 'reference'" },
    top: { type: 'number', description: 'how many classes to list for a classifier (5)' },
    save: { type: 'string', multiple: true, description: 'save outputs in order (.npy or raw .f32)' },
    json: { type: 'boolean', description: 'print JSON (output shapes, top-k, time)' },
    threads: THREADS_FLAG,
    ...TUNE_FLAGS,
    ...INPUT_FLAGS,
  },
  async run(positionals, flags) {
    const path = positionals[0];
    if (!path) throw new EdgecnnError('run needs a model file', 'bad-argument');
    const backend = (flagString(flags, 'backend') ?? 'wasm') as Backend;
    if (!BACKENDS.includes(backend)) throw new EdgecnnError(`unknown backend '${backend}'`, 'bad-argument');
    const model = await loadModel(path);
    const iflags = inputFlagsFrom(model, flags);
    const inputs = makeInputs(model, iflags);
    const t0 = performance.now();
    const session = await createSession(model, {
      backend,
      inputShapes: resolveInputShapes(model, iflags.shapes),
      threads: threadsFrom(flags),
      ...(backend === 'wasm' ? await tuneOptionsFrom(flags) : {}),
    });
    const t1 = performance.now();
    const outputs = await session.run(inputs);
    const t2 = performance.now();
    const k = flagNumber(flags, 'top') ?? 5;
    const saves = flagList(flags, 'save');
    session.outputNames.forEach((name, i) => {
      const file = saves[i];
      const t = outputs[name]!;
      if (!file) return;
      if (extname(file) === '.npy') writeFileSync(file, writeNpy(t));
      else if (t.data instanceof Float32Array)
        writeFileSync(file, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      else throw new EdgecnnError(`output '${name}' is ${t.dtype}; save it as .npy`, 'bad-argument');
    });
    if (flagBool(flags, 'json')) {
      console.log(
        JSON.stringify({
          model: path,
          backend,
          loadMs: t1 - t0,
          runMs: t2 - t1,
          outputs: session.outputNames.map((n) => ({
            name: n,
            shape: outputs[n]!.shape,
            top: topK(toNumbers(outputs[n]!), k),
          })),
        }),
      );
      return 0;
    }
    console.log(
      `${path}: compiled in ${(t1 - t0).toFixed(1)} ms, first run ${(t2 - t1).toFixed(1)} ms (${backend}, ${session.threads} thread${session.threads > 1 ? 's' : ''})`,
    );
    for (const name of session.outputNames) console.log(describeOutput(name, outputs[name]!, k));
    await session.close();
    return 0;
  },
};
