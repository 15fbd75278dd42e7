/**
 * The peer's side of "where the time goes": onnxruntime-node's own profiler (enableProfiling), read back from
 * the JSON trace it writes. Each `*_kernel_time` event of category Node is one node execution; a node's time is
 * the median over the profiled runs (warm-up runs are dropped by keeping each node's last `runs` events).
 * onnxruntime names and fuses nodes its own way (Conv+Clip becomes one Conv), so the comparison is by its op
 * types, not node by node.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from '../bench/stats.js';
import type { InputTensor } from '../bench/inputs.js';
import { PeerUnavailable } from '../bench/targets.js';
import type { GroupProfile } from './aggregate.js';

interface OrtEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

/** Per-op-type rows from an onnxruntime profile trace: the last `runs` executions of each node. */
export function ortOpTypes(events: readonly OrtEvent[], runs: number): { byOpType: GroupProfile[]; totalMs: number } {
  const perNode = new Map<string, { op: string; durs: number[] }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || typeof e.dur !== 'number') continue;
    const n = perNode.get(e.name) ?? { op: e.args?.op_name ?? 'unknown', durs: [] };
    n.durs.push(e.dur / 1000);
    perNode.set(e.name, n);
  }
  const groups = new Map<string, GroupProfile>();
  let totalMs = 0;
  for (const n of perNode.values()) {
    const ms = median(n.durs.slice(-runs));
    totalMs += ms;
    const g = groups.get(n.op) ?? { key: n.op, count: 0, totalMs: 0, share: 0, macs: 0, gflops: 0, bytesMoved: 0 };
    g.count++;
    g.totalMs += ms;
    groups.set(n.op, g);
  }
  const byOpType = [...groups.values()].sort((a, b) => b.totalMs - a.totalMs);
  for (const g of byOpType) g.share = totalMs > 0 ? g.totalMs / totalMs : 0;
  return { byOpType, totalMs };
}

interface OrtNode {
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => unknown;
  InferenceSession: {
    create(
      bytes: Uint8Array,
      o: Record<string, unknown>,
    ): Promise<{
      run(f: Record<string, unknown>): Promise<unknown>;
      endProfiling(): unknown;
      release(): Promise<void>;
    }>;
  };
}

/** Profile `modelBytes` with onnxruntime-node on one thread; throws PeerUnavailable when it is not installed. */
export async function profileOrtNode(
  modelBytes: Uint8Array,
  inputs: readonly InputTensor[],
  opts: { runs: number; warmup: number },
): Promise<{ byOpType: GroupProfile[]; totalMs: number }> {
  let ort: OrtNode;
  try {
    ort = (await import('onnxruntime-node')) as unknown as OrtNode;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new PeerUnavailable('ort-node', "module 'onnxruntime-node' is not installed");
    }
    throw e;
  }
  const stem = `edgecnn-ort-profile-${process.pid}-${Date.now()}`;
  const prefix = join(tmpdir(), stem);
  const session = await ort.InferenceSession.create(modelBytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const feeds: Record<string, unknown> = {};
  for (const i of inputs) feeds[i.name] = new ort.Tensor(i.dtype, i.data, i.shape);
  for (let i = 0; i < opts.warmup + opts.runs; i++) await session.run(feeds);
  session.endProfiling();
  await session.release();
  // The trace lands at <prefix>_<date>.json (onnxruntime appends the timestamp).
  const files = readdirSync(tmpdir()).filter((f) => f.startsWith(stem) && f.endsWith('.json'));
  if (files.length === 0) throw new Error('onnxruntime-node wrote no profile file');
  const path = join(tmpdir(), files[0]!);
  try {
    return ortOpTypes(JSON.parse(readFileSync(path, 'utf8')) as OrtEvent[], opts.runs);
  } finally {
    if (existsSync(path)) rmSync(path);
  }
}
