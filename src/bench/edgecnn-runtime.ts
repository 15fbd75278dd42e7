/**
 * The bench's bridge to edgecnn itself: ONNX bytes -> IR, then a session from src/runtime/session.ts. While
 * that runtime is not built, the 'reference' backend falls back to the reference executor wrapped as a
 * session (per-node times from its onNode callback, MACs from each op record's cost model), and 'wasm'
 * reports itself unavailable so the harness skips it like a missing peer.
 */
import { DTYPE_SIZE_BYTES } from '../ir/dtype.js';
import type { Model } from '../ir/graph.js';
import { type Tensor, sizeOf } from '../ir/tensor.js';
import { readModel } from '../onnx/index.js';
import { nodeOpset, runReference } from '../ops/reference-executor.js';
import { getOp } from '../ops/registry.js';
import type { ValueType } from '../ops/types.js';
import { PeerUnavailable } from './targets.js';

export async function loadEdgecnnModel(bytes: Uint8Array): Promise<Model> {
  return readModel(bytes);
}

export interface SessionOptions {
  backend: 'wasm' | 'reference';
  threads: number;
}

/** A module path held in a variable so the bench compiles before the runtime module exists. */
const SESSION_MODULE = '../runtime/session.js';

/** A session from the runtime when it is built; otherwise the reference fallback (reference backend only). */
export async function createEdgecnnSession(model: Model, options: SessionOptions): Promise<unknown> {
  let runtime: { createSession?: (m: Model, o: Record<string, unknown>) => unknown } | undefined;
  try {
    runtime = (await import(SESSION_MODULE)) as typeof runtime;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND') throw e;
  }
  if (runtime?.createSession)
    return await runtime.createSession(model, { backend: options.backend, threads: options.threads });
  if (options.backend === 'reference') return referenceSession(model);
  throw new PeerUnavailable('edgecnn-wasm', 'src/runtime/session.ts (createSession) is not built yet');
}

function tensorBytes(t: { dtype: Tensor['dtype']; shape: readonly number[] }): number {
  return sizeOf(t.shape) * DTYPE_SIZE_BYTES[t.dtype];
}

/** The reference executor as a session: exact, slow, and profiled per node. */
export function referenceSession(model: Model) {
  const graph = model.graph;
  return {
    async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
      return runReference(model, inputs);
    },
    async runProfiled(inputs: Record<string, Tensor>) {
      const types = new Map<string, ValueType>();
      for (const [name, t] of graph.initializers) types.set(name, { dtype: t.dtype, shape: [...t.shape] });
      for (const [name, t] of Object.entries(inputs)) types.set(name, { dtype: t.dtype, shape: [...t.shape] });
      const steps: {
        nodeName: string;
        opType: string;
        kernelId: string;
        timeMs: number;
        macs: number;
        bytesMoved: number;
        fused: boolean;
        fallback: boolean;
      }[] = [];
      let last = performance.now();
      runReference(model, inputs, {
        onNode(node, outputs) {
          const timeMs = performance.now() - last;
          const inTypes = node.inputs.map((n) => (n === '' ? undefined : types.get(n)));
          const outTypes: ValueType[] = outputs.map((t) => ({ dtype: t.dtype, shape: [...t.shape] }));
          node.outputs.forEach((n, i) => outputs[i] && types.set(n, outTypes[i]!));
          let bytesMoved = 0;
          for (const t of [...inTypes, ...outTypes]) {
            if (t?.dtype && t.shape && t.shape.every((d) => typeof d === 'number')) {
              bytesMoved += tensorBytes({ dtype: t.dtype, shape: t.shape as number[] });
            }
          }
          let macs = 0;
          try {
            macs =
              getOp(node.domain, node.opType)?.macs?.(inTypes, outTypes, { node, opset: nodeOpset(model, node) }) ?? 0;
          } catch {
            // a cost model that cannot handle these shapes leaves MACs at 0 rather than failing the profile
          }
          steps.push({
            nodeName: node.name,
            opType: node.opType,
            kernelId: `ref-${node.opType}`,
            timeMs,
            macs,
            bytesMoved,
            fused: false,
            fallback: true,
          });
          last = performance.now();
        },
      });
      return { steps };
    },
  };
}
