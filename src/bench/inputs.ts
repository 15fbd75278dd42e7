/**
 * Benchmark inputs. Every configuration runs in its own process, so inputs are described by a small spec
 * (shape, dtype, and either a file or a seed) that each process materialises identically: seeded uniform
 * values in [-1, 1) for floats, zeros for integers. Outputs are kept as a bounded, strided sample so that a
 * baseline file stays small while still catching numerical drift anywhere in the tensor.
 */
import { existsSync, statSync } from 'node:fs';
import { readInputFile } from '../io/input-file.js';
import { type DType, type TypedArray, allocData } from '../ir/dtype.js';
import { EdgecnnError } from '../ir/errors.js';
import { sizeOf } from '../ir/tensor.js';
import { seededRandom } from '../ir/builder.js';

export interface InputSpec {
  name: string;
  dtype: DType;
  shape: number[];
  /** A file readable by src/io/input-file.ts, or a seed for generated values. */
  source: { file: string } | { seed: number };
}

export interface InputTensor {
  name: string;
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

/** The values an InputSpec describes. */
export function materializeInput(spec: InputSpec): InputTensor {
  if ('file' in spec.source) {
    const t = readInputFile(spec.source.file, { shape: spec.shape });
    if (t.dtype !== spec.dtype) {
      throw new EdgecnnError(
        `input file '${spec.source.file}' holds ${t.dtype}, '${spec.name}' needs ${spec.dtype}`,
        'bad-input',
      );
    }
    return { name: spec.name, dtype: t.dtype, shape: [...t.shape], data: t.data as TypedArray };
  }
  const data = allocData(spec.dtype, sizeOf(spec.shape));
  if (data instanceof Float32Array || data instanceof Float64Array) {
    const rnd = seededRandom(spec.source.seed);
    for (let i = 0; i < data.length; i++) data[i] = rnd() * 2 - 1;
  } else if (Array.isArray(data)) {
    throw new EdgecnnError(`input '${spec.name}' is a string tensor; benchmarks need numeric inputs`, 'bad-input');
  }
  return { name: spec.name, dtype: spec.dtype, shape: [...spec.shape], data: data as TypedArray };
}

/** A model's declared input, with symbolic or unknown dims. */
export interface DeclaredInput {
  name: string;
  dtype?: DType;
  shape?: (number | string | null)[];
}

/**
 * Parse `--input-shape` values: `1x3x640x640` (the only input) or `name=1x3x640x640`, one per input.
 */
export function parseShapes(texts: readonly string[], inputNames: readonly string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const t of texts) {
    const eq = t.lastIndexOf('=');
    const name = eq >= 0 ? t.slice(0, eq) : inputNames.length === 1 ? inputNames[0]! : undefined;
    if (name === undefined) {
      throw new EdgecnnError(
        `--input-shape ${t}: the model has ${inputNames.length} inputs, write name=AxBxC`,
        'bad-argument',
      );
    }
    if (!inputNames.includes(name)) {
      throw new EdgecnnError(
        `--input-shape ${t}: no input named '${name}' (inputs: ${inputNames.join(', ')})`,
        'bad-argument',
      );
    }
    const dims = t
      .slice(eq + 1)
      .split('x')
      .map(Number);
    if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new EdgecnnError(
        `--input-shape ${t}: dims must be positive whole numbers joined by x, e.g. 1x3x224x224`,
        'bad-argument',
      );
    }
    out[name] = dims;
  }
  return out;
}

/**
 * Input specs for a model's runtime inputs. `shapes` gives whole shapes by input name (checked against the
 * declared rank and fixed dims); otherwise symbolic dims become 1 (batch) unless `dims` names them; a
 * sibling `<model>.input.f32` of the right size is used for a single float32 input (the shared models ship
 * one), otherwise values are generated from `seed`.
 */
export function planInputs(
  declared: readonly DeclaredInput[],
  opts: {
    modelPath?: string;
    inputFile?: string;
    seed?: number;
    dims?: Record<string, number>;
    shapes?: Record<string, readonly number[]>;
  } = {},
): InputSpec[] {
  const specs = declared.map((d, index): InputSpec => {
    const given = opts.shapes?.[d.name];
    if (given) {
      const bad =
        d.shape !== undefined &&
        (d.shape.length !== given.length ||
          d.shape.some((dim, i) => typeof dim === 'number' && dim >= 0 && dim !== given[i]));
      if (bad) {
        const want = d.shape!.map((x) => (typeof x === 'number' && x >= 0 ? x : '?')).join('x');
        throw new EdgecnnError(
          `--input-shape ${given.join('x')} does not fit input '${d.name}' declared ${want}`,
          'bad-argument',
        );
      }
      return {
        name: d.name,
        dtype: d.dtype ?? 'float32',
        shape: [...given],
        source: { seed: (opts.seed ?? 123) + index },
      };
    }
    if (d.shape === undefined) {
      throw new EdgecnnError(`input '${d.name}' has no declared shape; give one with --input-shape`, 'bad-input');
    }
    const shape = d.shape.map((dim) => {
      if (typeof dim === 'number' && dim >= 0) return dim;
      if (typeof dim === 'string' && opts.dims?.[dim] !== undefined) return opts.dims[dim]!;
      return 1;
    });
    return { name: d.name, dtype: d.dtype ?? 'float32', shape, source: { seed: (opts.seed ?? 123) + index } };
  });
  if (opts.inputFile !== undefined) {
    if (specs.length !== 1) {
      throw new EdgecnnError(`--input gives one file but the model has ${specs.length} inputs`, 'bad-argument');
    }
    specs[0]!.source = { file: opts.inputFile };
  } else if (opts.modelPath && specs.length === 1 && specs[0]!.dtype === 'float32') {
    const sibling = opts.modelPath.replace(/\.onnx$/, '') + '.input.f32';
    if (existsSync(sibling) && statSync(sibling).size === sizeOf(specs[0]!.shape) * 4) {
      specs[0]!.source = { file: sibling };
    }
  }
  return specs;
}

/** A bounded sample of an output: every element when small, else `maxValues` elements at an even stride. */
export interface OutputSample {
  name: string;
  shape: number[];
  /** Element i of `values` is element floor(i * total / values.length) of the output. */
  values: number[];
  total: number;
}

export function sampleOutput(
  o: { name: string; shape: readonly number[]; data: ArrayLike<number> },
  maxValues = 4096,
): OutputSample {
  const total = o.data.length;
  const count = Math.min(total, maxValues);
  const values = new Array<number>(count);
  for (let i = 0; i < count; i++) values[i] = Number(o.data[Math.floor((i * total) / count)]);
  return { name: o.name, shape: [...o.shape], values, total };
}

/** Largest absolute difference between two sets of output samples, matched by name. */
export function maxDrift(current: readonly OutputSample[], reference: readonly OutputSample[]): number {
  let worst = 0;
  for (const r of reference) {
    const c = current.find((x) => x.name === r.name);
    if (!c) throw new EdgecnnError(`output '${r.name}' is missing from the current run`, 'numerical');
    if (c.total !== r.total || c.values.length !== r.values.length) {
      throw new EdgecnnError(`output '${r.name}' has ${c.total} elements, the reference ${r.total}`, 'numerical');
    }
    for (let i = 0; i < r.values.length; i++) {
      const d = Math.abs(c.values[i]! - r.values[i]!);
      // NaN on one side only is infinite drift; NaN on both sides agrees (as ONNX's runner treats it).
      if (Number.isNaN(d)) {
        if (!(Number.isNaN(c.values[i]!) && Number.isNaN(r.values[i]!))) return Infinity;
      } else if (d > worst) worst = d;
    }
  }
  return worst;
}
