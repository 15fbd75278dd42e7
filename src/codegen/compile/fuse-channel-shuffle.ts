/**
 * ShuffleNet's channel shuffle, Reshape [N,C,H,W] -> [N,g,C/g,H,W], Transpose perm (0,2,1,3,4), Reshape back to
 * [N,C,H,W], is one channel permutation per pixel in NHWC: out[c'] with c' = g*i + j takes in[(C/g)*j + i].
 * This lowering-level rewrite replaces the chain (its two intermediates read by nothing else) with one
 * `edgecnn:ChannelShuffle` node (attribute `group`), which the shuffle kernel computes; rank-5 values never
 * reach the arena. In QDQ models each step may be followed by a QuantizeLinear -> DequantizeLinear pair; when the
 * chain's input is itself dequantized with the same scale and zero point, the values stay on that grid and
 * every pair is exactly the identity, so the pairs go too (the int8 lowering then moves the bytes).
 */
import type { Node } from '../../ir/graph.js';
import { attrInts } from '../../ir/graph.js';
import type { PreparedGraph } from './prepare.js';

/** The rewritten node list (the prepared graph is not modified). */
export function fuseChannelShuffle(prep: PreparedGraph, nodes: readonly Node[]): Node[] {
  const uses = new Map<string, number>();
  for (const n of nodes) for (const x of n.inputs) if (x) uses.set(x, (uses.get(x) ?? 0) + 1);
  for (const o of prep.outputNames) uses.set(o, (uses.get(o) ?? 0) + 1);
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) if (o) producer.set(o, n);

  const scalarKey = (n: Node): string | undefined => {
    const s = prep.constants.get(n.inputs[1] ?? '');
    const z = n.inputs[2] ? prep.constants.get(n.inputs[2]) : undefined;
    if (!s || s.data.length !== 1 || (n.inputs[2] && (!z || z.data.length !== 1))) return undefined;
    return `${Number(s.data[0])}/${z ? `${z.dtype}:${Number(z.data[0])}` : 'uint8:0'}`;
  };
  /** The node making `v`, looking through one Q -> DQ pair (both read once) with parameters `key`. */
  const through = (v: string, key: string | undefined, pairs: Node[]): Node | undefined => {
    const p = producer.get(v);
    if (!p || p.opType !== 'DequantizeLinear' || p.domain !== '') return p;
    const q = producer.get(p.inputs[0]!);
    if (!key || !q || q.opType !== 'QuantizeLinear' || q.domain !== '' || uses.get(q.outputs[0]!) !== 1)
      return undefined;
    if (uses.get(q.inputs[0]!) !== 1 || scalarKey(p) !== key || scalarKey(q) !== key) return undefined;
    pairs.push(q, p);
    return producer.get(q.inputs[0]!);
  };

  const drop = new Set<Node>();
  const replace = new Map<Node, Node>();
  for (const r2 of nodes) {
    if (r2.opType !== 'Reshape' || r2.domain !== '') continue;
    // Pairs must have the parameters of the last one, checked against the chain input's below.
    const last = producer.get(r2.inputs[0]!);
    const key = last?.opType === 'DequantizeLinear' ? scalarKey(last) : undefined;
    const pairs: Node[] = [];
    const t = through(r2.inputs[0]!, key, pairs);
    if (!t || t.opType !== 'Transpose' || uses.get(t.outputs[0]!) !== 1) continue;
    if ((attrInts(t, 'perm') ?? []).join() !== '0,2,1,3,4') continue;
    const r1 = through(t.inputs[0]!, key, pairs);
    if (!r1 || r1.opType !== 'Reshape' || uses.get(r1.outputs[0]!) !== 1) continue;
    const src = producer.get(r1.inputs[0]!);
    if (pairs.length > 0 && (src?.opType !== 'DequantizeLinear' || scalarKey(src) !== key)) continue;
    const x = prep.types.get(r1.inputs[0]!);
    const mid = prep.types.get(r1.outputs[0]!);
    const y = prep.types.get(r2.outputs[0]!);
    if (!x || !mid || !y || x.dtype !== 'float32' || x.shape.length !== 4 || mid.shape.length !== 5) continue;
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const [n5, g, k, h5, w5] = mid.shape as [number, number, number, number, number];
    if (n5 !== N || g * k !== C || h5 !== H || w5 !== W || y.shape.join() !== x.shape.join()) continue;
    drop.add(r1);
    drop.add(t);
    for (const p of pairs) drop.add(p);
    replace.set(r2, {
      name: r2.name,
      opType: 'ChannelShuffle',
      domain: 'edgecnn',
      inputs: [r1.inputs[0]!],
      outputs: [r2.outputs[0]!],
      attributes: new Map([['group', { kind: 'int', value: g }]]),
    });
  }
  return nodes.filter((n) => !drop.has(n)).map((n) => replace.get(n) ?? n);
}
