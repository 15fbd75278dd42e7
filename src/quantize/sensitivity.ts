/**
 * Sensitivity analysis and mixed precision. Sensitivity quantizes one layer at a time (every other layer
 * float) and measures the model output against the float output on a few samples (SQNR and cosine); the lower
 * the SQNR, the more that layer alone hurts. Mixed precision then starts from the fully quantized model and
 * keeps layers float in order of sensitivity (worst first) until the measured accuracy loss on an evaluation
 * set is within the budget, re-measuring after each step; the result says which layers stayed fp32 and why.
 */
import type { Tensor } from '../ir/tensor.js';
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

export interface MixedPrecisionResult {
  result: QuantizeResult;
  floatAccuracy: number;
  accuracy: number;
  withinBudget: boolean;
  /** Each measured configuration, from all-int8 on. */
  steps: MixedPrecisionStep[];
  /** Layers kept fp32 with the reason. */
  kept: { layer: string; reason: string }[];
}

/**
 * Keep layers fp32 in sensitivity order until `floatAccuracy - accuracy <= budget` (accuracy in percent points,
 * measured by `evaluate` on the QDQ model). Stops when every ranked layer is fp32.
 */
export async function fitAccuracyBudget(
  cal: Calibration,
  ranked: readonly SensitivityRow[],
  budget: number,
  evaluate: (model: QuantizeResult['model']) => Promise<number>,
  options: QuantizeOptions & {
    onStep?: (step: MixedPrecisionStep) => void;
    /** Why the next layer is kept, given the current metric (default: the loss in points vs the budget). */
    describe?: (accuracy: number, floatAccuracy: number) => string;
  } = {},
): Promise<MixedPrecisionResult> {
  const describe =
    options.describe ?? ((acc: number, fl: number) => `loss ${(fl - acc).toFixed(2)} points > budget ${budget}`);
  const floatAccuracy = await evaluate(cal.model);
  const kept: { layer: string; reason: string }[] = [];
  const steps: MixedPrecisionStep[] = [];
  const base = [...(options.fp32Layers ?? [])];
  let result = buildQdqModel(cal, { ...options, fp32Layers: base });
  let accuracy = await evaluate(result.model);
  steps.push({ fp32Layers: [...base], accuracy });
  options.onStep?.(steps[0]!);
  for (const row of ranked) {
    if (floatAccuracy - accuracy <= budget) break;
    kept.push({
      layer: row.layer,
      reason: `${describe(accuracy, floatAccuracy)}; most sensitive remaining layer (alone: SQNR ${row.sqnrDb.toFixed(1)} dB)`,
    });
    const fp32 = [...base, ...kept.map((k) => k.layer)];
    result = buildQdqModel(cal, { ...options, fp32Layers: fp32 });
    accuracy = await evaluate(result.model);
    const step = { fp32Layers: fp32, accuracy };
    steps.push(step);
    options.onStep?.(step);
  }
  for (const k of kept) {
    const rep = result.layers.find((l) => l.name === k.layer);
    if (rep) rep.reason = k.reason;
  }
  return { result, floatAccuracy, accuracy, withinBudget: floatAccuracy - accuracy <= budget, steps, kept };
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
  options: QuantizeOptions & { runner?: RunnerFactory; onStep?: (step: MixedPrecisionStep) => void } = {},
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
