/**
 * Sensitivity analysis and mixed precision. Sensitivity quantizes one layer at a time (every other layer
 * float) and measures the model output against the float output on a few samples (SQNR and cosine); the lower
 * the SQNR, the more that layer alone hurts. Mixed precision then starts from the fully quantized model and
 * keeps layers float, in order of sensitivity (worst first) or in graph order from the input (a float prefix), until
 * the measured accuracy loss on an evaluation set is within the budget, re-measuring after each step; by default it
 * runs both orders and keeps the result with the fewest fp32 MACs. The result says which layers stayed fp32 and why.
 */
import { EdgecnnError } from '../ir/errors.js';
import type { Tensor } from '../ir/tensor.js';
import { summarizeModel } from '../ops/model-summary.js';
import { type Runner, type RunnerFactory, agreement, referenceRunner } from './evaluate.js';
import { type Calibration, type QuantizeOptions, type QuantizeResult, buildQdqModel } from './quantize-model.js';

export interface SensitivityRow {
  layer: string;
  opType: string;
  /** Output SQNR in dB with only this layer quantized (mean over the samples). */
  sqnrDb: number;
  /** Mean cosine similarity of the outputs. */
  cosine: number;
}

async function outputs(run: Runner, samples: readonly Tensor[]): Promise<Tensor[]> {
  const out: Tensor[] = [];
  for (const s of samples) out.push(await run(s));
  return out;
}

/** Per-layer sensitivity, most sensitive (lowest SQNR) first. Weighted layers only unless `allLayers`. */
export async function layerSensitivity(
  cal: Calibration,
  samples: readonly Tensor[],
  options: QuantizeOptions & {
    runner?: RunnerFactory;
    allLayers?: boolean;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<SensitivityRow[]> {
  const factory = options.runner ?? referenceRunner;
  const ref = await outputs(await factory(cal.model), samples);
  const layers = cal.layers.filter((l) => options.allLayers || l.weight !== undefined);
  const rows: SensitivityRow[] = [];
  for (const [i, l] of layers.entries()) {
    const others = cal.layers.filter((o) => o.name !== l.name).map((o) => o.name);
    const q = buildQdqModel(cal, { ...options, simulateWeights: true, fp32Layers: others });
    const got = await outputs(await factory(q.model), samples);
    let sqnr = 0;
    let cos = 0;
    got.forEach((g, k) => {
      const a = agreement(ref[k]!, g);
      sqnr += Math.min(a.sqnrDb, 200);
      cos += a.cosine;
    });
    rows.push({ layer: l.name, opType: l.opType, sqnrDb: sqnr / samples.length, cosine: cos / samples.length });
    options.onProgress?.(i + 1, layers.length);
  }
  return rows.sort((a, b) => a.sqnrDb - b.sqnrDb);
}

export interface MixedPrecisionStep {
  fp32Layers: string[];
  accuracy: number;
}

/**
 * The order in which mixed precision keeps layers fp32. `sensitivity`: worst layer alone first (weighted layers).
 * `depth`: graph order from the input, every layer kind (an error made early is amplified by each layer after it,
 * so deep random-like networks often need a float prefix, and a prefix has a single float/int8 boundary).
 * `cheapest`: both, keeping the result within budget with the fewest fp32 MACs.
 */
export type MixedPrecisionOrder = 'sensitivity' | 'depth' | 'cheapest';
export const MIXED_PRECISION_ORDERS: readonly MixedPrecisionOrder[] = ['sensitivity', 'depth', 'cheapest'];

/** One finished search of `fitAccuracyBudget`. */
export interface MixedPrecisionSearch {
  order: 'sensitivity' | 'depth';
  fp32Layers: string[];
  /** MACs of the layers kept fp32 (what mixed precision gives up), from the model summary. */
  fp32Macs: number;
  accuracy: number;
  withinBudget: boolean;
}

export interface MixedPrecisionResult {
  result: QuantizeResult;
  floatAccuracy: number;
  accuracy: number;
  withinBudget: boolean;
  /** Each measured configuration of the chosen search, from all-int8 on. */
  steps: MixedPrecisionStep[];
  /** Layers kept fp32 with the reason. */
  kept: { layer: string; reason: string }[];
  /** The order that produced `result`. */
  order: 'sensitivity' | 'depth';
  /** MACs of the layers kept fp32. */
  fp32Macs: number;
  /** Every search run (one, or two for `cheapest`), the chosen one first. */
  searches: MixedPrecisionSearch[];
}

export interface MixedPrecisionOptions extends QuantizeOptions {
  onStep?: (step: MixedPrecisionStep) => void;
  /** Why the next layer is kept, given the current metric (default: the loss in points vs the budget). */
  describe?: (accuracy: number, floatAccuracy: number) => string;
  /** Default `cheapest`. */
  order?: MixedPrecisionOrder;
}

/** MACs per layer (main node) name; layers the summary cannot size count 0. */
function layerMacs(cal: Calibration): Map<string, number> {
  try {
    return new Map(summarizeModel(cal.model).layers.map((l) => [l.name, l.macs]));
  } catch {
    return new Map();
  }
}

/**
 * Keep layers fp32 in `options.order` until `floatAccuracy - accuracy <= budget` (accuracy in percent points,
 * measured by `evaluate` on the QDQ model). A search stops when every candidate layer is fp32. With `cheapest`
 * (the default) both orders run (configurations measured once) and the result within budget with the fewest
 * fp32 MACs wins (fewer layers on a tie; the most accurate when neither is within budget).
 */
export async function fitAccuracyBudget(
  cal: Calibration,
  ranked: readonly SensitivityRow[],
  budget: number,
  evaluate: (model: QuantizeResult['model']) => Promise<number>,
  options: MixedPrecisionOptions = {},
): Promise<MixedPrecisionResult> {
  const describe =
    options.describe ?? ((acc: number, fl: number) => `loss ${(fl - acc).toFixed(2)} points > budget ${budget}`);
  const order = options.order ?? 'cheapest';
  if (!MIXED_PRECISION_ORDERS.includes(order)) {
    throw new EdgecnnError(
      `mixed precision order '${String(order)}': expected ${MIXED_PRECISION_ORDERS.join(', ')}`,
      'bad-argument',
    );
  }
  const floatAccuracy = await evaluate(cal.model);
  const macs = layerMacs(cal);
  const base = [...(options.fp32Layers ?? [])];
  const measured = new Map<string, number>();
  const measure = async (fp32: string[]): Promise<{ result: QuantizeResult; accuracy: number }> => {
    const result = buildQdqModel(cal, { ...options, fp32Layers: fp32 });
    const key = [...fp32].sort().join('\n');
    let accuracy = measured.get(key);
    if (accuracy === undefined) measured.set(key, (accuracy = await evaluate(result.model)));
    return { result, accuracy };
  };
  const candidates = (o: 'sensitivity' | 'depth'): { layer: string; why: string }[] =>
    o === 'sensitivity'
      ? ranked.map((r) => ({
          layer: r.layer,
          why: `most sensitive remaining layer (alone: SQNR ${r.sqnrDb.toFixed(1)} dB)`,
        }))
      : cal.layers.map((l) => ({ layer: l.name, why: 'next layer from the input (depth order)' }));

  const search = async (o: 'sensitivity' | 'depth') => {
    const kept: { layer: string; reason: string }[] = [];
    const steps: MixedPrecisionStep[] = [];
    let { result, accuracy } = await measure(base);
    steps.push({ fp32Layers: [...base], accuracy });
    options.onStep?.(steps[0]!);
    for (const c of candidates(o)) {
      if (floatAccuracy - accuracy <= budget) break;
      if (base.includes(c.layer)) continue;
      kept.push({ layer: c.layer, reason: `${describe(accuracy, floatAccuracy)}; ${c.why}` });
      const fp32 = [...base, ...kept.map((k) => k.layer)];
      ({ result, accuracy } = await measure(fp32));
      const step = { fp32Layers: fp32, accuracy };
      steps.push(step);
      options.onStep?.(step);
    }
    const fp32Layers = [...base, ...kept.map((k) => k.layer)];
    const fp32Macs = fp32Layers.reduce((s, l) => s + (macs.get(l) ?? 0), 0);
    const withinBudget = floatAccuracy - accuracy <= budget;
    return { order: o, result, accuracy, kept, steps, fp32Layers, fp32Macs, withinBudget };
  };

  const runs = order === 'cheapest' ? [await search('sensitivity'), await search('depth')] : [await search(order)];
  const better = (a: (typeof runs)[number], b: (typeof runs)[number]): boolean => {
    if (a.withinBudget !== b.withinBudget) return a.withinBudget;
    if (!a.withinBudget) return a.accuracy > b.accuracy;
    if (a.fp32Macs !== b.fp32Macs) return a.fp32Macs < b.fp32Macs;
    return a.fp32Layers.length < b.fp32Layers.length;
  };
  const best = runs.reduce((a, b) => (better(b, a) ? b : a));
  for (const k of best.kept) {
    const rep = best.result.layers.find((l) => l.name === k.layer);
    if (rep) rep.reason = k.reason;
  }
  const searches = [best, ...runs.filter((r) => r !== best)].map((r) => ({
    order: r.order,
    fp32Layers: r.fp32Layers,
    fp32Macs: r.fp32Macs,
    accuracy: r.accuracy,
    withinBudget: r.withinBudget,
  }));
  return {
    result: best.result,
    floatAccuracy,
    accuracy: best.accuracy,
    withinBudget: best.withinBudget,
    steps: best.steps,
    kept: best.kept,
    order: best.order,
    fp32Macs: best.fp32Macs,
    searches,
  };
}

/**
 * Output-fidelity budget: keep layers fp32 in sensitivity order until the mean cosine similarity between the
 * float and quantized outputs on `samples` reaches `minCosine` (for models without a labelled set).
 */
export async function fitCosineBudget(
  cal: Calibration,
  ranked: readonly SensitivityRow[],
  samples: readonly Tensor[],
  minCosine: number,
  options: MixedPrecisionOptions & { runner?: RunnerFactory } = {},
): Promise<MixedPrecisionResult> {
  const factory = options.runner ?? referenceRunner;
  const ref = await outputs(await factory(cal.model), samples);
  const evaluate = async (m: QuantizeResult['model']): Promise<number> => {
    if (m === cal.model) return 100;
    const got = await outputs(await factory(m), samples);
    return (100 * got.reduce((s, g, k) => s + agreement(ref[k]!, g).cosine, 0)) / samples.length;
  };
  return fitAccuracyBudget(cal, ranked, 100 * (1 - minCosine), evaluate, {
    ...options,
    describe: (acc) => `output cosine ${(acc / 100).toFixed(8)} < ${minCosine}`,
  });
}
