/**
 * Finding what to quantize in a float graph (BatchNorm already folded). A layer is one quantizable node
 * (Conv, Gemm, MatMul with a constant weight; Add; Mul of two activations; Concat; pooling; Flatten/Reshape
 * pass-throughs) plus the
 * Relu/Clip(min 0) that alone consumes its output: the clamp is folded into the output's range. A layer's
 * activation inputs and its output are the tensors that carry QuantizeLinear/DequantizeLinear pairs.
 * Scale groups tie tensors that must share parameters: a Concat's inputs and output (int8 concat is a copy),
 * an Add's inputs (one rescale per add), and a pass-through's input and output (MaxPool and data movement:
 * requantizing a moved tensor with a new scale would only add rounding noise).
 */
import type { Graph, Node } from '../ir/graph.js';
import { attrFloat, attrInt } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { type GraphIndex, constantOf, indexGraph, isOp } from '../passes/graph-utils.js';

export const WEIGHTED_OPS = ['Conv', 'Gemm', 'MatMul'] as const;
/** Ops computed in int8 without weights. */
export const ACTIVATION_OPS = ['Add', 'Mul', 'Concat', 'GlobalAveragePool', 'AveragePool', 'MaxPool'] as const;

/**
 * x * f(x) with f a unary op of x (HardSwish = x * HardSigmoid(x), SiLU = x * Sigmoid(x)) is an activation
 * function, not a product of two tensors: it stays float between its input's and its consumers' quantizers, and
 * the compiler turns the whole into one int8 table. A Mul layer is any other product of two activations (the
 * squeeze-and-excitation scale).
 */
function isSelfGated(index: GraphIndex, n: Node): boolean {
  const [a, b] = n.inputs;
  const gate = (x: string | undefined, y: string | undefined): boolean => {
    const p = x ? index.producer.get(x) : undefined;
    return !!p && p.inputs.filter((i) => i !== '')[0] === y && p.outputs.length === 1;
  };
  return a === b || gate(a, b) || gate(b, a);
}
/** Ops whose int8 output has exactly the input's parameters. */
export const PASS_THROUGH_OPS = [
  'MaxPool',
  'Flatten',
  'Reshape',
  'Transpose',
  'Slice',
  'Squeeze',
  'Unsqueeze',
] as const;

export interface Layer {
  /** The main node's name (unique key: CLI flags, reports). */
  name: string;
  opType: string;
  node: Node;
  /** Relu/Clip folded into the output range, when present. */
  clamp?: { node: Node; lo: number; hi: number };
  /** Float activation inputs (not constants). */
  inputs: string[];
  /** The tensor after the clamp (or the node's output). */
  output: string;
  /** Weight initializer name and the axis of its output channels. */
  weight?: { name: string; axis: number };
  bias?: string;
}

function constIn(graph: Graph, index: GraphIndex, name: string | undefined): Tensor | undefined {
  return name ? constantOf(graph, index, name) : undefined;
}

/** The clamp bounds of a Relu, or Clip with constant min 0 (any constant max); undefined otherwise. */
function clampBounds(graph: Graph, index: GraphIndex, n: Node): { lo: number; hi: number } | undefined {
  if (isOp(n, 'Relu')) return { lo: 0, hi: Infinity };
  if (!isOp(n, 'Clip')) return undefined;
  let lo = -Infinity;
  let hi = Infinity;
  if (n.attributes.has('min') || n.attributes.has('max')) {
    lo = attrFloat(n, 'min', -Infinity);
    hi = attrFloat(n, 'max', Infinity);
  } else {
    const mn = constIn(graph, index, n.inputs[1]);
    const mx = constIn(graph, index, n.inputs[2]);
    if (n.inputs[1] && !mn) return undefined;
    if (n.inputs[2] && !mx) return undefined;
    if (mn) lo = Number(mn.data[0]);
    if (mx) hi = Number(mx.data[0]);
  }
  return lo === 0 ? { lo, hi } : undefined;
}

function isFloatTensor(graph: Graph, name: string): boolean {
  const vi =
    graph.valueInfo.get(name) ??
    graph.inputs.find((i) => i.name === name) ??
    graph.outputs.find((o) => o.name === name);
  return vi?.dtype === undefined || vi.dtype === 'float32';
}

/** The quantizable layers of a graph, in node order. */
export function findLayers(graph: Graph): Layer[] {
  const index = indexGraph(graph);
  const layers: Layer[] = [];
  for (const node of graph.nodes) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
    const op = node.opType;
    let weight: Layer['weight'];
    let bias: string | undefined;
    let inputs: string[];
    if (op === 'Conv') {
      const w = constIn(graph, index, node.inputs[1]);
      if (!w || w.dtype !== 'float32' || !graph.initializers.has(node.inputs[1]!)) continue;
      if (node.inputs[2] && !constIn(graph, index, node.inputs[2])) continue;
      weight = { name: node.inputs[1]!, axis: 0 };
      bias = node.inputs[2] || undefined;
      inputs = [node.inputs[0]!];
    } else if (op === 'Gemm') {
      const w = constIn(graph, index, node.inputs[1]);
      if (!w || w.dtype !== 'float32' || w.shape.length !== 2 || !graph.initializers.has(node.inputs[1]!)) continue;
      if (attrInt(node, 'transA', 0) !== 0 || attrFloat(node, 'alpha', 1) !== 1 || attrFloat(node, 'beta', 1) !== 1)
        continue;
      const c = node.inputs[2] ? constIn(graph, index, node.inputs[2]) : undefined;
      if (node.inputs[2] && (!c || c.shape.length !== 1)) continue;
      weight = { name: node.inputs[1]!, axis: attrInt(node, 'transB', 0) === 1 ? 0 : 1 };
      bias = node.inputs[2] || undefined;
      inputs = [node.inputs[0]!];
    } else if (op === 'MatMul') {
      const w = constIn(graph, index, node.inputs[1]);
      if (!w || w.dtype !== 'float32' || w.shape.length !== 2 || !graph.initializers.has(node.inputs[1]!)) continue;
      weight = { name: node.inputs[1]!, axis: 1 };
      inputs = [node.inputs[0]!];
    } else if (
      (ACTIVATION_OPS as readonly string[]).includes(op) ||
      (PASS_THROUGH_OPS as readonly string[]).includes(op)
    ) {
      if (op === 'MaxPool' && node.outputs.length > 1 && node.outputs[1]) continue;
      // Shape-like operands (Reshape's shape, Slice's starts/ends/axes/steps, opset-13 axes) are not data.
      if (['Reshape', 'Slice', 'Squeeze', 'Unsqueeze'].includes(op)) inputs = [node.inputs[0]!];
      else inputs = node.inputs.filter((i) => i !== '');
      // Adds and Concats of constants are left alone: both inputs must be activations.
      if (inputs.some((i) => constIn(graph, index, i) !== undefined)) continue;
      if (op === 'Mul' && (inputs.length !== 2 || isSelfGated(index, node))) continue;
    } else {
      continue;
    }
    if (!inputs.every((i) => isFloatTensor(graph, i)) || !isFloatTensor(graph, node.outputs[0]!)) continue;
    const layer: Layer = { name: node.name, opType: op, node, inputs, output: node.outputs[0]! };
    if (weight) layer.weight = weight;
    if (bias) layer.bias = bias;
    const out = node.outputs[0]!;
    const users = index.consumers.get(out) ?? [];
    if (
      !index.graphOutputs.has(out) &&
      users.length === 1 &&
      op !== 'Concat' &&
      !(PASS_THROUGH_OPS as readonly string[]).includes(op)
    ) {
      const b = clampBounds(graph, index, users[0]!);
      if (b) {
        layer.clamp = { node: users[0]!, ...b };
        layer.output = users[0]!.outputs[0]!;
      }
    }
    layers.push(layer);
  }
  return layers;
}

/** Union-find over tensor names. */
export class TensorGroups {
  private parent = new Map<string, string>();
  find(x: string): string {
    if (!this.parent.has(x)) this.parent.set(x, x);
    let r = x;
    while (this.parent.get(r)! !== r) r = this.parent.get(r)!;
    this.parent.set(x, r);
    return r;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(ra, rb);
  }
}

/** Tie tensors that must share parameters (see the file comment). */
export function scaleGroups(layers: readonly Layer[], options: { unifyAdd: boolean }): TensorGroups {
  const g = new TensorGroups();
  for (const l of layers) {
    if (l.opType === 'Concat') for (const i of l.inputs) g.union(i, l.output);
    else if ((PASS_THROUGH_OPS as readonly string[]).includes(l.opType)) g.union(l.inputs[0]!, l.output);
    else if (l.opType === 'Add' && options.unifyAdd && l.inputs.length === 2) g.union(l.inputs[0]!, l.inputs[1]!);
  }
  return g;
}
