/**
 * Empirical bias correction: run the quantized and the float model on the calibration samples, take each
 * weighted layer's mean output error per output channel (before its clamp; axis 1 of NCHW or [N, M]) and
 * subtract it from the layer's bias. Layers go in graph order, each measured after every earlier layer was
 * corrected (sequentially: correcting all layers from one measurement over-corrects, since a layer's error
 * includes what upstream errors propagate, and on mobilenet_v2 that diverges). One QDQ build and one run of
 * the samples per layer. Weight rounding, activation clipping and ReLU's rectification of rounding noise all
 * shift channel means; the analytic correction in quantize-model.ts sees only the first.
 */
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { runReference, runtimeInputs } from '../ops/reference-executor.js';
import type { Progress, TensorCollector } from './calibrate.js';
import type { Layer } from './layers.js';
import { type Calibration, type QuantizeOptions, buildQdqModel } from './quantize-model.js';

export interface BiasCorrectionOptions extends QuantizeOptions {
  /** Collect tensors with this instead of the reference executor. */
  collector?: TensorCollector;
  onProgress?: Progress;
}

/** Whether a layer's bias is corrected: Conv and Gemm (MatMul has no bias input), quantized. */
function correctable(l: Layer, fp32: ReadonlySet<string>): boolean {
  return l.weight !== undefined && l.opType !== 'MatMul' && !fp32.has(l.name);
}

/**
 * Per-output-channel bias offsets (layer name -> offsets to add) that cancel the mean output error of the
 * QDQ model that `buildQdqModel(cal, options)` makes, measured on `samples`. Pass the result as
 * `biasOffsets` with the same options. Offsets already in `options.biasOffsets` are the starting point.
 */
export async function empiricalBiasCorrection(
  cal: Calibration,
  samples: readonly Tensor[],
  options: BiasCorrectionOptions = {},
): Promise<Map<string, Float64Array>> {
  const fp32 = new Set(options.fp32Layers ?? []);
  const layers = cal.layers.filter((l) => correctable(l, fp32));
  const offsets = new Map<string, Float64Array>();
  for (const [k, v] of options.biasOffsets ?? []) offsets.set(k, Float64Array.from(v));
  if (layers.length === 0 || samples.length === 0) return offsets;
  const floatMeans = await channelMeans(
    cal.model,
    layers.map((l) => l.node.outputs[0]!),
    samples,
    options.collector,
  );
  for (const [i, l] of layers.entries()) {
    const q = buildQdqModel(cal, { ...options, biasOffsets: offsets });
    // A folded clamp's node is gone and the layer's node writes the clamp's output name (unclamped values).
    const folded = q.layers.find((r) => r.name === l.name)!.clampFolded;
    const [g] = await channelMeans(q.model, [folded ? l.output : l.node.outputs[0]!], samples, options.collector);
    const f = floatMeans[i]!;
    const off = offsets.get(l.name) ?? new Float64Array(f.length);
    for (let c = 0; c < f.length; c++) off[c]! -= g![c]! - f[c]!;
    offsets.set(l.name, off);
    options.onProgress?.(i + 1, layers.length);
  }
  return offsets;
}

/** Mean over samples and positions of each channel (axis 1) of each named tensor. */
async function channelMeans(
  model: Model,
  names: readonly string[],
  samples: readonly Tensor[],
  collector: TensorCollector | undefined,
): Promise<Float64Array[]> {
  const sums: (Float64Array | undefined)[] = names.map(() => undefined);
  const add = (i: number, t: Tensor): void => {
    const C = t.shape[1] ?? 1;
    const N = t.shape[0] ?? 1;
    const inner = t.data.length / (N * C);
    const s = (sums[i] ??= new Float64Array(C));
    const d = t.data as Float32Array;
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++) {
        let acc = 0;
        const base = (n * C + c) * inner;
        for (let k = 0; k < inner; k++) acc += d[base + k]!;
        s[c]! += acc / (inner * N);
      }
  };
  if (collector) {
    const collect = await collector(model, names);
    for (const x of samples) {
      const got = await collect(x);
      names.forEach((n, i) => add(i, got.get(n)!));
    }
  } else {
    const input = runtimeInputs(model.graph)[0]!.name;
    for (const x of samples) {
      const got = runReference(model, { [input]: x }, { extraOutputs: names });
      names.forEach((n, i) => add(i, got[n]!));
    }
  }
  return sums.map((s) => s!.map((v) => v / samples.length));
}
