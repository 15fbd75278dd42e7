/**
 * The graph IR: an ONNX-shaped, SSA-named dataflow graph. Values are named by strings; a node input '' means
 * an omitted optional input. Attributes keep their ONNX kind so that export is exact. Fused operators created
 * by passes live in the `edgecnn` domain (see docs/architecture.md).
 */
import type { DType } from './dtype.js';
import type { Tensor } from './tensor.js';

/** A dimension: a concrete size, a symbolic name (ONNX dim_param), or null when unknown. */
export type Dim = number | string | null;

export interface ValueInfo {
  name: string;
  dtype?: DType;
  /** undefined when even the rank is unknown. */
  shape?: Dim[];
  docString?: string;
}

export type Attribute =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: Tensor }
  | { kind: 'graph'; value: Graph }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] }
  | { kind: 'strings'; value: string[] }
  | { kind: 'tensors'; value: Tensor[] }
  | { kind: 'graphs'; value: Graph[] };

export interface Node {
  name: string;
  opType: string;
  /** '' for the default ONNX domain (also written as 'ai.onnx'). */
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, Attribute>;
  docString?: string;
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** Constant tensors by value name. An initializer may also be listed in `inputs` (ONNX IR < 4 style). */
  initializers: Map<string, Tensor>;
  /** Known type/shape of intermediate values (graph.value_info), filled by shape inference. */
  valueInfo: Map<string, ValueInfo>;
  docString?: string;
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface Model {
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  /** metadata_props */
  metadata: Map<string, string>;
  graph: Graph;
}

/** The edgecnn operator domain for fused/internal operators. */
export const EDGECNN_DOMAIN = 'edgecnn';

export function isDefaultDomain(domain: string): boolean {
  return domain === '' || domain === 'ai.onnx';
}

/** The opset version the model imports for a domain ('' and 'ai.onnx' are the same). */
export function opsetVersion(model: Model, domain = ''): number | undefined {
  const want = isDefaultDomain(domain);
  for (const o of model.opsetImports) {
    if (want ? isDefaultDomain(o.domain) : o.domain === domain) return o.version;
  }
  return undefined;
}

export function emptyGraph(name = 'graph'): Graph {
  return { name, nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: new Map() };
}

/** Attribute readers with defaults; they throw a named error when the kind is wrong. */
export function attrInt(node: Node, name: string, dflt: number): number;
export function attrInt(node: Node, name: string): number | undefined;
export function attrInt(node: Node, name: string, dflt?: number): number | undefined {
  const a = node.attributes.get(name);
  if (a === undefined) return dflt;
  if (a.kind !== 'int') throw attrKindError(node, name, 'int', a.kind);
  return a.value;
}
export function attrFloat(node: Node, name: string, dflt: number): number;
export function attrFloat(node: Node, name: string): number | undefined;
export function attrFloat(node: Node, name: string, dflt?: number): number | undefined {
  const a = node.attributes.get(name);
  if (a === undefined) return dflt;
  if (a.kind === 'float' || a.kind === 'int') return a.value;
  throw attrKindError(node, name, 'float', a.kind);
}
export function attrString(node: Node, name: string, dflt: string): string;
export function attrString(node: Node, name: string): string | undefined;
export function attrString(node: Node, name: string, dflt?: string): string | undefined {
  const a = node.attributes.get(name);
  if (a === undefined) return dflt;
  if (a.kind !== 'string') throw attrKindError(node, name, 'string', a.kind);
  return a.value;
}
export function attrInts(node: Node, name: string, dflt: number[]): number[];
export function attrInts(node: Node, name: string): number[] | undefined;
export function attrInts(node: Node, name: string, dflt?: number[]): number[] | undefined {
  const a = node.attributes.get(name);
  if (a === undefined) return dflt;
  if (a.kind !== 'ints') throw attrKindError(node, name, 'ints', a.kind);
  return a.value;
}
export function attrFloats(node: Node, name: string, dflt: number[]): number[];
export function attrFloats(node: Node, name: string): number[] | undefined;
export function attrFloats(node: Node, name: string, dflt?: number[]): number[] | undefined {
  const a = node.attributes.get(name);
  if (a === undefined) return dflt;
  if (a.kind !== 'floats') throw attrKindError(node, name, 'floats', a.kind);
  return a.value;
}
export function attrTensor(node: Node, name: string): Tensor | undefined {
  const a = node.attributes.get(name);
  if (a === undefined) return undefined;
  if (a.kind !== 'tensor') throw attrKindError(node, name, 'tensor', a.kind);
  return a.value;
}

function attrKindError(node: Node, name: string, want: string, got: string): Error {
  return new Error(`node '${node.name}' (${node.opType}): attribute '${name}' should be ${want}, got ${got}`);
}
