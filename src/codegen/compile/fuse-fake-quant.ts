/**
 * A QuantizeLinear whose result is only dequantized (the QDQ format's activation pairs) computes, in float,
 *   y = (clamp(roundHalfEven(x / s1) + z1, qmin, qmax) - z2) * s2
 * with per-tensor (scalar) scales and zero points. This lowering-level rewrite replaces each such
 * DequantizeLinear by one `edgecnn:FakeQuantize` node on the float input (attributes `scale_q`, `zero_q`,
 * `scale_dq`, `zero_dq`, `qmin`, `qmax`) and drops the QuantizeLinear once nothing else reads it, so the
 * integer tensor never exists. Per-axis parameters, non-constant ones and other consumers stay as they are.
 */
import type { Attribute, Node } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import type { PreparedGraph } from './prepare.js';

const RANGES: Record<string, [number, number]> = { uint8: [0, 255], int8: [-128, 127] };

function scalar(prep: PreparedGraph, name: string | undefined): Tensor | undefined {
  if (!name) return undefined;
  const t = prep.constants.get(name);
  return t && t.data.length === 1 ? t : undefined;
}

/** The rewritten node list (the prepared graph is not modified). */
export function fuseFakeQuantize(prep: PreparedGraph, nodes: readonly Node[]): Node[] {
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const readers = new Map<string, Node[]>();
  for (const n of nodes) for (const x of n.inputs) if (x) readers.set(x, [...(readers.get(x) ?? []), n]);
  const outputs = new Set(prep.outputNames);

  const replace = new Map<Node, Node>();
  const fusedReaders = new Map<Node, number>();
  for (const dq of nodes) {
    if (dq.opType !== 'DequantizeLinear' || dq.domain !== '') continue;
    const q = producer.get(dq.inputs[0]!);
    if (!q || q.opType !== 'QuantizeLinear' || q.domain !== '') continue;
    const x = prep.types.get(q.inputs[0]!);
    const y = prep.types.get(dq.outputs[0]!);
    if (!x || x.dtype !== 'float32' || !y || y.dtype !== 'float32') continue;
    const s1 = scalar(prep, q.inputs[1]);
    const s2 = scalar(prep, dq.inputs[1]);
    const z1 = q.inputs[2] ? scalar(prep, q.inputs[2]) : undefined;
    const z2 = dq.inputs[2] ? scalar(prep, dq.inputs[2]) : undefined;
    if (!s1 || !s2 || (q.inputs[2] && !z1) || (dq.inputs[2] && !z2)) continue;
    if (s1.dtype !== 'float32' || s2.dtype !== 'float32') continue;
    const qType = z1?.dtype ?? 'uint8';
    const range = RANGES[qType];
    if (!range || (z2 && z2.dtype !== qType)) continue;
    const f = (value: number): Attribute => ({ kind: 'float', value });
    replace.set(dq, {
      name: dq.name,
      opType: 'FakeQuantize',
      domain: 'edgecnn',
      inputs: [q.inputs[0]!],
      outputs: [dq.outputs[0]!],
      attributes: new Map([
        ['scale_q', f(Number(s1.data[0]))],
        ['zero_q', f(z1 ? Number(z1.data[0]) : 0)],
        ['scale_dq', f(Number(s2.data[0]))],
        ['zero_dq', f(z2 ? Number(z2.data[0]) : 0)],
        ['qmin', f(range[0])],
        ['qmax', f(range[1])],
      ]),
    });
    fusedReaders.set(q, (fusedReaders.get(q) ?? 0) + 1);
  }
  const drop = new Set<Node>();
  for (const [q, n] of fusedReaders) {
    if (!outputs.has(q.outputs[0]!) && (readers.get(q.outputs[0]!) ?? []).length === n) drop.add(q);
  }
  return nodes.filter((n) => !drop.has(n)).map((n) => replace.get(n) ?? n);
}
