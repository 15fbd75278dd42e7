/**
 * A small graph-building helper for tests and examples: values are named by strings, node outputs get fresh
 * names (`<opType-lower>_<n>`) unless given, and attribute kinds are taken from plain JS values (integer ->
 * int, other number -> float, number[] -> ints unless a non-integer is present, string -> string, Tensor ->
 * tensor); wrap with `attr.float(...)`/`attr.floats(...)` where an integral value must stay a float.
 */
import type { DType } from './dtype.js';
import type { Attribute, Dim, Graph, Model, Node, ValueInfo } from './graph.js';
import { emptyGraph } from './graph.js';
import { type Tensor, f32, sizeOf } from './tensor.js';

/** A plain value convertible to an ONNX attribute, or an explicit Attribute. */
export type AttrValue = number | string | number[] | string[] | Tensor | Attribute;

/** Explicit attribute constructors for the cases where inference from a JS value would pick the wrong kind. */
export const attr = {
  float: (value: number): Attribute => ({ kind: 'float', value }),
  floats: (value: number[]): Attribute => ({ kind: 'floats', value }),
  int: (value: number): Attribute => ({ kind: 'int', value }),
  ints: (value: number[]): Attribute => ({ kind: 'ints', value }),
} as const;

function isAttribute(v: AttrValue): v is Attribute {
  return typeof v === 'object' && !Array.isArray(v) && 'kind' in v && 'value' in v;
}

function isTensor(v: AttrValue): v is Tensor {
  return typeof v === 'object' && !Array.isArray(v) && 'dtype' in v && 'shape' in v && 'data' in v;
}

/** The Attribute for a plain JS value (see the file comment for the rules). */
export function toAttribute(v: AttrValue): Attribute {
  if (isAttribute(v)) return v;
  if (isTensor(v)) return { kind: 'tensor', value: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { kind: 'int', value: v } : { kind: 'float', value: v };
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (v.length > 0 && typeof v[0] === 'string') return { kind: 'strings', value: v as string[] };
  const nums = v as number[];
  return nums.every((x) => Number.isInteger(x)) ? { kind: 'ints', value: nums } : { kind: 'floats', value: nums };
}

/** Options for one node. */
export interface NodeOptions {
  name?: string;
  domain?: string;
  /** Output value names; default one fresh name. */
  outputs?: string[];
  /** Number of fresh outputs when `outputs` is not given (default 1). */
  outputCount?: number;
}

/** Deterministic pseudo-random numbers (mulberry32) so that test graphs are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A float32 tensor of uniform values in [lo, hi) from a seed. */
export function randomF32(shape: readonly number[], seed: number, lo = -1, hi = 1): Tensor {
  const r = seededRandom(seed);
  const v = new Float32Array(sizeOf(shape));
  for (let i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * r();
  return f32(shape, v);
}

/** Builds a Graph (and a Model around it) step by step. */
export class GraphBuilder {
  readonly graph: Graph;
  private counter = 0;

  constructor(name = 'graph') {
    this.graph = emptyGraph(name);
  }

  /** Declare a graph input and return its name. */
  input(name: string, dtype: DType, shape: Dim[]): string {
    this.graph.inputs.push({ name, dtype, shape: [...shape] });
    return name;
  }

  /** Add an initializer and return its name. */
  init(name: string, t: Tensor): string {
    this.graph.initializers.set(name, t);
    return name;
  }

  /** Add a seeded random float32 initializer in [lo, hi). */
  randomInit(name: string, shape: readonly number[], seed: number, lo = -1, hi = 1): string {
    return this.init(name, randomF32(shape, seed, lo, hi));
  }

  /** Add a node; returns its first output name (see `nodeOutputs` for all). */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: NodeOptions = {}): string {
    return this.nodeOutputs(opType, inputs, attrs, opts)[0]!;
  }

  /** Add a node; returns all its output names. */
  nodeOutputs(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: NodeOptions = {},
  ): string[] {
    const base = opType.toLowerCase();
    const outputs = opts.outputs ?? Array.from({ length: opts.outputCount ?? 1 }, () => `${base}_${this.counter++}`);
    const attributes = new Map<string, Attribute>();
    for (const [k, v] of Object.entries(attrs)) attributes.set(k, toAttribute(v));
    const node: Node = {
      name: opts.name ?? `${opType}_${this.counter++}`,
      opType,
      domain: opts.domain ?? '',
      inputs: [...inputs],
      outputs,
      attributes,
    };
    this.graph.nodes.push(node);
    return outputs;
  }

  /** Declare a graph output (dtype/shape optional). */
  output(name: string, dtype?: DType, shape?: Dim[]): void {
    const vi: ValueInfo = { name };
    if (dtype !== undefined) vi.dtype = dtype;
    if (shape !== undefined) vi.shape = [...shape];
    this.graph.outputs.push(vi);
  }

  /** A Model around the graph, importing the default ONNX domain at `opset` and the edgecnn domain. */
  model(opset = 13): Model {
    return {
      irVersion: 8,
      opsetImports: [
        { domain: '', version: opset },
        { domain: 'edgecnn', version: 1 },
      ],
      producerName: 'edgecnn-builder',
      producerVersion: '0',
      domain: '',
      modelVersion: 1,
      docString: '',
      metadata: new Map(),
      graph: this.graph,
    };
  }
}
