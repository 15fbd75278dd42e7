/**
 * Per-node profiles from several profiled runs. Runs are matched step by step (every run executes the same
 * schedule, which is checked); a step's time is its median over runs, so one preempted run does not move it.
 * Shares are of the sum of step medians. GFLOP/s counts 2 FLOP per MAC; arithmetic intensity is FLOP per byte
 * moved (activations and weights read plus outputs written), the x axis of a roofline plot.
 */
import { EdgecnnError } from '../ir/errors.js';
import type { ProfiledStep } from '../bench/targets.js';
import { median } from '../bench/stats.js';

export interface NodeProfile {
  index: number;
  nodeName: string;
  opType: string;
  kernelId: string;
  medianMs: number;
  /** Fraction of the summed step medians, in [0, 1]. */
  share: number;
  macs: number;
  gflops: number;
  bytesMoved: number;
  /** FLOP per byte moved; 0 when no bytes are known. */
  intensity: number;
  fused: boolean;
  fallback: boolean;
}

export interface GroupProfile {
  key: string;
  count: number;
  totalMs: number;
  share: number;
  macs: number;
  gflops: number;
  bytesMoved: number;
}

export interface TimelineSpan {
  nodeName: string;
  opType: string;
  kernelId: string;
  startMs: number;
  durMs: number;
}

export interface ProfileSummary {
  runs: number;
  /** Median over runs of the whole profiled run (sum of its steps). */
  totalMedianMs: number;
  nodes: NodeProfile[];
  byOpType: GroupProfile[];
  byKernel: GroupProfile[];
  /**
   * A typical inference: every step at its median time, laid end to end in schedule order. Unlike any single
   * recorded run it carries no preemption gaps (those are in the Chrome trace, which keeps every run).
   */
  timeline: TimelineSpan[];
}

function gflops(macs: number, ms: number): number {
  return ms > 0 ? (2 * macs) / (ms * 1e6) : 0;
}

function group(nodes: readonly NodeProfile[], keyOf: (n: NodeProfile) => string, total: number): GroupProfile[] {
  const m = new Map<string, GroupProfile>();
  for (const n of nodes) {
    const k = keyOf(n);
    const g = m.get(k) ?? { key: k, count: 0, totalMs: 0, share: 0, macs: 0, gflops: 0, bytesMoved: 0 };
    g.count++;
    g.totalMs += n.medianMs;
    g.macs += n.macs;
    g.bytesMoved += n.bytesMoved;
    m.set(k, g);
  }
  const out = [...m.values()];
  for (const g of out) {
    g.share = total > 0 ? g.totalMs / total : 0;
    g.gflops = gflops(g.macs, g.totalMs);
  }
  return out.sort((a, b) => b.totalMs - a.totalMs);
}

/** Aggregate profiled runs of one schedule into per-node, per-op-type and per-kernel rows. */
export function aggregateProfile(runs: readonly (readonly ProfiledStep[])[]): ProfileSummary {
  if (runs.length === 0) throw new EdgecnnError('no profiled runs to aggregate', 'internal');
  const first = runs[0]!;
  for (const [r, run] of runs.entries()) {
    if (run.length !== first.length || run.some((s, i) => s.nodeName !== first[i]!.nodeName)) {
      throw new EdgecnnError(`profiled run ${r} executed a different schedule from run 0`, 'internal');
    }
  }
  const medians = first.map((_, i) => median(runs.map((run) => run[i]!.timeMs)));
  const total = medians.reduce((a, b) => a + b, 0);
  const nodes: NodeProfile[] = first.map((s, i) => ({
    index: i,
    nodeName: s.nodeName,
    opType: s.opType,
    kernelId: s.kernelId,
    medianMs: medians[i]!,
    share: total > 0 ? medians[i]! / total : 0,
    macs: s.macs,
    gflops: gflops(s.macs, medians[i]!),
    bytesMoved: s.bytesMoved,
    intensity: s.bytesMoved > 0 ? (2 * s.macs) / s.bytesMoved : 0,
    fused: s.fused,
    fallback: s.fallback,
  }));
  const totals = runs.map((run) => run.reduce((a, s) => a + s.timeMs, 0));
  let t = 0;
  const timeline = nodes.map((n) => {
    const span = { nodeName: n.nodeName, opType: n.opType, kernelId: n.kernelId, startMs: t, durMs: n.medianMs };
    t += n.medianMs;
    return span;
  });
  return {
    runs: runs.length,
    totalMedianMs: median(totals),
    nodes,
    byOpType: group(nodes, (n) => n.opType, total),
    byKernel: group(nodes, (n) => n.kernelId, total),
    timeline,
  };
}

/** The `n` most expensive nodes by median time. */
export function topNodes(p: ProfileSummary, n: number): NodeProfile[] {
  return [...p.nodes].sort((a, b) => b.medianMs - a.medianMs).slice(0, n);
}
