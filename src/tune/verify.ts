/**
 * The whole-model check of a tuning: the untuned and the tuned compile of one model, instantiated side by side
 * on seeded random inputs (zeros for non-float inputs), warmed up alike, then run alternately (which goes first
 * flips every round) until both have `maxRuns` runs or `maxMs` passed; the result is each one's median.
 * Kernels timed alone can mislead in a model (caches, neighbours' layouts), and this is the number users see.
 */
import { type Tensor, makeTensor } from '../ir/tensor.js';
import { seededRandom } from '../ir/builder.js';
import type { CompiledModel } from '../runtime/compiled-model.js';
import type { Executor } from '../runtime/executor.js';

function inputsFor(compiled: CompiledModel): Record<string, Tensor> {
  const rand = seededRandom(7);
  const out: Record<string, Tensor> = {};
  for (const p of compiled.inputs) {
    const t = makeTensor(p.dtype, p.shape);
    if (t.data instanceof Float32Array) for (let i = 0; i < t.data.length; i++) t.data[i] = rand() * 2 - 1;
    out[p.name] = t;
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median run time of the untuned (`costModel`) and the tuned compile, measured interleaved. */
export async function compareWholeModels(
  costModel: CompiledModel,
  tuned: CompiledModel,
  instantiate: (c: CompiledModel) => Promise<Executor>,
  options: { maxRuns?: number; maxMs?: number; warmupRuns?: number } = {},
): Promise<{ costModelMs: number; tunedMs: number; runs: number }> {
  const maxRuns = options.maxRuns ?? 21;
  const maxMs = options.maxMs ?? 3000;
  const execs = [await instantiate(costModel), await instantiate(tuned)] as const;
  const inputs = inputsFor(costModel);
  for (let i = 0; i < (options.warmupRuns ?? 3); i++) for (const e of execs) e.run(inputs);
  const times: [number[], number[]] = [[], []];
  const t0 = performance.now();
  for (let r = 0; r < maxRuns; r++) {
    if (r >= 5 && performance.now() - t0 > maxMs) break;
    for (const k of r % 2 ? [1, 0] : [0, 1]) {
      const t = performance.now();
      execs[k]!.run(inputs);
      times[k]!.push(performance.now() - t);
    }
    // Let a browser page paint between rounds.
    if (r % 4 === 3) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return { costModelMs: median(times[0]), tunedMs: median(times[1]), runs: times[0].length };
}
