/**
 * QDQ -> QOperator, for `edgecnn quantize --format qoperator`: every DequantizeLinear -> op -> QuantizeLinear pattern
 * with per-tensor activation parameters becomes one integer op that onnxruntime runs: Conv -> QLinearConv (int8
 * weights per tensor or per output channel, int32 bias), MatMul -> QLinearMatMul, and onnxruntime's com.microsoft
 * QLinearAdd, QLinearGlobalAveragePool, QLinearConcat, QLinearSigmoid, QLinearLeakyRelu; a final Gemm with a float
 * output -> com.microsoft QGemm. A Relu/Clip between Conv/Add and its QuantizeLinear stays as a QDQ island after the
 * integer op, which is exact: Q is monotone, so Q(relu(v)) = Q(relu(DQ(Q(v)))) when both use the same parameters.
 * Everything else (MaxPool, Flatten, ...) stays QDQ; onnxruntime runs mixed graphs. Zero points QOperator ops
 * require are written explicitly (zeros), and a bias whose scale is not x_scale * w_scale is requantized to it.
 */
import type { DType } from '../ir/dtype.js';
import { type Attribute, type Model, type Node, attrFloat, attrInt, isDefaultDomain } from '../ir/graph.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';
import { MS_DOMAIN } from '../ops/contrib-quant-ops.js';
import { roundHalfEven } from '../ops/tensor-util.js';
import { eliminateDeadNodes } from '../passes/eliminate-dead-nodes.js';
import { cloneGraph, constantOf, hasSingleUse, indexGraph, makeNamer } from '../passes/graph-utils.js';

export interface QOperatorExport {
  model: Model;
  /** How many patterns became each integer op, e.g. `{ QLinearConv: 52, 'com.microsoft:QLinearAdd': 10 }`. */
  converted: Record<string, number>;
}

/** A DequantizeLinear's operands. */
interface DqSource {
  x: string;
  scale: string;
  zero: string;
  axis: number | undefined;
  dq: Node;
}

const isStd = (n: Node | undefined, op: string): boolean => !!n && n.opType === op && isDefaultDomain(n.domain);

/** Rewrite a QDQ model's integer-runnable patterns into QOperator ops (see the file header). */
export function qdqToQOperator(model: Model): QOperatorExport {
  const g = cloneGraph(model.graph);
  const index = indexGraph(g);
  const fresh = makeNamer(g);
  const konst = (name: string | undefined): Tensor | undefined => (name ? constantOf(g, index, name) : undefined);
  const converted: Record<string, number> = {};
  const count = (op: string): void => void (converted[op] = (converted[op] ?? 0) + 1);
  const scalar = (name: string): boolean => konst(name)?.data.length === 1;

  /** v = DequantizeLinear(x, scale, zero) with constant parameters (scalar ones unless `perAxisOk`). */
  const dqOf = (v: string | undefined, perAxisOk = false): DqSource | undefined => {
    const dq = v ? index.producer.get(v) : undefined;
    if (!dq || !isStd(dq, 'DequantizeLinear') || !konst(dq.inputs[1])) return undefined;
    if (dq.inputs[2] && !konst(dq.inputs[2])) return undefined;
    if (!perAxisOk && !scalar(dq.inputs[1]!)) return undefined;
    const axis = konst(dq.inputs[1])!.data.length > 1 ? attrInt(dq, 'axis', 1) : undefined;
    return { x: dq.inputs[0]!, scale: dq.inputs[1]!, zero: dq.inputs[2] ?? '', axis, dq };
  };
  /** The integer type behind a dequantized activation: its zero point's, else its QuantizeLinear's (uint8). */
  const qtype = (s: DqSource): DType => konst(s.zero)?.dtype ?? konst(s.x)?.dtype ?? 'uint8';
  const addInit = (base: string, t: Tensor): string => {
    const name = fresh(base);
    g.initializers.set(name, t);
    return name;
  };
  const zeroOf = (zero: string, dtype: DType, len = 1): string =>
    zero ||
    addInit(
      'zero_point',
      makeTensor(dtype, len > 1 ? [len] : [], dtype === 'int8' ? new Int8Array(len) : new Uint8Array(len)),
    );

  // Replacement node lists keyed by the node they take the place of (the pattern's QuantizeLinear), and the nodes
  // that disappear (the float op and an activation that moves after the integer op).
  const replace = new Map<Node, Node[]>();
  const removed = new Set<Node>();
  const msNode = (opType: string, inputs: string[], outputs: string[], attrs = new Map<string, Attribute>()): Node => ({
    name: fresh(opType),
    opType,
    domain: MS_DOMAIN,
    inputs,
    outputs,
    attributes: attrs,
  });

  for (const qn of g.nodes) {
    if (!isStd(qn, 'QuantizeLinear') || !konst(qn.inputs[1]) || !scalar(qn.inputs[1]!)) continue;
    if (qn.inputs[2] && !konst(qn.inputs[2])) continue;
    if (qn.attributes.has('output_dtype')) continue;
    const yq = qn.outputs[0]!;
    const ys = qn.inputs[1]!;
    const yType: DType = konst(qn.inputs[2])?.dtype ?? 'uint8';
    let y = qn.inputs[0]!;
    let p = index.producer.get(y);
    // An activation between the op and its QuantizeLinear moves after the integer op (see the header).
    let act: Node | undefined;
    if (p && (isStd(p, 'Relu') || isStd(p, 'Clip')) && hasSingleUse(index, y)) {
      act = p;
      y = p.inputs[0]!;
      p = index.producer.get(y);
      if (!p || !['Conv', 'Add'].includes(p.opType)) continue;
    }
    if (!p || !hasSingleUse(index, y)) continue;
    const yz = zeroOf(qn.inputs[2] ?? '', yType);
    const out = act ? fresh(`${yq}_int`) : yq;
    const made = integerOp(p, out, ys, yz);
    if (!made) continue;
    made.name = p.name;
    const nodes = [made];
    if (act) {
      const d = fresh(`${out}_dq`);
      nodes.push({
        name: fresh(`${out}_DQ`),
        opType: 'DequantizeLinear',
        domain: '',
        inputs: [out, ys, yz],
        outputs: [d],
        attributes: new Map(),
      });
      nodes.push({ ...act, inputs: [d, ...act.inputs.slice(1)] }, qn);
      removed.add(act);
    }
    removed.add(p);
    replace.set(qn, nodes);
    count(made.domain ? `${made.domain}:${made.opType}` : made.opType);
  }

  /** The integer op computing Q(p(...)) into `out`, or undefined when p's operands do not fit one. */
  function integerOp(p: Node, out: string, ys: string, yz: string): Node | undefined {
    if (isStd(p, 'Conv')) {
      const x = dqOf(p.inputs[0]);
      const w = dqOf(p.inputs[1], true);
      const wq = konst(w?.x);
      if (!x || !w || !wq || wq.dtype !== 'int8' || wq.shape.length !== 4) return undefined;
      if (w.axis !== undefined && w.axis !== 0) return undefined;
      const M = wq.shape[0]!;
      const wScales = konst(w.scale)!.data as Float32Array;
      const ins = [
        x.x,
        x.scale,
        zeroOf(x.zero, qtype(x)),
        w.x,
        w.scale,
        zeroOf(w.zero, 'int8', wScales.length),
        ys,
        yz,
      ];
      if (p.inputs[2]) {
        const b = int32Bias(p.inputs[2], Number(konst(x.scale)!.data[0]), wScales, M);
        if (!b) return undefined;
        ins.push(b);
      }
      const n: Node = {
        name: p.name,
        opType: 'QLinearConv',
        domain: '',
        inputs: ins,
        outputs: [out],
        attributes: new Map(p.attributes),
      };
      return n;
    }
    if (isStd(p, 'MatMul')) {
      const a = dqOf(p.inputs[0]);
      const b = dqOf(p.inputs[1], true);
      const bq = konst(b?.x);
      if (!a || !b || !bq || bq.dtype !== 'int8' || bq.shape.length !== 2) return undefined;
      if (b.axis !== undefined && b.axis !== 1) return undefined;
      const bLen = konst(b.scale)!.data.length;
      const ins = [a.x, a.scale, zeroOf(a.zero, qtype(a)), b.x, b.scale, zeroOf(b.zero, 'int8', bLen), ys, yz];
      return { name: p.name, opType: 'QLinearMatMul', domain: '', inputs: ins, outputs: [out], attributes: new Map() };
    }
    if (isStd(p, 'Add')) {
      const a = dqOf(p.inputs[0]);
      const b = dqOf(p.inputs[1]);
      if (!a || !b) return undefined;
      const ins = [a.x, a.scale, zeroOf(a.zero, qtype(a)), b.x, b.scale, zeroOf(b.zero, qtype(b)), ys, yz];
      return msNode('QLinearAdd', ins, [out]);
    }
    if (isStd(p, 'GlobalAveragePool') || isStd(p, 'Sigmoid') || isStd(p, 'LeakyRelu')) {
      const x = dqOf(p.inputs[0]);
      if (!x) return undefined;
      const attrs = new Map(p.attributes);
      if (p.opType === 'GlobalAveragePool') attrs.set('channels_last', { kind: 'int', value: 0 });
      return msNode(`QLinear${p.opType}`, [x.x, x.scale, zeroOf(x.zero, qtype(x)), ys, yz], [out], attrs);
    }
    if (isStd(p, 'Concat')) {
      const parts = p.inputs.map((v) => dqOf(v));
      if (parts.some((s) => !s)) return undefined;
      const ins = [ys, yz, ...parts.flatMap((s) => [s!.x, s!.scale, zeroOf(s!.zero, qtype(s!))])];
      return msNode('QLinearConcat', ins, [out], new Map(p.attributes));
    }
    return undefined;
  }

  /** B's int32 values at scale x_scale * w_scale (requantized when the DQ's scale differs), as a new initializer. */
  function int32Bias(bName: string, xs: number, ws: Float32Array, M: number): string | undefined {
    const b = dqOf(bName, true);
    const bq = konst(b?.x);
    if (
      !b ||
      !bq ||
      bq.dtype !== 'int32' ||
      bq.data.length !== M ||
      (b.zero && konst(b.zero)!.data.some((v) => Number(v) !== 0))
    )
      return undefined;
    const bs = konst(b.scale)!.data;
    const want = (m: number): number => Math.fround(xs * (ws.length === 1 ? ws[0]! : ws[m]!));
    const got = (m: number): number => Number(bs.length === 1 ? bs[0] : bs[m]);
    let same = true;
    for (let m = 0; m < M; m++) if (!(Math.abs(got(m) - want(m)) <= 1e-6 * want(m))) same = false;
    if (same) return b.x;
    const v = Int32Array.from({ length: M }, (_, m) => roundHalfEven((Number(bq.data[m]) * got(m)) / want(m)));
    return addInit(`${b.x}_requant`, makeTensor('int32', [M], v));
  }

  // A final Gemm with a float output (the classifier head): com.microsoft.QGemm without y_scale.
  for (const n of g.nodes) {
    if (!isStd(n, 'Gemm') || removed.has(n)) continue;
    if (attrFloat(n, 'alpha', 1) !== 1 || attrFloat(n, 'beta', 1) !== 1 || attrInt(n, 'transA', 0) !== 0) continue;
    if ((index.consumers.get(n.outputs[0]!) ?? []).some((c) => isStd(c, 'QuantizeLinear'))) continue;
    const a = dqOf(n.inputs[0]);
    const b = dqOf(n.inputs[1], true);
    const bq = konst(b?.x);
    if (!a || !b || !bq || bq.dtype !== 'int8' || bq.shape.length !== 2) continue;
    const transB = attrInt(n, 'transB', 0);
    if (b.axis !== undefined && b.axis !== (transB ? 0 : 1)) continue;
    const N = transB ? bq.shape[0]! : bq.shape[1]!;
    const wScales = konst(b.scale)!.data as Float32Array;
    const ins = [a.x, a.scale, zeroOf(a.zero, qtype(a)), b.x, b.scale, zeroOf(b.zero, 'int8', wScales.length)];
    if (n.inputs[2]) {
      const c = int32Bias(n.inputs[2], Number(konst(a.scale)!.data[0]), wScales, N);
      if (!c) continue;
      ins.push(c);
    }
    const attrs = new Map<string, Attribute>([['transB', { kind: 'int', value: transB }]]);
    replace.set(n, [{ ...msNode('QGemm', ins, n.outputs, attrs), name: n.name }]);
    count(`${MS_DOMAIN}:QGemm`);
  }

  g.nodes = g.nodes.flatMap((n) => replace.get(n) ?? (removed.has(n) ? [] : [n]));
  eliminateDeadNodes(g);
  const usesMs = g.nodes.some((n) => n.domain === MS_DOMAIN);
  const opsetImports =
    usesMs && !model.opsetImports.some((o) => o.domain === MS_DOMAIN)
      ? [...model.opsetImports, { domain: MS_DOMAIN, version: 1 }]
      : model.opsetImports;
  return { model: { ...model, opsetImports, graph: g }, converted };
}
