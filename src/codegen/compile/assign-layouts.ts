/**
 * Layout assignment. Float32 rank-4 values are NHWC with a pixel stride; other float32 values are flat
 * row-major; rank-4 int8 values (made by the int8 lowering, read only by int8 kernels) are NHWC with 1-byte
 * elements; other dtypes stay on the JS side. Some nodes cost nothing because their output is a *view* of
 * another value's memory: channel Concat (its inputs are written straight into slices of the output, which
 * then share its pixel stride), channel Split/Slice (outputs are slices of the input), and reshape-like
 * nodes whose input and output have the same element order (aliases). Where a concat input cannot be a
 * slice (a graph input, a view itself, used twice) a copy node is inserted in front of the concat.
 */
import type { Node } from '../../ir/graph.js';
import { attrInt, attrInts } from '../../ir/graph.js';
import { type Tensor, sizeOf, toNumbers } from '../../ir/tensor.js';
import type { ConcreteType, PreparedGraph } from './prepare.js';

export type LayoutKind = 'nhwc' | 'flat' | 'js';

export interface ValueLayout {
  name: string;
  type: ConcreteType;
  layout: LayoutKind;
  /** NHWC only: elements between consecutive pixels (>= C). */
  pixelStride: number;
  /** The value lives inside another value's storage, `offsetBytes` from that value's start. */
  viewOf?: { name: string; offsetBytes: number };
}

export interface LayoutResult {
  /** Nodes in order, including inserted copies (Identity nodes listed in `copyNodes`). */
  nodes: Node[];
  layouts: Map<string, ValueLayout>;
  /** Nodes that need no step: their outputs are views. */
  viewNodes: Set<Node>;
  /** Identity nodes inserted to copy a value into a concat slice. */
  copyNodes: Set<Node>;
}

/** Bytes per element of an arena value: 1 for the int8 lowering's tensors, 4 for float32. */
export function elemBytes(l: ValueLayout): number {
  return l.type.dtype === 'int8' ? 1 : 4;
}

const RESHAPE_LIKE = new Set(['Identity', 'Dropout', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);

export function assignLayouts(prep: PreparedGraph): LayoutResult {
  const { types, constants } = prep;
  const graphInputs = new Set(prep.inputs.map((i) => i.name));
  const layouts = new Map<string, ValueLayout>();
  for (const [name, type] of types) {
    const rank4 = type.shape.length === 4;
    const layout: LayoutKind =
      type.dtype === 'float32' ? (rank4 ? 'nhwc' : 'flat') : rank4 && prep.arenaInt8?.has(name) ? 'nhwc' : 'js';
    layouts.set(name, { name, type, layout, pixelStride: layout === 'nhwc' ? type.shape[1]! : 0 });
  }
  const producer = new Map<string, Node>();
  for (const n of prep.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  keepChannelsLastEdgesRowMajor(prep, layouts);
  keepQuantizedInputsNchw(prep, layouts);

  const viewNodes = new Set<Node>();
  const copyNodes = new Set<Node>();
  const isChannelConcat = (n: Node): boolean =>
    n.opType === 'Concat' &&
    layouts.get(n.outputs[0]!)?.layout === 'nhwc' &&
    normAxis(attrInt(n, 'axis', 0), 4) === 1 &&
    n.inputs.every((i) => layouts.get(i)?.layout === 'nhwc');
  // Values whose producer makes them a view of something else (decided below), or that are not computed.
  const mayBeSlice = (name: string, concat: Node): boolean => {
    if (graphInputs.has(name) || constants.has(name) || !types.has(name)) return false;
    if (concat.inputs.filter((i) => i === name).length > 1) return false;
    const p = producer.get(name);
    if (!p) return false;
    if (p.opType === 'Split' || p.opType === 'Slice' || RESHAPE_LIKE.has(p.opType)) return false;
    return true;
  };

  // 1. Concats, outermost first, so a nested concat output inherits the outer pixel stride.
  const nodes = [...prep.nodes];
  const claimed = new Set<string>();
  let copyCount = 0;
  for (let idx = nodes.length - 1; idx >= 0; idx--) {
    const n = nodes[idx]!;
    if (!isChannelConcat(n)) continue;
    const out = layouts.get(n.outputs[0]!)!;
    let channel = 0;
    const newInputs: string[] = [];
    const copies: Node[] = [];
    for (const x of n.inputs) {
      const xt = layouts.get(x) ?? constLayout(x, constants.get(x));
      let target = x;
      if (!mayBeSlice(x, n) || claimed.has(x)) {
        target = `${x}__copy${copyCount++}`;
        const copy: Node = {
          name: `${n.name}__copy_${newInputs.length}`,
          opType: 'Identity',
          domain: '',
          inputs: [x],
          outputs: [target],
          attributes: new Map(),
        };
        copies.push(copy);
        copyNodes.add(copy);
        if (!layouts.has(x)) layouts.set(x, xt); // a constant input is copied from a JS-side tensor
        layouts.set(target, { ...xt, name: target, layout: 'nhwc' });
      }
      claimed.add(target);
      const tl = layouts.get(target)!;
      tl.pixelStride = out.pixelStride;
      tl.viewOf = { name: out.name, offsetBytes: channel * elemBytes(out) };
      channel += tl.type.shape[1]!;
      newInputs.push(target);
    }
    if (copies.length > 0) {
      const rewritten: Node = { ...n, inputs: newInputs };
      nodes.splice(idx, 1, ...copies, rewritten);
      viewNodes.add(rewritten);
    } else {
      viewNodes.add(n);
    }
  }

  // 2. Channel splits and reshape-like aliases, in order (a view's source layout is final by then).
  for (const n of nodes) {
    if (viewNodes.has(n) || copyNodes.has(n)) continue;
    const src = layouts.get(n.inputs[0] ?? '');
    if (!src || src.layout === 'js') continue;
    const outs = n.outputs.filter((o) => o !== '');
    if (outs.some((o) => claimed.has(o) || !layouts.has(o))) continue;
    if (n.opType === 'Split' || n.opType === 'Slice') {
      const ranges = channelRanges(n, src, constants);
      if (!ranges || src.layout !== 'nhwc') continue;
      n.outputs.forEach((o, k) => {
        if (!o) return;
        const l = layouts.get(o)!;
        l.pixelStride = src.pixelStride;
        l.viewOf = { name: src.name, offsetBytes: ranges[k]! * elemBytes(src) };
      });
      viewNodes.add(n);
      continue;
    }
    if (n.opType === 'Transpose') {
      const out = layouts.get(n.outputs[0]!)!;
      const perm = attrInts(n, 'perm')?.join();
      const toNchw = perm === '0,3,1,2' && src.layout === 'flat' && out.layout === 'nhwc';
      const toNhwc = perm === '0,2,3,1' && src.layout === 'nhwc' && out.layout === 'flat' && isDenseNhwc(src);
      if ((toNchw && src.type.shape.length === 4) || toNhwc) {
        out.viewOf = { name: src.name, offsetBytes: 0 };
        viewNodes.add(n);
      }
      continue;
    }
    if (RESHAPE_LIKE.has(n.opType) && outs.length >= 1) {
      const out = layouts.get(n.outputs[0]!)!;
      if (n.opType === 'Dropout' && outs.length > 1) continue;
      if (!sameElementOrder(src, out)) continue;
      if (out.layout === 'nhwc') out.pixelStride = src.pixelStride;
      out.viewOf = { name: src.name, offsetBytes: 0 };
      viewNodes.add(n);
    }
  }
  return { nodes, layouts, viewNodes, copyNodes };
}

function isPerm(n: Node, perm: string): boolean {
  return n.opType === 'Transpose' && n.domain === '' && attrInts(n, 'perm')?.join() === perm;
}

function isDenseNhwc(l: ValueLayout): boolean {
  return l.layout === 'nhwc' && l.pixelStride === l.type.shape[1] && !l.viewOf;
}

/**
 * Channels-last edges (models converted from TensorFlow): a rank-4 graph input read only by
 * Transpose(0,3,1,2) stays row-major, since [N,H,W,C] row-major is the NHWC memory of the transposed value,
 * and a graph output made by Transpose(0,2,3,1) and read by nothing else is row-major for the same reason.
 * Both transposes then become aliases, and no edge conversion is needed.
 */
function keepChannelsLastEdgesRowMajor(prep: PreparedGraph, layouts: Map<string, ValueLayout>): void {
  const readers = new Map<string, Node[]>();
  for (const n of prep.nodes) for (const x of n.inputs) if (x) readers.set(x, [...(readers.get(x) ?? []), n]);
  const outputs = new Set(prep.outputNames);
  const rowMajor = (l: ValueLayout): void => {
    l.layout = 'flat';
    l.pixelStride = 0;
  };
  for (const { name } of prep.inputs) {
    const l = layouts.get(name);
    const rs = readers.get(name) ?? [];
    if (l?.layout === 'nhwc' && !outputs.has(name) && rs.length > 0 && rs.every((r) => isPerm(r, '0,3,1,2'))) {
      rowMajor(l);
    }
  }
  for (const n of prep.nodes) {
    const y = isPerm(n, '0,2,3,1') ? layouts.get(n.outputs[0]!) : undefined;
    if (y?.layout === 'nhwc' && outputs.has(y.name) && !readers.has(y.name)) rowMajor(y);
  }
}

/**
 * A rank-4 graph input read only by int8 quantizers stays NCHW (row-major): the quantize kernel changes the layout
 * while it quantizes, so no separate NCHW -> NHWC pass runs.
 */
function keepQuantizedInputsNchw(prep: PreparedGraph, layouts: Map<string, ValueLayout>): void {
  const outputs = new Set(prep.outputNames);
  for (const { name } of prep.inputs) {
    const l = layouts.get(name);
    const rs = prep.nodes.filter((n) => n.inputs.includes(name));
    if (l?.layout !== 'nhwc' || outputs.has(name) || rs.length === 0) continue;
    if (rs.every((r) => r.domain === 'edgecnn' && r.opType === 'Qs8Quantize')) {
      l.layout = 'flat';
      l.pixelStride = 0;
    }
  }
}

function constLayout(name: string, t: Tensor | undefined): ValueLayout {
  const shape = t ? [...t.shape] : [];
  return { name, type: { dtype: t?.dtype ?? 'float32', shape }, layout: 'js', pixelStride: 0 };
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Whether two placements enumerate the same elements in the same memory order (so one can alias the other). */
function sameElementOrder(src: ValueLayout, out: ValueLayout): boolean {
  if (src.layout === 'js' || out.layout === 'js') return false;
  if (sizeOf(src.type.shape) !== sizeOf(out.type.shape)) return false;
  const dense = (l: ValueLayout): boolean => l.layout !== 'nhwc' || l.pixelStride === l.type.shape[1];
  const pixels = (l: ValueLayout): number => (l.layout === 'nhwc' ? l.type.shape[2]! * l.type.shape[3]! : 0);
  if (src.layout === 'nhwc' && out.layout === 'nhwc') {
    // Same N,C,H,W: the alias inherits the pixel stride, so even a strided source is fine.
    return src.type.shape.every((d, i) => d === out.type.shape[i]);
  }
  if (src.layout === 'flat' && out.layout === 'flat') return true;
  // NHWC with one pixel per image is [N, C] row-major, as is a flat value.
  const nhwc = src.layout === 'nhwc' ? src : out;
  const flat = src.layout === 'nhwc' ? out : src;
  return dense(nhwc) && pixels(nhwc) === 1 && flat.type.shape[0] === nhwc.type.shape[0];
}

/** For a Split or Slice that cuts only the channel axis (step 1) of a rank-4 value: first channel per output. */
export function channelRanges(n: Node, src: ValueLayout, constants: Map<string, Tensor>): number[] | undefined {
  const [, C] = src.type.shape as [number, number, number, number];
  if (src.type.shape.length !== 4) return undefined;
  if (n.opType === 'Split') {
    if (normAxis(attrInt(n, 'axis', 0), 4) !== 1) return undefined;
    let sizes: number[] | undefined = attrInts(n, 'split');
    if (!sizes && n.inputs[1]) {
      const t = constants.get(n.inputs[1]);
      if (!t) return undefined;
      sizes = toNumbers(t);
    }
    const k = n.outputs.length;
    sizes ??= C % k === 0 ? new Array<number>(k).fill(C / k) : undefined;
    if (!sizes || sizes.reduce((a, b) => a + b, 0) !== C) return undefined;
    const starts: number[] = [];
    let acc = 0;
    for (const s of sizes) {
      starts.push(acc);
      acc += s;
    }
    return starts;
  }
  // Slice (opset >= 10: starts, ends, axes, steps as inputs; opset 1: attributes).
  const get = (i: number, attr: string): number[] | undefined => {
    if (n.inputs.length > 1) {
      const name = n.inputs[i];
      if (!name) return undefined;
      const t = constants.get(name);
      return t ? toNumbers(t) : [NaN];
    }
    return attrInts(n, attr);
  };
  const starts = get(1, 'starts');
  const ends = get(2, 'ends');
  const axes = get(3, 'axes') ?? starts?.map((_, i) => i);
  const steps = get(4, 'steps');
  if (!starts || !ends || !axes || starts.some(Number.isNaN) || ends.some(Number.isNaN)) return undefined;
  if (steps && steps.some((s) => s !== 1)) return undefined;
  let first: number | undefined;
  for (let i = 0; i < axes.length; i++) {
    const ax = normAxis(axes[i]!, 4);
    const dim = src.type.shape[ax]!;
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const s = clamp(starts[i]!);
    const e = clamp(ends[i]!);
    if (ax === 1) first = s;
    else if (s !== 0 || e !== dim) return undefined;
  }
  return first === undefined ? undefined : [first];
}
