/**
 * `edgecnn bench`: latency distribution, cold start and memory of edgecnn against onnxruntime, each
 * configuration in its own process, interleaved; optional contention run, JSON/HTML reports, and a CI gate
 * against a baseline report (exit 1 only on a significant regression or output drift beyond the limit).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { assertComparable, gate, readBaseline } from '../bench/baseline.js';
import { type BenchModelOptions, benchModel } from '../bench/bench-model.js';
import { environment, modelHash } from '../bench/environment.js';
import { formatReportText, toReadableJson } from '../bench/format.js';
import { createProgress } from '../bench/progress.js';
import type { BenchReport } from '../bench/harness.js';
import { EdgecnnError } from '../ir/errors.js';
import { aggregateProfile } from '../profile/aggregate.js';
import { renderHtmlReport } from '../profile/report-html.js';
import { flagBool, flagList, flagNumber, flagString, type ParsedArgs } from './args.js';
import type { Command } from './command.js';

/** '5%' -> 0.05, '0.05' -> 0.05 (a bare number above 1 is read as a percentage). */
export function parseFraction(text: string, flag: string): number {
  const pctSign = text.endsWith('%');
  const v = Number(pctSign ? text.slice(0, -1) : text);
  if (!Number.isFinite(v) || v < 0)
    throw new EdgecnnError(`--${flag} needs a non-negative number or percentage, got '${text}'`, 'bad-argument');
  return pctSign || v > 1 ? v / 100 : v;
}

function positiveInt(p: ParsedArgs, name: string): number | undefined {
  const v = flagNumber(p, name);
  if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
    throw new EdgecnnError(`--${name} needs a whole number, got ${flagString(p, name)}`, 'bad-argument');
  }
  return v;
}

function tuneFrom(p: ParsedArgs): BenchModelOptions['tune'] {
  const budgetMs = flagNumber(p, 'budget-ms');
  const dbPath = flagString(p, 'tuning-db');
  if (!flagBool(p, 'tune')) {
    if (budgetMs !== undefined || dbPath !== undefined) {
      throw new EdgecnnError('--budget-ms and --tuning-db need --tune', 'bad-argument');
    }
    return undefined;
  }
  if (budgetMs !== undefined && !(budgetMs >= 0)) {
    throw new EdgecnnError(
      `--budget-ms needs a non-negative number, got ${flagString(p, 'budget-ms')}`,
      'bad-argument',
    );
  }
  return { ...(budgetMs !== undefined ? { budgetMs } : {}), ...(dbPath !== undefined ? { dbPath } : {}) };
}

export const command: Command = {
  name: 'bench',
  synopsis: '<model.onnx> [--backend wasm,reference] [--vs ort-web,ort-node] [--threads 1,2] [--runs N | --min-time S]',
  summary: 'Measure latency distribution, cold start and memory against onnxruntime; CI regression gate',
  flags: {
    backend: {
      type: 'string',
      multiple: true,
      description: 'edgecnn backends to measure: wasm, reference (default wasm)',
    },
    vs: { type: 'string', multiple: true, description: 'peers: ort-web, ort-node, none (default ort-web,ort-node)' },
    threads: { type: 'string', multiple: true, description: 'thread counts, e.g. 1,2 (default 1)' },
    runs: { type: 'number', description: 'timed runs per configuration (default 50)' },
    'min-time': { type: 'number', description: 'instead of --runs: seconds of samples per configuration' },
    warmup: { type: 'number', description: 'warm-up runs per configuration (default 5)' },
    'under-load': { type: 'number', description: 'repeat the measurement with N busy background threads' },
    'relaxed-simd': { type: 'boolean', description: 'enable relaxed SIMD in the measured processes (V8 flag)' },
    'input-shape': {
      type: 'string',
      multiple: true,
      description: 'input shape for symbolic dims: 1x3x640x640 or name=1x3x640x640',
    },
    input: { type: 'string', description: 'input file (.f32/.npy/image); default: <model>.input.f32 or seeded random' },
    json: { type: 'string', description: "write the full report as JSON ('-' = stdout, nothing else printed)" },
    html: { type: 'string', description: 'write a self-contained HTML report with charts' },
    'profile-runs': { type: 'number', description: 'profiled runs for the HTML report (default 10 with --html)' },
    baseline: { type: 'string', description: 'a previous --json report to compare against' },
    'max-regression': { type: 'string', description: 'fail when slower than the baseline by more than this (e.g. 5%)' },
    'max-drift': { type: 'number', description: 'fail when outputs differ from the baseline by more than this' },
    'normalize-by': {
      type: 'string',
      description: 'cancel machine drift: scale by the change of this configuration (e.g. ort-node/t1)',
    },
    confidence: { type: 'number', description: 'confidence of the regression test (default 0.99)' },
    tune: {
      type: 'boolean',
      description: 'tune kernels here first and add edgecnn-wasm-tuned beside edgecnn-wasm (same run, interleaved)',
    },
    'budget-ms': { type: 'number', description: 'with --tune: time budget for measuring, ms (default 5000)' },
    'tuning-db': { type: 'string', description: 'with --tune: tuning database file (default: the user cache)' },
  },
  async run(positionals, p) {
    const modelPath = positionals[0];
    if (!modelPath || positionals.length > 1) {
      throw new EdgecnnError('bench needs exactly one model file (see edgecnn bench --help)', 'bad-argument');
    }
    const jsonOut = flagString(p, 'json');
    const htmlOut = flagString(p, 'html');
    const quiet = jsonOut === '-';
    const maxRegressionText = flagString(p, 'max-regression');
    const maxDrift = flagNumber(p, 'max-drift');
    const baselinePath = flagString(p, 'baseline');
    if ((maxRegressionText !== undefined || maxDrift !== undefined) && !baselinePath) {
      throw new EdgecnnError('--max-regression and --max-drift need --baseline FILE', 'bad-argument');
    }
    const confidence = flagNumber(p, 'confidence');
    if (confidence !== undefined && !(confidence > 0.5 && confidence < 1)) {
      throw new EdgecnnError(`--confidence must be between 0.5 and 1, got ${confidence}`, 'bad-argument');
    }
    // Refuse a foreign baseline before spending minutes measuring.
    let baseline: BenchReport | undefined;
    if (baselinePath) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(modelPath));
      } catch {
        throw new EdgecnnError(`model file '${modelPath}' does not exist`, 'missing-file');
      }
      const sha256 = modelHash(bytes);
      baseline = readBaseline(baselinePath, sha256);
      assertComparable({ model: { name: basename(modelPath), sha256 }, environment: environment() }, baseline);
      const norm = flagString(p, 'normalize-by');
      if (norm !== undefined && !baseline.configs.some((c) => c.id === norm && c.status === 'ok')) {
        throw new EdgecnnError(
          `--normalize-by ${norm}: the baseline has no measured configuration '${norm}'`,
          'bad-argument',
        );
      }
    }
    const threads = flagList(p, 'threads').map(Number);
    const profileRuns = positiveInt(p, 'profile-runs') ?? (htmlOut ? 10 : 0);
    const progress = createProgress(process.stderr, quiet);
    const report = await benchModel(modelPath, {
      backends: flagList(p, 'backend').length ? flagList(p, 'backend') : undefined,
      peers: flagList(p, 'vs').length ? flagList(p, 'vs') : undefined,
      threads: threads.length ? threads : undefined,
      runs: positiveInt(p, 'runs'),
      minTimeS: flagNumber(p, 'min-time'),
      warmup: positiveInt(p, 'warmup'),
      underLoad: positiveInt(p, 'under-load'),
      inputFile: flagString(p, 'input'),
      shapes: flagList(p, 'input-shape'),
      profileRuns,
      progress,
      relaxedSimd: flagBool(p, 'relaxed-simd'),
      tune: tuneFrom(p),
    });
    let exit = 0;
    const gateLines: string[] = [];
    if (baseline) {
      const g = gate(report, baseline, {
        maxRegression: maxRegressionText === undefined ? undefined : parseFraction(maxRegressionText, 'max-regression'),
        maxDrift,
        confidence,
        normalizeBy: flagString(p, 'normalize-by'),
      });
      gateLines.push(...g.lines);
      if (!g.passed) exit = 1;
    }
    if (jsonOut) {
      const text = toReadableJson(report);
      if (jsonOut === '-') process.stdout.write(text + '\n');
      else writeFileSync(jsonOut, text + '\n');
    }
    if (htmlOut) {
      const profiled = report.configs.find((c) => c.profileRuns && c.profileRuns.length > 0);
      progress.note('measuring the roofline ceilings (compute peak, memory bandwidth)');
      const html = renderHtmlReport({
        title: `edgecnn bench: ${report.model.name}`,
        bench: report,
        profile: profiled ? { config: profiled.id, summary: aggregateProfile(profiled.profileRuns!) } : undefined,
        roof: (await import('../bench/roof.js')).measureRoof(),
      });
      writeFileSync(htmlOut, html);
    }
    if (!quiet) {
      console.log(formatReportText(report));
      if (jsonOut) console.log(`report: ${jsonOut}`);
      if (htmlOut) console.log(`html report: ${htmlOut}`);
      if (gateLines.length) console.log('\n' + gateLines.join('\n'));
    } else if (gateLines.length) {
      process.stderr.write(gateLines.join('\n') + '\n');
    }
    return exit;
  },
};
