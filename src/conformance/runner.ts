/**
 * Runs ONNX conformance test folders on the reference executor: `<test>/model.onnx` with
 * `test_data_set_N/{input_K,output_K}.pb`, and the `light/` layout (`light_<name>.onnx` +
 * `light_<name>_output_0.pb`, input = arange(prod(s)).reshape(s) / prod(s)). Each test ends as pass, fail or
 * unsupported (an operator or element type edgecnn does not implement), compared with ONNX's tolerances.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { type Tensor, makeTensor, sizeOf } from '../ir/tensor.js';
import { readModel, readTensorProto } from '../onnx/index.js';
import { runReference, runtimeInputs, unsupportedNodes } from '../ops/reference-executor.js';
import { ONNX_TOLERANCE, type Tolerance, compareTensors } from './compare.js';

export const OUTCOMES = ['pass', 'fail', 'unsupported'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface ConformanceTest {
  /** Folder the test belongs to (node, pytorch-converted, light, ...). */
  suite: string;
  name: string;
  /** model.onnx path */
  modelPath: string;
  /** For the light layout: the expected output file. */
  lightOutput?: string;
}

export interface TestResult {
  suite: string;
  name: string;
  outcome: Outcome;
  detail?: string;
  timeMs: number;
}

/** Per-test tolerance overrides, as in ONNX's own runner. */
const TOLERANCE_OVERRIDES: Record<string, Tolerance> = {
  light_densenet121: { rtol: 2e-3, atol: 1e-7 },
};

/** Find tests below `dir`: a test folder itself, a folder of test folders, a light folder, or a root of suites. */
export function listTests(dir: string, suite = basename(dir)): ConformanceTest[] {
  if (!existsSync(dir)) throw new EdgecnnError(`conformance folder '${dir}' does not exist`, 'missing-file');
  if (existsSync(join(dir, 'model.onnx'))) {
    return [{ suite, name: basename(dir), modelPath: join(dir, 'model.onnx') }];
  }
  const entries = readdirSync(dir).sort();
  const tests: ConformanceTest[] = [];
  for (const e of entries) {
    const m = /^(light_.+)\.onnx$/.exec(e);
    if (m && existsSync(join(dir, `${m[1]}_output_0.pb`))) {
      tests.push({ suite, name: m[1]!, modelPath: join(dir, e), lightOutput: join(dir, `${m[1]}_output_0.pb`) });
    }
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (!statSync(p).isDirectory()) continue;
    if (existsSync(join(p, 'model.onnx'))) tests.push({ suite, name: e, modelPath: join(p, 'model.onnx') });
    else tests.push(...listTests(p, e));
  }
  return tests;
}

function readPb(path: string): Tensor {
  return readTensorProto(new Uint8Array(readFileSync(path))).tensor;
}

function lightInput(model: Model): Record<string, Tensor> {
  const inputs: Record<string, Tensor> = {};
  for (const vi of runtimeInputs(model.graph)) {
    const shape = (model.graph.inputs.find((i) => i.name === vi.name)?.shape ?? []).map((d) =>
      typeof d === 'number' ? d : 1,
    );
    const n = sizeOf(shape);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = i / n;
    inputs[vi.name] = makeTensor('float32', shape, data);
  }
  return inputs;
}

function isUnsupported(e: unknown): boolean {
  if (e instanceof EdgecnnError && e.code === 'unsupported-operator') return true;
  return e instanceof Error && /unsupported|not supported/i.test(e.message);
}

/** Run one test; never throws (errors become a failing or unsupported outcome). */
export function runTest(test: ConformanceTest): TestResult {
  const t0 = performance.now();
  const done = (outcome: Outcome, detail?: string): TestResult => ({
    suite: test.suite,
    name: test.name,
    outcome,
    detail,
    timeMs: performance.now() - t0,
  });
  let model: Model;
  try {
    model = readModel(new Uint8Array(readFileSync(test.modelPath)));
  } catch (e) {
    return done(isUnsupported(e) ? 'unsupported' : 'fail', `reading model: ${(e as Error).message}`);
  }
  const missing = unsupportedNodes(model.graph);
  if (missing.length > 0) {
    const ops = [...new Set(missing.map((n) => (n.domain ? n.domain + ':' : '') + n.opType))].join(', ');
    return done('unsupported', `operators: ${ops}`);
  }
  const tol = TOLERANCE_OVERRIDES[test.name] ?? ONNX_TOLERANCE;
  const dataSets: { inputs: Record<string, Tensor>; expected: Tensor[] }[] = [];
  try {
    if (test.lightOutput) {
      dataSets.push({ inputs: lightInput(model), expected: [readPb(test.lightOutput)] });
    } else {
      const dir = join(test.modelPath, '..');
      const sets = readdirSync(dir)
        .filter((d) => d.startsWith('test_data_set_'))
        .sort();
      const names = runtimeInputs(model.graph).map((i) => i.name);
      for (const s of sets) {
        const files = readdirSync(join(dir, s));
        const inputs: Record<string, Tensor> = {};
        files
          .filter((f) => /^input_\d+\.pb$/.test(f))
          .map((f) => Number(/\d+/.exec(f)![0]))
          .sort((a, b) => a - b)
          .forEach((k) => {
            const name = names[k];
            if (name !== undefined) inputs[name] = readPb(join(dir, s, `input_${k}.pb`));
          });
        const expected = files
          .filter((f) => /^output_\d+\.pb$/.test(f))
          .map((f) => Number(/\d+/.exec(f)![0]))
          .sort((a, b) => a - b)
          .map((k) => readPb(join(dir, s, `output_${k}.pb`)));
        dataSets.push({ inputs, expected });
      }
    }
  } catch (e) {
    return done(isUnsupported(e) ? 'unsupported' : 'fail', `reading test data: ${(e as Error).message}`);
  }
  if (dataSets.length === 0) return done('fail', 'no test_data_set_* folder');
  for (const [k, ds] of dataSets.entries()) {
    let out: Record<string, Tensor>;
    try {
      out = runReference(model, ds.inputs);
    } catch (e) {
      return done(isUnsupported(e) ? 'unsupported' : 'fail', `data set ${k}: ${(e as Error).message}`);
    }
    for (const [i, exp] of ds.expected.entries()) {
      const name = model.graph.outputs[i]?.name;
      const act = name === undefined ? undefined : out[name];
      if (!act) return done('fail', `data set ${k}: output ${i} missing`);
      const why = compareTensors(act, exp, tol);
      if (why) return done('fail', `data set ${k}, output '${name}': ${why}`);
    }
  }
  return done('pass');
}

export interface Counts {
  pass: number;
  fail: number;
  unsupported: number;
}

export function countOutcomes(results: readonly TestResult[]): Counts {
  const c: Counts = { pass: 0, fail: 0, unsupported: 0 };
  for (const r of results) c[r.outcome]++;
  return c;
}
