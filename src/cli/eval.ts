/**
 * `edgecnn eval <model> --dataset fashion-mnist [--limit N] [--engine reference|wasm|onnxruntime]`: top-1 on
 * the 10,000 test images (or the first N). Engines: the reference executor (default; the oracle, slow), the
 * wasm session (edgecnn's compiled runtime; nodes without kernels fall back to the reference), or
 * onnxruntime-node when installed (a dev dependency: a fast independent check). This module also exports the
 * engine runner factories that `edgecnn quantize` uses for its measurements.
 */
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';
import { loadModel, writeModel } from '../onnx/index.js';
import { runtimeInputs } from '../ops/reference-executor.js';
import {
  FASHION_MNIST_CALIBRATION_IMAGES,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  imageBatch,
  loadFashionMnist,
} from '../datasets/fashion-mnist.js';
import { type LabelledSet, type RunnerFactory, evaluateTop1, referenceRunner } from '../quantize/evaluate.js';
import { type TensorCollector, progressBar } from '../quantize/calibrate.js';
import { flagNumber, flagString } from './args.js';
import type { Command } from './command.js';

export const ENGINES = ['reference', 'wasm', 'onnxruntime'] as const;
export type Engine = (typeof ENGINES)[number];
/**
 * `fashion-mnist`: the 10,000 test images. `fashion-mnist-val`: the last 10,000 training images, which
 * calibration never uses (fashion-mnist:N calibration samples the first 50,000), for tuning a budget without
 * looking at the test set.
 */
export const DATASETS = ['fashion-mnist', 'fashion-mnist-val'] as const;
export type Dataset = (typeof DATASETS)[number];

export function parseDataset(s: string | undefined, flag: string): Dataset {
  if (s === undefined || !(DATASETS as readonly string[]).includes(s)) {
    throw new EdgecnnError(`--${flag} must be one of ${DATASETS.join(', ')}, got ${s ?? 'nothing'}`, 'bad-argument');
  }
  return s as Dataset;
}

export function parseEngine(s: string | undefined, dflt: Engine): Engine {
  if (s === undefined) return dflt;
  if (!(ENGINES as readonly string[]).includes(s))
    throw new EdgecnnError(`unknown engine '${s}' (expected ${ENGINES.join(', ')})`, 'bad-argument');
  return s as Engine;
}

/**
 * The wasm session as a runner factory. Input shapes are fixed per batch size, so sessions are cached by shape.
 * The runtime is imported only when this engine is chosen.
 */
const wasmRunner: RunnerFactory = async (model) => {
  const { createSession } = await import('../runtime/session.js');
  const name = singleInput(model);
  const sessions = new Map<string, Awaited<ReturnType<typeof createSession>>>();
  return async (x) => {
    const key = x.shape.join('x');
    let s = sessions.get(key);
    if (!s) {
      s = await createSession(model, { backend: 'wasm', inputShapes: { [name]: [...x.shape] } });
      sessions.set(key, s);
    }
    const out = await s.run({ [name]: x });
    return out[s.outputNames[0]!]!;
  };
};

/** onnxruntime-node (one thread) as a runner factory; a clear error when it is not installed. */
const onnxruntimeRunner: RunnerFactory = async (model) => {
  let ort: typeof import('onnxruntime-node');
  try {
    ort = (await import('onnxruntime-node')) as typeof import('onnxruntime-node');
  } catch {
    throw new EdgecnnError(
      'engine onnxruntime needs the onnxruntime-node package (npm install onnxruntime-node)',
      'bad-argument',
    );
  }
  const name = singleInput(model);
  const session = await ort.InferenceSession.create(writeModel(model), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  return async (x) => {
    const out = await session.run({ [name]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
    const y = out[session.outputNames[0]!]!;
    return makeTensor('float32', y.dims as number[], Float32Array.from(y.data as Float32Array));
  };
};

/** onnxruntime-node returning intermediate tensors (made extra graph outputs) for fast calibration. */
export const onnxruntimeCollector: TensorCollector = async (model, names) => {
  const ort = (await import('onnxruntime-node').catch(() => {
    throw new EdgecnnError(
      'engine onnxruntime needs the onnxruntime-node package (npm install onnxruntime-node)',
      'bad-argument',
    );
  })) as typeof import('onnxruntime-node');
  const input = singleInput(model);
  const outputs = new Set(model.graph.outputs.map((o) => o.name));
  const extra = names.filter((n) => !outputs.has(n)).map((name) => ({ name, dtype: 'float32' as const }));
  const withOutputs: Model = {
    ...model,
    graph: { ...model.graph, outputs: [...model.graph.outputs, ...extra], valueInfo: new Map() },
  };
  const session = await ort.InferenceSession.create(writeModel(withOutputs), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  return async (x) => {
    const out = await session.run({ [input]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
    const got = new Map<string, Tensor>();
    for (const n of names) {
      const y = out[n];
      if (y) got.set(n, makeTensor('float32', y.dims as number[], Float32Array.from(y.data as Float32Array)));
    }
    return got;
  };
};

export const RUNNERS: Record<Engine, RunnerFactory> = {
  reference: referenceRunner,
  wasm: wasmRunner,
  onnxruntime: onnxruntimeRunner,
};

function singleInput(model: Model): string {
  const inputs = runtimeInputs(model.graph);
  if (inputs.length !== 1)
    throw new EdgecnnError(`expected a model with one input, this one has ${inputs.length}`, 'bad-model');
  return inputs[0]!.name;
}

/** The largest batch the model accepts: its declared batch when fixed, `want` when symbolic. */
export function modelBatch(model: Model, want: number): number {
  const name = singleInput(model);
  const d = model.graph.inputs.find((i) => i.name === name)?.shape?.[0];
  return typeof d === 'number' ? d : want;
}

/** A Fashion-MNIST split as a labelled set (default the test split), after checking the model's input fits it. */
export function fashionMnistTestSet(model: Model, dataset: Dataset = 'fashion-mnist'): LabelledSet {
  const name = singleInput(model);
  const shape = model.graph.inputs.find((i) => i.name === name)?.shape;
  if (!shape || shape.length !== 4 || shape[1] !== 1 || shape[2] !== 28 || shape[3] !== 28) {
    throw new EdgecnnError(
      `fashion-mnist needs a model input of shape Nx1x28x28, got ${shape?.map((d) => d ?? '?').join('x') ?? 'unknown'}`,
      'bad-input',
    );
  }
  if (dataset === 'fashion-mnist-val') {
    const tr = loadFashionMnist('train');
    const first = FASHION_MNIST_CALIBRATION_IMAGES;
    return {
      count: tr.count - first,
      labels: tr.labels.subarray(first),
      batch: (s, n) => imageBatch(tr, first + s, n),
    };
  }
  const ds = loadFashionMnist('test');
  return { count: ds.count, labels: ds.labels, batch: (s, n) => imageBatch(ds, s, n) };
}

export const command: Command = {
  name: 'eval',
  synopsis: '<model.onnx> --dataset fashion-mnist [--limit N] [--engine reference|wasm|onnxruntime] [--batch N]',
  summary: 'Top-1 accuracy of a classifier on a dataset (Fashion-MNIST test images)',
  flags: {
    dataset: { type: 'string', description: `dataset: ${DATASETS.join(', ')}` },
    limit: { type: 'number', description: 'evaluate the first N test images (default all 10,000)' },
    engine: { type: 'string', description: `engine: ${ENGINES.join(', ')} (default reference)` },
    batch: { type: 'number', description: 'images per run when the model batch is symbolic (default 100)' },
  },
  async run(positionals, flags) {
    if (positionals.length !== 1)
      throw new EdgecnnError(`eval needs exactly one model file, got ${positionals.length}`, 'bad-argument');
    const dataset = parseDataset(flagString(flags, 'dataset'), 'dataset');
    const limit = flagNumber(flags, 'limit');
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
      throw new EdgecnnError(`--limit must be a positive integer, got ${limit}`, 'bad-argument');
    const engine = parseEngine(flagString(flags, 'engine'), 'reference');
    const model = await loadModel(positionals[0]!);
    const data = fashionMnistTestSet(model, dataset);
    const batch = modelBatch(model, flagNumber(flags, 'batch') ?? 100);
    const run = await RUNNERS[engine](model);
    const start = Date.now();
    const r = await evaluateTop1(run, data, {
      ...(limit !== undefined ? { limit } : {}),
      batch,
      onProgress: progressBar('eval'),
    });
    console.log(
      `${positionals[0]}: top-1 ${r.top1.toFixed(2)}% (${r.correct}/${r.total} Fashion-MNIST ${dataset === 'fashion-mnist' ? 'test' : 'held-out training'} images, engine ${engine}, ` +
        `${((Date.now() - start) / 1000).toFixed(1)} s; input normalised as (p/255 - ${FASHION_MNIST_MEAN}) / ${FASHION_MNIST_STD})`,
    );
    return 0;
  },
};
