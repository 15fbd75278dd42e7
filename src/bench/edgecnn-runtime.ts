/**
 * The bench's bridge to edgecnn's own runtime (src/runtime/session.ts). Profiled runs are joined with cost
 * data: for the wasm backend each timed step indexes a compiled step (kernel id, MACs, bytes moved, fused,
 * fallback); the reference backend has no compiled steps, so its per-node MACs and bytes come from graph
 * type inference and each op record's cost model. Input/output conversion steps are kept as their own rows.
 */
import { DTYPE_SIZE_BYTES } from '../ir/dtype.js';
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { type Tensor, makeTensor, sizeOf } from '../ir/tensor.js';
import { readModel } from '../onnx/index.js';
import { inferModelTypes, isConcrete } from '../ops/infer-types.js';
import { nodeOpset } from '../ops/reference-executor.js';
import { getOp } from '../ops/registry.js';
import { type Session, type SessionOptions, createSession } from '../runtime/session.js';
import type { InputTensor } from './inputs.js';
import { type LoadedTarget, type OutputValue, type ProfiledStep, PeerUnavailable } from './targets.js';

/** Per-node MACs and bytes read+written, from type inference with the run's concrete input shapes. */
export function nodeCosts(
  model: Model,
  inputShapes: Record<string, readonly number[]>,
): Map<string, { macs: number; bytesMoved: number }> {
  const { types } = inferModelTypes(model, { inputShapes });
  const costs = new Map<string, { macs: number; bytesMoved: number }>();
  for (const node of model.graph.nodes) {
    const ins = node.inputs.map((n) => (n === '' ? undefined : types.get(n)));
    const outs = node.outputs.map((n) => types.get(n) ?? {});
    let bytesMoved = 0;
    for (const t of [...ins, ...outs]) {
      if (t?.dtype && isConcrete(t.shape)) bytesMoved += sizeOf(t.shape) * DTYPE_SIZE_BYTES[t.dtype];
    }
    let macs = 0;
    try {
      macs = getOp(node.domain, node.opType)?.macs?.(ins, outs, { node, opset: nodeOpset(model, node) }) ?? 0;
    } catch {
      // a cost model that cannot handle these shapes leaves MACs at 0 rather than failing the profile
    }
    costs.set(node.name, { macs, bytesMoved });
  }
  return costs;
}

function outputsOf(out: Record<string, Tensor>, names: readonly string[]): OutputValue[] {
  return names.map((name) => {
    const t = out[name];
    if (!t) throw new EdgecnnError(`the session returned no output '${name}'`, 'internal');
    const d = t.data;
    const data =
      d instanceof BigInt64Array || d instanceof BigUint64Array ? Array.from(d, Number) : (d as ArrayLike<number>);
    return { name, shape: [...t.shape], data };
  });
}

/** Load `modelBytes` with edgecnn's runtime on `backend`, ready to run on `inputs`. */
export async function loadEdgecnn(
  modelBytes: Uint8Array,
  inputs: readonly InputTensor[],
  backend: 'wasm' | 'reference',
  threads: number,
  tuning: Pick<SessionOptions, 'tune' | 'tuning'> = {},
): Promise<LoadedTarget> {
  const target = backend === 'wasm' ? 'edgecnn-wasm' : 'edgecnn-reference';
  if (threads !== 1 && backend === 'reference') {
    throw new PeerUnavailable(target, `the reference backend runs on one thread (asked for ${threads})`);
  }
  const model = readModel(modelBytes);
  const inputShapes = Object.fromEntries(inputs.map((i) => [i.name, i.shape]));
  const session: Session = await createSession(model, { backend, inputShapes, threads, ...tuning });
  if (session.threads !== threads) {
    await session.close();
    // Measuring a single-threaded session under a t2 label would be a wrong number, so say why instead.
    throw new PeerUnavailable(target, `asked for ${threads} threads, the session runs on ${session.threads}`);
  }
  const feeds: Record<string, Tensor> = {};
  for (const i of inputs) feeds[i.name] = makeTensor(i.dtype, i.shape, i.data);
  let costs: Map<string, { macs: number; bytesMoved: number }> | undefined;
  return {
    async run() {
      return outputsOf(await session.run(feeds), session.outputNames);
    },
    async runProfiled(): Promise<ProfiledStep[]> {
      const { steps } = await session.runProfiled(feeds);
      return steps.map((t) => {
        const s = session.steps[t.index];
        // Fallback steps carry no cost model of their own; theirs is the node's, from type inference.
        if (s && !(s.kind === 'fallback' && s.macs === 0)) {
          return {
            nodeName: t.nodeName,
            opType: t.opType,
            kernelId: t.kernelId,
            timeMs: t.timeMs,
            macs: s.macs,
            bytesMoved: s.bytesMoved,
            fused: s.fused,
            fallback: s.kind === 'fallback',
          };
        }
        costs ??= nodeCosts(model, inputShapes);
        const c = costs.get(t.nodeName);
        return {
          nodeName: t.nodeName,
          opType: t.opType,
          kernelId: t.kernelId,
          timeMs: t.timeMs,
          macs: c?.macs ?? 0,
          bytesMoved: c?.bytesMoved ?? 0,
          fused: s?.fused ?? false,
          fallback: s ? s.kind === 'fallback' : backend === 'reference',
        };
      });
    },
    arenaBytes: backend === 'wasm' ? session.arena.arenaBytes : undefined,
    async dispose() {
      await session.close();
    },
  };
}
