/**
 * A readable, deterministic text form of a graph, for pass tests ("before"/"expected" compared as text) and
 * `--print-after`. One line per input, initializer, node and output, in graph order:
 *   %y = Conv(%x, %w, %b) {kernel_shape=[3,3], pads=[1,1,1,1]}       (domain-qualified when not ONNX:
 *   %z = edgecnn.FusedConv(...))
 * Small constant tensors (at most `maxValues` elements) show their values so that folded shapes are visible.
 */
import type { Attribute, Dim, Graph, ValueInfo } from './graph.js';
import { isDefaultDomain } from './graph.js';
import type { Tensor } from './tensor.js';

/** Printing options. */
export interface PrintOptions {
  /** Print the values of constant tensors with at most this many elements (default 8; 0 = never). */
  maxValues?: number;
  /** Include node names as a trailing comment (default false: names churn under rewriting). */
  nodeNames?: boolean;
  /** Print known value types after node outputs (default false). */
  valueTypes?: boolean;
}

function dimText(d: Dim): string {
  return d === null ? '?' : String(d);
}

/** `float32[1,3,?,W]`, `float32[?]`-free text for a type; `?` when unknown. */
export function typeText(dtype: string | undefined, shape: readonly Dim[] | undefined): string {
  const s = shape === undefined ? '[*]' : `[${shape.map(dimText).join(',')}]`;
  return `${dtype ?? '?'}${s}`;
}

function numText(x: number | bigint): string {
  if (typeof x === 'bigint') return x.toString();
  if (Number.isInteger(x)) return String(x);
  // float32 values carry ~7 significant digits; more would only print rounding noise.
  return String(Number(x.toPrecision(7)));
}

/** Text for a tensor: its type, and its values when it is small. */
export function tensorText(t: Tensor, maxValues = 8): string {
  const head = typeText(t.dtype, t.shape);
  if (t.data.length > maxValues) return head;
  const vals: string[] = [];
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i]!;
    vals.push(typeof v === 'string' ? JSON.stringify(v) : numText(v));
  }
  return `${head}{${vals.join(',')}}`;
}

function attrText(a: Attribute, maxValues: number): string {
  switch (a.kind) {
    case 'float':
    case 'int':
      return numText(a.value);
    case 'string':
      return JSON.stringify(a.value);
    case 'floats':
    case 'ints':
      return `[${a.value.map(numText).join(',')}]`;
    case 'strings':
      return `[${a.value.map((s) => JSON.stringify(s)).join(',')}]`;
    case 'tensor':
      return tensorText(a.value, maxValues);
    case 'tensors':
      return `[${a.value.map((t) => tensorText(t, maxValues)).join(',')}]`;
    case 'graph':
      return `<graph ${a.value.name}: ${a.value.nodes.length} nodes>`;
    case 'graphs':
      return `[${a.value.map((g) => `<graph ${g.name}: ${g.nodes.length} nodes>`).join(',')}]`;
  }
}

function valueText(v: ValueInfo): string {
  return `%${v.name}: ${typeText(v.dtype, v.shape)}`;
}

/** The text form of a graph (see the file comment). */
export function printGraph(graph: Graph, options: PrintOptions = {}): string {
  const maxValues = options.maxValues ?? 8;
  const lines: string[] = [`graph ${graph.name} {`];
  for (const i of graph.inputs) {
    if (!graph.initializers.has(i.name)) lines.push(`  input ${valueText(i)}`);
  }
  for (const [name, t] of [...graph.initializers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    lines.push(`  init %${name}: ${tensorText(t, maxValues)}`);
  }
  for (const n of graph.nodes) {
    const op = isDefaultDomain(n.domain) ? n.opType : `${n.domain}.${n.opType}`;
    const ins = n.inputs.map((x) => (x === '' ? '_' : `%${x}`)).join(', ');
    const outs = n.outputs
      .map((o) => {
        if (!options.valueTypes) return `%${o}`;
        const vi = graph.valueInfo.get(o);
        return vi ? `%${o}: ${typeText(vi.dtype, vi.shape)}` : `%${o}`;
      })
      .join(', ');
    const attrs = [...n.attributes]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, a]) => `${k}=${attrText(a, maxValues)}`);
    const attrPart = attrs.length > 0 ? ` {${attrs.join(', ')}}` : '';
    const namePart = options.nodeNames ? `  # ${n.name}` : '';
    lines.push(`  ${outs} = ${op}(${ins})${attrPart}${namePart}`);
  }
  lines.push(`  return ${graph.outputs.map(valueText).join(', ')}`);
  lines.push('}');
  return lines.join('\n');
}

/** Node counts per operator (`Conv`, `edgecnn.FusedConv`, ...), sorted by name. */
export function opCounts(graph: Graph): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of graph.nodes) {
    const k = isDefaultDomain(n.domain) ? n.opType : `${n.domain}.${n.opType}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
