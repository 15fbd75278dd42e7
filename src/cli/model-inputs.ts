/**
 * Shared by run, check, demo and bench: parse `--input-shape name=1x3x224x224`, read `--input FILE` for the
 * model's first input, or make a deterministic synthetic input (uniform in [-1, 1) from a fixed seed).
 */
import type { DType } from '../ir/dtype.js';
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { seededRandom } from '../ir/builder.js';
import { type Tensor, makeTensor, sizeOf } from '../ir/tensor.js';
import { readInputFile } from '../io/input-file.js';
import { runtimeInputs } from '../ops/reference-executor.js';

/** Parse `name=AxBxC` (or `AxBxC` for the first input) flags into a shape map. */
export function parseInputShapes(model: Model, specs: readonly string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  const first = runtimeInputs(model.graph)[0]?.name;
  for (const s of specs) {
    const eq = s.lastIndexOf('=');
    const name = eq >= 0 ? s.slice(0, eq) : first;
    const dims = (eq >= 0 ? s.slice(eq + 1) : s).split(/[x,]/).map(Number);
    if (!name || dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new EdgecnnError(`--input-shape '${s}' should look like name=1x3x224x224`, 'bad-argument');
    }
    if (!model.graph.inputs.some((i) => i.name === name)) {
      throw new EdgecnnError(`--input-shape names '${name}', which is not an input of the model`, 'bad-argument');
    }
    out[name] = dims;
  }
  return out;
}

/** Concrete shape for each runtime input: given shapes first, then declared dims (symbolic ones need a shape). */
export function resolveInputShapes(model: Model, given: Record<string, number[]>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const vi of runtimeInputs(model.graph)) {
    const g = given[vi.name];
    if (g) {
      out[vi.name] = g;
      continue;
    }
    const declared = model.graph.inputs.find((i) => i.name === vi.name)?.shape;
    if (!declared)
      throw new EdgecnnError(`input '${vi.name}' has no declared shape; pass --input-shape`, 'bad-argument');
    const unknown = declared.filter((d) => typeof d !== 'number');
    if (unknown.length > 0) {
      // A symbolic batch dim defaults to 1; other symbolic dims need the user's choice.
      const dims = declared.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : -1));
      if (dims.some((d) => d < 0)) {
        throw new EdgecnnError(
          `input '${vi.name}' has symbolic dims [${declared.map((d) => d ?? '?').join(', ')}]; pass --input-shape ${vi.name}=${dims.map((d) => (d < 0 ? 'N' : d)).join('x')}`,
          'bad-argument',
        );
      }
      out[vi.name] = dims;
    } else {
      out[vi.name] = declared as number[];
    }
  }
  return out;
}

/** Deterministic pseudo-random tensor, uniform in [-1, 1): the same values `edgecnn bench` feeds for a seed. */
export function syntheticTensor(dtype: DType, shape: readonly number[], seed = 123): Tensor {
  const n = sizeOf(shape);
  const next = seededRandom(seed);
  if (dtype === 'float32') {
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = next() * 2 - 1;
    return makeTensor('float32', shape, d);
  }
  if (dtype === 'int64') {
    const d = new BigInt64Array(n);
    for (let i = 0; i < n; i++) d[i] = BigInt(Math.floor(next() * 10));
    return makeTensor('int64', shape, d);
  }
  throw new EdgecnnError(`cannot synthesise an input of dtype ${dtype}; pass --input`, 'bad-argument');
}

export interface InputFlags {
  files: string[];
  shapes: Record<string, number[]>;
  mean?: number[];
  std?: number[];
}

/** Inputs for one run: files for the first inputs in order, synthetic data for the rest. */
export function makeInputs(model: Model, flags: InputFlags): Record<string, Tensor> {
  const shapes = resolveInputShapes(model, flags.shapes);
  const inputs: Record<string, Tensor> = {};
  runtimeInputs(model.graph).forEach((vi, k) => {
    const shape = shapes[vi.name]!;
    const file = flags.files[k];
    const dtype = vi.dtype ?? 'float32';
    if (file) {
      const t = readInputFile(file, { shape, mean: flags.mean, std: flags.std });
      if (t.dtype !== dtype) {
        throw new EdgecnnError(`${file}: holds ${t.dtype} data but input '${vi.name}' is ${dtype}`, 'bad-input');
      }
      inputs[vi.name] = t;
    } else {
      inputs[vi.name] = syntheticTensor(dtype, shape, 123 + k);
    }
  });
  return inputs;
}

/** Flags every command that feeds a model shares. */
export const INPUT_FLAGS = {
  input: { type: 'string', multiple: true, description: 'input file (.f32 raw, .npy, .png/.jpg), one per model input' },
  'input-shape': { type: 'string', multiple: true, description: 'concrete input shape, name=1x3x224x224' },
  mean: { type: 'string', description: 'image normalisation mean, e.g. 0.485,0.456,0.406' },
  std: { type: 'string', description: 'image normalisation std, e.g. 0.229,0.224,0.225' },
} as const;

export function inputFlagsFrom(model: Model, p: import('./args.js').ParsedArgs): InputFlags {
  const list = (name: string): string[] => {
    const v = p.flags.get(name);
    return (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string');
  };
  const nums = (name: string): number[] | undefined => {
    const v = list(name)[0];
    if (v === undefined) return undefined;
    const a = v.split(',').map(Number);
    if (a.length !== 3 || a.some((x) => !Number.isFinite(x))) {
      throw new EdgecnnError(`--${name} needs three comma-separated numbers, got '${v}'`, 'bad-argument');
    }
    return a;
  };
  return {
    files: list('input'),
    shapes: parseInputShapes(model, list('input-shape')),
    mean: nums('mean'),
    std: nums('std'),
  };
}

/** `--threads N|auto` (CLI default 'auto': min(cores, 4) where shared memory works, else 1). */
export const THREADS_FLAG = {
  type: 'string',
  description: "worker threads: a number or 'auto' (default auto = min(cores, 4))",
} as const;

export function threadsFrom(p: import('./args.js').ParsedArgs): number | 'auto' {
  const v = p.flags.get('threads');
  if (v === undefined || v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new EdgecnnError(`--threads needs a whole number from 1 to 64 or 'auto', got '${String(v)}'`, 'bad-argument');
  }
  return n;
}
