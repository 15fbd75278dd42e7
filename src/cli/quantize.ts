/**
 * `edgecnn quantize <model> --calibration <folder | .npy | synthetic[:N] | fashion-mnist[:N]> [--method ...]
 * [--per-channel | --per-tensor] [--activations uint8|int8] [--empirical-bias-correction] [--sensitivity]
 * [--accuracy-budget X --eval DATASET] [--format qdq|qoperator] -o out.onnx`: post-training int8 quantization to a
 * QDQ ONNX file, or QOperator (QLinearConv, QLinearMatMul, com.microsoft QLinearAdd/...; see src/quantize); a model
 * that is already QDQ is converted to QOperator without calibration. Calibration runs on the reference executor (onnxruntime with --engine onnxruntime) with a progress bar;
 * measurements (sensitivity, accuracy) run on --engine.
 */
import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadCalibrationSamples } from '../datasets/calibration-source.js';
import { EdgecnnError } from '../ir/errors.js';
import { loadModel, saveModel } from '../onnx/index.js';
import { compactNames } from '../passes/compact-names.js';
import {
  ACTIVATION_TYPES,
  type ActivationType,
  type QuantizeOptions,
  agreement,
  buildQdqModel,
  calibrateModel,
  empiricalBiasCorrection,
  evaluateTop1,
  fitAccuracyBudget,
  fitCosineBudget,
  formatLayerTable,
  formatMixedPrecision,
  formatMixedSearches,
  formatSensitivityTable,
  MIXED_PRECISION_ORDERS,
  type MixedPrecisionOrder,
  layerSensitivity,
  parseMethod,
  prepareFloatModel,
  progressBar,
  readQdqParams,
} from '../quantize/index.js';
import { qdqToQOperator } from '../quantize/qoperator-export.js';
import { flagBool, flagList, flagNumber, flagString } from './args.js';
import type { Command } from './command.js';
import {
  DATASETS,
  ENGINES,
  RUNNERS,
  fashionMnistTestSet,
  parseDataset,
  modelBatch,
  onnxruntimeCollector,
  parseEngine,
} from './eval.js';

/** `NAME=1x3x48x192` (or commas) per occurrence of --input-shape. */
function parseInputShapes(v: unknown): Record<string, number[]> | undefined {
  if (v === undefined) return undefined;
  const out: Record<string, number[]> = {};
  for (const s of (Array.isArray(v) ? v : [v]).map(String)) {
    const m = /^([^=]+)=(\d+(?:[x,]\d+)*)$/.exec(s);
    if (!m) throw new EdgecnnError(`--input-shape '${s}' must look like NAME=1x3x224x224`, 'bad-argument');
    out[m[1]!] = m[2]!.split(/[x,]/).map(Number);
  }
  return out;
}

export const command: Command = {
  name: 'quantize',
  synopsis: '<model.onnx> --calibration <folder|file.npy|synthetic[:N]|fashion-mnist[:N]> [options] -o <out.onnx>',
  summary: 'Post-training int8 quantization to QDQ ONNX (calibration, sensitivity, mixed precision)',
  flags: {
    output: { type: 'string', description: 'output ONNX file (same as -o)' },
    format: {
      type: 'string',
      description:
        'qdq (default: QuantizeLinear/DequantizeLinear pairs) or qoperator (QLinearConv, QLinearMatMul, ...)',
    },
    calibration: {
      type: 'string',
      description: 'calibration samples: image folder, .npy, synthetic[:N], fashion-mnist[:N] (training images)',
    },
    'calibration-limit': { type: 'number', description: 'use at most N calibration samples' },
    method: { type: 'string', description: 'activation ranges: minmax, percentile, entropy, mse (default)' },
    percentile: { type: 'number', description: 'percentile for --method percentile (default 99.99)' },
    'per-channel': { type: 'boolean', description: 'per-output-channel weight scales (the default)' },
    'per-tensor': { type: 'boolean', description: 'one weight scale per tensor instead' },
    activations: { type: 'string', description: 'activation type: uint8 (default) or int8, asymmetric' },
    'no-bias-correction': { type: 'boolean', description: 'skip bias correction' },
    'empirical-bias-correction': {
      type: 'boolean',
      description: "also cancel each layer's measured mean output error on the calibration samples (one run per layer)",
    },
    'no-unify-add': { type: 'boolean', description: 'let the two inputs of an Add keep their own scales' },
    'fp32-layer': { type: 'string', multiple: true, description: 'keep this layer (node name) in fp32 (repeatable)' },
    sensitivity: { type: 'boolean', description: 'print the per-layer sensitivity table' },
    'sensitivity-samples': { type: 'number', description: 'samples for the sensitivity table (default 2)' },
    'accuracy-budget': {
      type: 'number',
      description: 'max top-1 loss in points; keeps layers fp32 until met (needs --eval; see --mixed-order)',
    },
    eval: { type: 'string', description: `evaluation dataset for the budget: ${DATASETS.join(', ')}` },
    'eval-limit': { type: 'number', description: 'evaluation images for the budget (default 2000)' },
    'min-cosine': {
      type: 'number',
      description: 'keep layers fp32 until the output cosine vs fp32 on calibration samples reaches this',
    },
    'mixed-order': {
      type: 'string',
      description: `which layers mixed precision keeps fp32 first: ${MIXED_PRECISION_ORDERS.join(', ')} (default cheapest: both orders, fewest fp32 MACs)`,
    },
    engine: { type: 'string', description: `engine for measurements: ${ENGINES.join(', ')} (default reference)` },
    layers: { type: 'boolean', description: 'print the per-layer table' },
    'input-shape': {
      type: 'string',
      multiple: true,
      description: 'NAME=1x3x48x192: fix a symbolic input shape (repeatable)',
    },
    report: { type: 'string', description: 'write a JSON report (layers, sensitivity, mixed-precision steps, notes)' },
    'keep-names': {
      type: 'boolean',
      description: 'keep intermediate tensor names (default: short ids; node names and model inputs/outputs are kept)',
    },
  },
  async run(positionals, flags) {
    const rest = [...positionals];
    let output = flagString(flags, 'output');
    const o = rest.indexOf('-o');
    if (o >= 0) {
      output = rest[o + 1];
      if (output === undefined) throw new EdgecnnError('-o needs a file name', 'bad-argument');
      rest.splice(o, 2);
    }
    if (rest.length !== 1)
      throw new EdgecnnError(`quantize needs exactly one model file, got ${rest.length}`, 'bad-argument');
    if (!output) throw new EdgecnnError('quantize needs an output file: -o <out.onnx>', 'bad-argument');
    const format = flagString(flags, 'format') ?? 'qdq';
    if (format !== 'qdq' && format !== 'qoperator')
      throw new EdgecnnError(`--format must be qdq or qoperator, got ${format}`, 'bad-argument');
    // A model that is already QDQ (another tool's) is only converted: no calibration.
    const given = await loadModel(rest[0]!);
    const qoperator = readQdqParams(given).qoperatorNodes;
    if (qoperator.length > 0)
      throw new EdgecnnError(
        `${rest[0]} is already quantized (QOperator: ${qoperator[0]!.opType} '${qoperator[0]!.name}', ...)`,
        'bad-argument',
      );
    if (readQdqParams(given).params.some((p) => p.constant)) {
      if (format !== 'qoperator')
        throw new EdgecnnError(
          `${rest[0]} is already quantized (QDQ); use --format qoperator to convert it`,
          'bad-argument',
        );
      const { model, converted } = qdqToQOperator(given);
      await saveModel(flagBool(flags, 'keep-names') ? model : { ...model, graph: compactNames(model.graph) }, output);
      const ops = Object.entries(converted).map(([op, k]) => `${op} ${k}`);
      console.log(`wrote ${output}: QOperator ${ops.join(', ') || '(no pattern converted)'}; the rest stays QDQ`);
      return 0;
    }
    const source = flagString(flags, 'calibration');
    if (!source)
      throw new EdgecnnError(
        'quantize needs --calibration <folder | file.npy | synthetic[:N] | fashion-mnist[:N]>',
        'bad-argument',
      );
    const act = flagString(flags, 'activations') ?? 'uint8';
    if (!(ACTIVATION_TYPES as readonly string[]).includes(act))
      throw new EdgecnnError(`--activations must be uint8 or int8, got ${act}`, 'bad-argument');
    if (flagBool(flags, 'per-channel') && flagBool(flags, 'per-tensor'))
      throw new EdgecnnError('--per-channel and --per-tensor exclude each other', 'bad-argument');
    const budget = flagNumber(flags, 'accuracy-budget');
    const evalSet = flagString(flags, 'eval');
    if (budget !== undefined && evalSet === undefined)
      throw new EdgecnnError('--accuracy-budget needs --eval <dataset>', 'bad-argument');
    const evalData = evalSet === undefined ? undefined : parseDataset(evalSet, 'eval');
    if (budget !== undefined && !(budget >= 0))
      throw new EdgecnnError(`--accuracy-budget must be >= 0, got ${budget}`, 'bad-argument');
    const engine = parseEngine(flagString(flags, 'engine'), 'reference');
    const options: QuantizeOptions = {
      method: parseMethod(flagString(flags, 'method') ?? 'mse'),
      perChannel: !flagBool(flags, 'per-tensor'),
      activations: act as ActivationType,
      biasCorrection: !flagBool(flags, 'no-bias-correction'),
      unifyAddScales: !flagBool(flags, 'no-unify-add'),
      fp32Layers: flagList(flags, 'fp32-layer'),
    };
    const pct = flagNumber(flags, 'percentile');
    if (pct !== undefined) options.percentile = pct;

    const modelPath = rest[0]!;
    const inputShapes = parseInputShapes(flags.flags.get('input-shape'));
    // Fold BatchNorm/constants (and fix symbolic input dims) first, so that samples take the final input shape.
    const model = prepareFloatModel(given, inputShapes);
    const limit = flagNumber(flags, 'calibration-limit');
    const samples = loadCalibrationSamples(model, source, limit !== undefined ? { limit } : {});
    const cal = await calibrateModel(model, samples, {
      prepared: true,
      onProgress: progressBar(
        `calibrating on ${samples.length} sample(s) (${engine === 'onnxruntime' ? 'onnxruntime' : 'reference'})`,
      ),
      ...(engine === 'onnxruntime' ? { collector: onnxruntimeCollector } : {}),
    });
    if (flagBool(flags, 'empirical-bias-correction')) {
      options.biasOffsets = await empiricalBiasCorrection(cal, samples, {
        ...options,
        onProgress: progressBar(
          `empirical bias correction (${engine === 'onnxruntime' ? 'onnxruntime' : 'reference'})`,
        ),
        ...(engine === 'onnxruntime' ? { collector: onnxruntimeCollector } : {}),
      });
    }
    let result = buildQdqModel(cal, options);
    const factory = RUNNERS[engine];

    const minCosine = flagNumber(flags, 'min-cosine');
    if (minCosine !== undefined && !(minCosine > 0 && minCosine <= 1))
      throw new EdgecnnError(`--min-cosine must be in (0, 1], got ${minCosine}`, 'bad-argument');
    if (minCosine !== undefined && budget !== undefined)
      throw new EdgecnnError('--min-cosine and --accuracy-budget exclude each other', 'bad-argument');
    const order = (flagString(flags, 'mixed-order') ?? 'cheapest') as MixedPrecisionOrder;
    if (!MIXED_PRECISION_ORDERS.includes(order))
      throw new EdgecnnError(
        `--mixed-order '${order}': expected one of ${MIXED_PRECISION_ORDERS.join(', ')}`,
        'bad-argument',
      );
    const wantSensitivity =
      flagBool(flags, 'sensitivity') || ((budget !== undefined || minCosine !== undefined) && order !== 'depth');
    let ranked: Awaited<ReturnType<typeof layerSensitivity>> = [];
    let mixed: Awaited<ReturnType<typeof fitAccuracyBudget>> | undefined;
    if (wantSensitivity) {
      const n = flagNumber(flags, 'sensitivity-samples') ?? 2;
      ranked = await layerSensitivity(cal, samples.slice(0, n), {
        ...options,
        runner: factory,
        onProgress: progressBar(`sensitivity (${engine})`),
      });
      console.log(
        `\nsensitivity: output SQNR vs fp32 with only that layer int8 (${Math.min(n, samples.length)} calibration sample(s), engine ${engine})\n${formatSensitivityTable(ranked)}\n`,
      );
    }
    if (budget !== undefined) {
      const data = fashionMnistTestSet(cal.model, evalData);
      const evalLimit = flagNumber(flags, 'eval-limit') ?? 2000;
      const batch = modelBatch(cal.model, 100);
      const evaluate = async (m: typeof model): Promise<number> =>
        (await evaluateTop1(await factory(m), data, { limit: evalLimit, batch })).top1;
      const mp = await fitAccuracyBudget(cal, ranked, budget, evaluate, {
        ...options,
        order,
        onStep: (s) => console.error(`  fp32 layers: ${s.fp32Layers.length}, top-1 ${s.accuracy.toFixed(2)}%`),
      });
      result = mp.result;
      mixed = mp;
      console.log(
        `mixed precision on the first ${evalLimit} images of ${evalSet} (engine ${engine}):\n${formatMixedPrecision(mp, budget)}\n`,
      );
    }
    if (minCosine !== undefined) {
      const n = flagNumber(flags, 'sensitivity-samples') ?? 2;
      const mp = await fitCosineBudget(cal, ranked, samples.slice(0, n), minCosine, {
        ...options,
        order,
        runner: factory,
        onStep: (s) => console.error(`  fp32 layers: ${s.fp32Layers.length}, cosine ${(s.accuracy / 100).toFixed(5)}`),
      });
      result = mp.result;
      mixed = mp;
      console.log(
        `mixed precision for output cosine >= ${minCosine} on ${Math.min(n, samples.length)} calibration sample(s): cosine ${(mp.accuracy / 100).toFixed(5)} ` +
          `(${mp.withinBudget ? 'met' : 'NOT met'}) with ${mp.kept.length} layer(s) fp32` +
          (mp.kept.length > 0 ? ':\n' + mp.kept.map((k) => `  ${k.layer}: ${k.reason}`).join('\n') : '') +
          '\n' +
          formatMixedSearches(mp, (c) => `cosine ${(c / 100).toFixed(5)}`) +
          '\n',
      );
    }
    const exported = format === 'qoperator' ? qdqToQOperator(result.model) : undefined;
    const built = exported?.model ?? result.model;
    const written = flagBool(flags, 'keep-names') ? built : { ...built, graph: compactNames(built.graph) };
    await saveModel(written, output);
    const fp32Run = await factory(cal.model);
    const qRun = await factory(written);
    const a = agreement(await fp32Run(samples[0]!), await qRun(samples[0]!));
    const quantized = result.layers.filter((l) => l.quantized).length;
    const inSize = statSync(modelPath).size;
    const outSize = statSync(output).size;
    if (flagBool(flags, 'layers')) console.log(formatLayerTable(result.layers) + '\n');
    for (const n of result.notes) console.log(`note: ${n}`);
    if (exported) {
      const ops = Object.entries(exported.converted).map(([op, k]) => `${op} ${k}`);
      console.log(`QOperator: ${ops.join(', ') || 'no pattern converted'}; the rest stays QDQ`);
    }
    const reportPath = flagString(flags, 'report');
    if (reportPath) {
      const json = {
        model: modelPath,
        output,
        format,
        ...(exported ? { qoperator: exported.converted } : {}),
        options: {
          ...options,
          fp32Layers: [...(options.fp32Layers ?? [])],
          biasOffsets: options.biasOffsets ? 'empirical' : undefined,
        },
        calibration: { source, samples: samples.length },
        layers: result.layers,
        sensitivity: ranked,
        mixedPrecision: mixed && {
          floatMetric: mixed.floatAccuracy,
          metric: mixed.accuracy,
          withinBudget: mixed.withinBudget,
          order: mixed.order,
          fp32Macs: mixed.fp32Macs,
          searches: mixed.searches,
          steps: mixed.steps,
          keptFp32: mixed.kept,
        },
        notes: result.notes,
        agreementOnCalibrationSample: a,
        sizeBytes: { input: inSize, output: outSize },
      };
      await writeFile(
        reportPath,
        JSON.stringify(json, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2),
      );
    }
    console.log(
      `wrote ${output}: ${quantized}/${result.layers.length} layers int8 (${options.method}, ${options.perChannel ? 'per-channel' : 'per-tensor'} weights, ${act} activations), ` +
        `${outSize} bytes (${((100 * outSize) / inSize).toFixed(1)}% of ${inSize}); on calibration sample 1: cosine ${a.cosine.toFixed(6)}, SQNR ${a.sqnrDb.toFixed(1)} dB vs fp32`,
    );
    return 0;
  },
};
