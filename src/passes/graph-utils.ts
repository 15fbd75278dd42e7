/**
 * Rewriting helpers shared by the passes: a use/def index, constant lookup (initializers that no graph input
 * overrides, and Constant nodes), fresh names, value forwarding and graph copies. Rewrites keep the node list
 * in topological order by one rule: a node that replaces a pattern takes the place of the pattern's last node.
 */
import type { Attribute, Graph, Node } from '../ir/graph.js';
import { isDefaultDomain } from '../ir/graph.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';
import { subgraphOuterUses } from '../ir/verify.js';

/** Who defines and who uses each value. Rebuild after a rewrite that changes edges. */
export interface GraphIndex {
  producer: Map<string, Node>;
  consumers: Map<string, Node[]>;
  graphOutputs: Set<string>;
  graphInputs: Set<string>;
}

export function indexGraph(graph: Graph): GraphIndex {
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const o of n.outputs) if (o !== '') producer.set(o, n);
    const uses = new Set(n.inputs.filter((i) => i !== ''));
    for (const u of subgraphOuterUses(n)) uses.add(u);
    for (const i of uses) {
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
  }
  return {
    producer,
    consumers,
    graphOutputs: new Set(graph.outputs.map((o) => o.name)),
    graphInputs: new Set(graph.inputs.map((i) => i.name)),
  };
}

/** True when `name` feeds exactly one node (once) and is not a graph output: safe to absorb into a fusion. */
export function hasSingleUse(index: GraphIndex, name: string): boolean {
  if (index.graphOutputs.has(name)) return false;
  const c = index.consumers.get(name);
  return c !== undefined && c.length === 1 && c[0]!.inputs.filter((i) => i === name).length === 1;
}

/** The default-domain op check, so that a custom-domain node named like an ONNX op is never matched. */
export function isOp(node: Node | undefined, opType: string): boolean {
  return node !== undefined && node.opType === opType && isDefaultDomain(node.domain);
}

/** The tensor held by a Constant node's attribute, or undefined for forms we do not fold (sparse_value). */
export function constantNodeValue(node: Node): Tensor | undefined {
  const a = [...node.attributes.entries()][0];
  if (!a || node.attributes.size !== 1) return undefined;
  const [name, at] = a;
  if (name === 'value' && at.kind === 'tensor') return at.value;
  if (name === 'value_float' && at.kind === 'float') return makeTensor('float32', [], Float32Array.of(at.value));
  if (name === 'value_floats' && at.kind === 'floats')
    return makeTensor('float32', [at.value.length], Float32Array.from(at.value));
  if (name === 'value_int' && at.kind === 'int') return makeTensor('int64', [], BigInt64Array.of(BigInt(at.value)));
  if (name === 'value_ints' && at.kind === 'ints') {
    return makeTensor('int64', [at.value.length], BigInt64Array.from(at.value.map((v) => BigInt(v))));
  }
  return undefined;
}

/**
 * The constant value of `name`, or undefined. An initializer that is also a graph input is a default the
 * caller may override, so it is not a constant.
 */
export function constantOf(graph: Graph, index: GraphIndex, name: string): Tensor | undefined {
  if (name === '') return undefined;
  const t = graph.initializers.get(name);
  if (t) return index.graphInputs.has(name) ? undefined : t;
  const p = index.producer.get(name);
  if (p && isOp(p, 'Constant')) return constantNodeValue(p);
  return undefined;
}

/** A name generator that never collides with any value or node name in the graph. */
export function makeNamer(graph: Graph): (base: string) => string {
  const taken = new Set<string>([...graph.inputs.map((i) => i.name), ...graph.initializers.keys()]);
  for (const n of graph.nodes) {
    taken.add(n.name);
    for (const o of n.outputs) taken.add(o);
  }
  return (base: string) => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
}

/**
 * Replace every use of value `from` by `to`: node inputs, and outer-scope reads inside subgraphs (If/Loop
 * bodies) where no local value shadows the name. Graph outputs are untouched.
 */
export function replaceUses(graph: Graph, from: string, to: string): void {
  for (const n of graph.nodes) {
    for (let i = 0; i < n.inputs.length; i++) if (n.inputs[i] === from) n.inputs[i] = to;
    for (const a of n.attributes.values()) {
      if (a.kind === 'graph') replaceOuterUses(a.value, from, to);
      else if (a.kind === 'graphs') for (const g of a.value) replaceOuterUses(g, from, to);
    }
  }
}

function replaceOuterUses(sub: Graph, from: string, to: string): void {
  const shadowed =
    sub.inputs.some((i) => i.name === from) ||
    sub.initializers.has(from) ||
    sub.nodes.some((n) => n.outputs.includes(from));
  if (shadowed) return;
  replaceUses(sub, from, to);
  for (const o of sub.outputs) if (o.name === from) o.name = to;
}

/**
 * Make value `from` (the output of a node about to be removed) an alias of `to`: its uses read `to`. When `from`
 * is a graph output, `to` is renamed to `from` instead (at its producer), which keeps the graph's output names;
 * that needs `to` to be a node output that is not itself a graph input or output. Returns false when neither
 * works, in which case nothing was changed and the caller must keep the node.
 */
export function forwardValue(graph: Graph, index: GraphIndex, from: string, to: string): boolean {
  if (!index.graphOutputs.has(from)) {
    replaceUses(graph, from, to);
    return true;
  }
  const p = index.producer.get(to);
  if (!p || index.graphOutputs.has(to) || index.graphInputs.has(to) || graph.initializers.has(to)) return false;
  p.outputs = p.outputs.map((o) => (o === to ? from : o));
  replaceUses(graph, to, from);
  const vi = graph.valueInfo.get(to);
  graph.valueInfo.delete(to);
  if (vi && !graph.valueInfo.has(from)) graph.valueInfo.set(from, { ...vi, name: from });
  return true;
}

/** Remove the given nodes (by identity), keeping the order of the others. */
export function removeNodes(graph: Graph, dead: ReadonlySet<Node>): void {
  if (dead.size > 0) graph.nodes = graph.nodes.filter((n) => !dead.has(n));
}

function cloneAttributes(m: Map<string, Attribute>): Map<string, Attribute> {
  const out = new Map<string, Attribute>();
  for (const [k, a] of m) {
    switch (a.kind) {
      case 'floats':
      case 'ints':
        out.set(k, { kind: a.kind, value: [...a.value] });
        break;
      case 'strings':
        out.set(k, { kind: 'strings', value: [...a.value] });
        break;
      case 'graph':
        out.set(k, { kind: 'graph', value: cloneGraph(a.value) });
        break;
      case 'graphs':
        out.set(k, { kind: 'graphs', value: a.value.map(cloneGraph) });
        break;
      default:
        out.set(k, a);
    }
  }
  return out;
}

/** A copy a pass may edit freely: nodes, lists and maps are new; tensors (immutable) are shared. */
export function cloneGraph(graph: Graph): Graph {
  const g: Graph = {
    name: graph.name,
    nodes: graph.nodes.map((n) => {
      const c: Node = {
        name: n.name,
        opType: n.opType,
        domain: n.domain,
        inputs: [...n.inputs],
        outputs: [...n.outputs],
        attributes: cloneAttributes(n.attributes),
      };
      if (n.docString !== undefined) c.docString = n.docString;
      return c;
    }),
    inputs: graph.inputs.map((v) => ({ ...v, shape: v.shape ? [...v.shape] : undefined })),
    outputs: graph.outputs.map((v) => ({ ...v, shape: v.shape ? [...v.shape] : undefined })),
    initializers: new Map(graph.initializers),
    valueInfo: new Map([...graph.valueInfo].map(([k, v]) => [k, { ...v, shape: v.shape ? [...v.shape] : undefined }])),
  };
  if (graph.docString !== undefined) g.docString = graph.docString;
  return g;
}

/** Float data of a float32 tensor as a Float64Array (for weight arithmetic in double precision). */
export function f64Of(t: Tensor): Float64Array {
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
  return out;
}

/** The per-channel vector of a constant that broadcasts against an NCHW tensor with `channels` channels along
 * axis 1 (shapes [C,1,1], [1,C,1,1], [1], [], [1,1,1], ...) for an output of rank `rank`; undefined otherwise. */
export function perChannel(t: Tensor, channels: number, rank: number): Float64Array | undefined {
  if (t.dtype !== 'float32') return undefined;
  const s = [...t.shape];
  if (s.length > rank) return undefined;
  while (s.length < rank) s.unshift(1);
  // Every axis except 1 must be 1; axis 1 is C or 1.
  if (!s.every((d, i) => d === 1 || (i === 1 && d === channels))) return undefined;
  const v = f64Of(t);
  if (v.length === channels) return v;
  return new Float64Array(channels).fill(v[0]!);
}

/**
 * W scaled per output channel m: Conv W is [M, C/g, k...] (channel = axis 0); ConvTranspose W is
 * [C, M/g, k...] where output channel m of group gi is gi*(M/g) + j for W's axis-1 index j.
 */
export function scaleOutputChannels(w: Tensor, scale: Float64Array, transpose: boolean, group: number): Tensor {
  const out = new Float32Array(w.data.length);
  const src = w.data as Float32Array;
  const d0 = w.shape[0]!;
  const d1 = w.shape[1]!;
  const inner = w.data.length / (d0 * d1);
  for (let a = 0; a < d0; a++) {
    for (let b = 0; b < d1; b++) {
      const m = transpose ? Math.floor(a / (d0 / group)) * d1 + b : a;
      const s = scale[m]!;
      const base = (a * d1 + b) * inner;
      for (let i = 0; i < inner; i++) out[base + i] = src[base + i]! * s;
    }
  }
  return makeTensor('float32', w.shape, out);
}

/** Output channel count of a Conv/ConvTranspose from its weight shape. */
export function outputChannels(w: Tensor, transpose: boolean, group: number): number {
  return transpose ? w.shape[1]! * group : w.shape[0]!;
}

/**
 * Replace Mul(x, gate(x)) (either operand order) by `make(x, mulOutput, mulName)` where the gate node is a
 * `gateOp` accepted by `accept` whose output feeds only the Mul. Used by fuse-hard-swish and fuse-silu.
 */
export function fuseGatedProduct(
  graph: Graph,
  gateOp: string,
  accept: (gate: Node) => boolean,
  make: (x: string, y: string, name: string) => Node,
): Graph {
  const index = indexGraph(graph);
  const dead = new Set<Node>();
  graph.nodes = graph.nodes.map((mul) => {
    if (!isOp(mul, 'Mul') || mul.inputs.length !== 2) return mul;
    for (const side of [0, 1]) {
      const gate = index.producer.get(mul.inputs[side]!);
      const x = mul.inputs[1 - side]!;
      if (!gate || !isOp(gate, gateOp) || gate.inputs[0] !== x || dead.has(gate)) continue;
      if (!hasSingleUse(index, gate.outputs[0]!)) continue;
      if (!accept(gate)) continue;
      dead.add(gate);
      graph.valueInfo.delete(gate.outputs[0]!);
      return make(x, mul.outputs[0]!, mul.name);
    }
    return mul;
  });
  removeNodes(graph, dead);
  return graph;
}

/**
 * Explicit `pads` for a Conv whose auto_pad is SAME_UPPER/SAME_LOWER/VALID, from its input's spatial shape, or
 * undefined when the shape is unknown. Returns the node's own pads (or zeros) when auto_pad is NOTSET.
 */
export function explicitConvPads(
  node: Node,
  inputShape: readonly (number | string | null)[] | undefined,
  kernel: readonly number[],
): number[] | undefined {
  const r = kernel.length;
  const autoPadAttr = node.attributes.get('auto_pad');
  const autoPad = autoPadAttr?.kind === 'string' && autoPadAttr.value !== '' ? autoPadAttr.value : 'NOTSET';
  const own = node.attributes.get('pads');
  if (autoPad === 'NOTSET') return own?.kind === 'ints' ? [...own.value] : new Array<number>(2 * r).fill(0);
  if (autoPad === 'VALID') return new Array<number>(2 * r).fill(0);
  if (inputShape === undefined || inputShape.length !== r + 2) return undefined;
  const strides = node.attributes.get('strides');
  const dil = node.attributes.get('dilations');
  const begin: number[] = [];
  const end: number[] = [];
  for (let i = 0; i < r; i++) {
    const len = inputShape[2 + i];
    if (typeof len !== 'number') return undefined;
    const s = strides?.kind === 'ints' ? strides.value[i]! : 1;
    const d = dil?.kind === 'ints' ? dil.value[i]! : 1;
    const out = Math.ceil(len / s);
    const total = Math.max(0, (out - 1) * s + (kernel[i]! - 1) * d + 1 - len);
    const small = Math.floor(total / 2);
    // SAME_UPPER puts the odd element at the end.
    begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
    end.push(autoPad === 'SAME_UPPER' ? total - small : small);
  }
  return [...begin, ...end];
}
