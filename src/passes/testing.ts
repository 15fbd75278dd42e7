/**
 * Helpers for pass tests: run one pass under the instruments with verification on, and check numerical
 * equivalence of two models on the reference executor. A graph holding edgecnn nodes runs directly when the op
 * table has their records, and always also in its expanded (standard ONNX) form, so both paths are checked.
 */
import assert from 'node:assert/strict';
import { randomF32 } from '../ir/builder.js';
import { EDGECNN_DOMAIN, type Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { runReference, runtimeInputs } from '../ops/reference-executor.js';
import { getOp } from '../ops/registry.js';
import { expandFusedNodesPass } from './expand-fused-nodes.js';
import { runPasses } from './instrument.js';
import type { Pass } from './pass.js';

/** Run passes (verify-each on) and return the new model and the notes they left. */
export function applyPasses(
  model: Model,
  passes: readonly Pass[],
  inputShapes?: Record<string, readonly number[]>,
): { model: Model; notes: string[] } {
  const r = runPasses(model, passes, { verifyEach: true, ...(inputShapes ? { inputShapes } : {}) });
  return { model: r.model, notes: r.records.flatMap((x) => x.notes) };
}

/** Seeded float32 inputs for every runtime input of a model (shapes must be concrete). */
export function randomInputs(model: Model, seed = 7, lo = -2, hi = 2): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const [k, vi] of runtimeInputs(model.graph).entries()) {
    const shape = model.graph.inputs.find((i) => i.name === vi.name)!.shape as number[];
    feeds[vi.name] = randomF32(shape, seed + k, lo, hi);
  }
  return feeds;
}

/** Max |a - b| over every output, and max |a|. */
export function maxDiff(a: Record<string, Tensor>, b: Record<string, Tensor>): { abs: number; magnitude: number } {
  let abs = 0;
  let magnitude = 0;
  for (const [name, t] of Object.entries(a)) {
    const u = b[name];
    assert.ok(u, `output '${name}' missing`);
    assert.deepEqual([...u.shape], [...t.shape], `output '${name}' shape`);
    for (let i = 0; i < t.data.length; i++) {
      magnitude = Math.max(magnitude, Math.abs(Number(t.data[i])));
      abs = Math.max(abs, Math.abs(Number(t.data[i]) - Number(u.data[i])));
    }
  }
  return { abs, magnitude };
}

/**
 * Assert that `after` computes what `before` does on seeded inputs, within `relTol` of the largest output
 * magnitude (folding reassociates float32 arithmetic, so exact equality is not expected).
 */
export function assertEquivalent(before: Model, after: Model, relTol = 1e-5, inputs = randomInputs(before)): void {
  const want = runReference(before, inputs);
  const hasFused = after.graph.nodes.some((n) => n.domain === EDGECNN_DOMAIN);
  const runs: [string, Model][] = [];
  if (!hasFused || after.graph.nodes.every((n) => getOp(n.domain, n.opType) !== undefined)) runs.push(['as is', after]);
  if (hasFused) runs.push(['expanded', applyPasses(after, [expandFusedNodesPass]).model]);
  for (const [how, m] of runs) {
    const d = maxDiff(want, runReference(m, inputs));
    assert.ok(
      d.abs <= relTol * Math.max(d.magnitude, 1e-30),
      `${how}: max |diff| ${d.abs} exceeds ${relTol} x ${d.magnitude}`,
    );
  }
}
