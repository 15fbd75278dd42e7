/**
 * ShuffleNet's channel shuffle, Reshape [N,C,H,W] -> [N,g,C/g,H,W], Transpose perm (0,2,1,3,4), Reshape back to
 * [N,C,H,W], is one channel permutation per pixel in NHWC: out[c'] with c' = g*i + j takes in[(C/g)*j + i].
 * This lowering-level rewrite replaces the chain (its two intermediates read by nothing else) with one
 * `edgecnn:ChannelShuffle` node (attribute `group`), which the shuffle kernel computes; rank-5 values never
 * reach the arena.
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

  const drop = new Set<Node>();
  const replace = new Map<Node, Node>();
  for (const r2 of nodes) {
    if (r2.opType !== 'Reshape' || r2.domain !== '') continue;
    const t = producer.get(r2.inputs[0]!);
    if (!t || t.opType !== 'Transpose' || uses.get(t.outputs[0]!) !== 1) continue;
    if ((attrInts(t, 'perm') ?? []).join() !== '0,2,1,3,4') continue;
    const r1 = producer.get(t.inputs[0]!);
    if (!r1 || r1.opType !== 'Reshape' || uses.get(r1.outputs[0]!) !== 1) continue;
    const x = prep.types.get(r1.inputs[0]!);
    const mid = prep.types.get(r1.outputs[0]!);
    const y = prep.types.get(r2.outputs[0]!);
    if (!x || !mid || !y || x.dtype !== 'float32' || x.shape.length !== 4 || mid.shape.length !== 5) continue;
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const [n5, g, k, h5, w5] = mid.shape as [number, number, number, number, number];
    if (n5 !== N || g * k !== C || h5 !== H || w5 !== W || y.shape.join() !== x.shape.join()) continue;
    drop.add(r1);
    drop.add(t);
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
